import pytest

from server.domain.summary_worker import rest_after


@pytest.mark.parametrize(
    ("busy", "duty_cycle", "rest"),
    [(0.04, 0.5, 0.04), (0.04, 1.0, 0.0), (0.01, 0.25, 0.03), (0.0, 0.5, 0.0)],
)
def test_folding_rests_to_stay_within_its_duty_cycle(
    busy: float, duty_cycle: float, rest: float
) -> None:
    assert rest_after(busy, duty_cycle) == pytest.approx(rest)
    assert busy / (busy + rest_after(busy, duty_cycle) or 1) <= duty_cycle
