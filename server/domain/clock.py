from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["Clock", "from_micros", "to_micros", "utc_now"]

Clock = Callable[[], datetime]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_micros(moment: datetime) -> int:
    """Exact microseconds since the epoch (no float rounding)."""
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    # Positional: timedelta's keyword path costs twice as much, and this runs for
    # every message a store read decodes.
    return _EPOCH + timedelta(0, 0, micros)
