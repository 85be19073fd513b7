"""The Authenticator: which key a call carries, and what is wrong with it when it fails."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import pytest

from server.domain.api_keys import ApiKey, issue_key, parse_key
from server.domain.authentication import Authenticator, anonymous
from server.domain.caller import Caller
from server.domain.errors import FieldViolation, InvalidArgument, Unauthenticated, Unavailable
from server.domain.ports.keys import KeyStore
from tests.support.records import NOW, later


class Ticker:
    """A monotonic clock and a wall clock that move only when told."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return later(self.seconds)


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def authenticator(store: KeyStore, ticker: Ticker) -> Authenticator:
    return Authenticator(store, cache_seconds=5, clock=ticker.now, monotonic=ticker.monotonic)


async def new_key(store: KeyStore, tenant: str = "acme") -> str:
    issued = issue_key(tenant, "test", NOW)
    await store.create_key(issued.record)
    return issued.key


def test_issued_keys_have_the_documented_form() -> None:
    """mk_, a 12-character id, _, a 52-character secret; never the same twice."""
    issued = issue_key("acme", "", NOW)
    parsed = parse_key(issued.key)
    assert issued.key == f"mk_{parsed.key_id}_{parsed.secret}"
    assert (len(parsed.key_id), len(parsed.secret)) == (12, 52)
    assert issued.record.key_id == parsed.key_id
    assert parsed.secret not in repr(issued.record)
    assert issued.record.matches(parsed.secret) and not issued.record.matches("x" * 52)
    assert issue_key("acme", "", NOW).key != issued.key


@pytest.mark.parametrize("tenant", ["", "a" * 65, "acme corp", "acme/prod", "é"])
def test_bad_tenant_names_are_refused(tenant: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        issue_key(tenant, "", NOW)
    assert raised.value.violations[0].field == "tenant"


def test_long_description_is_refused() -> None:
    with pytest.raises(InvalidArgument) as raised:
        issue_key("acme", "d" * 201, NOW)
    assert raised.value.violations == [FieldViolation("description", "at most 200 characters")]


async def test_a_valid_key_names_its_tenant(store: KeyStore, authenticator: Authenticator) -> None:
    key = await new_key(store, "acme")
    caller = await authenticator.authenticate(f"Bearer {key}")
    assert caller == Caller("acme", parse_key(key).key_id)
    assert await authenticator.authenticate(f"bearer {key}") == caller  # scheme is any case


async def test_anonymous_is_the_default_tenant() -> None:
    assert await anonymous(None) == Caller("default", None)
    assert await anonymous("Bearer whatever") == Caller("default", None)


@pytest.mark.parametrize(
    ("authorization", "reason", "message"),
    [
        (None, "API_KEY_MISSING", "missing API key"),
        ("", "API_KEY_MISSING", "missing API key"),
        ("Basic dXNlcjpwYXNz", "API_KEY_MALFORMED", "malformed authorization metadata"),
        ("Bearer mk_short_secret", "API_KEY_MALFORMED", "malformed API key"),
        ("Bearer " + "mk_" + "a" * 12 + "_" + "B" * 52, "API_KEY_MALFORMED", "malformed API key"),
        ("Bearer " + "mk_" + "a" * 12 + "_" + "b" * 52, "API_KEY_UNKNOWN", "unknown API key"),
    ],
)
async def test_refusals_say_why_without_the_key(
    authenticator: Authenticator, authorization: str | None, reason: str, message: str
) -> None:
    with pytest.raises(Unauthenticated) as raised:
        await authenticator.authenticate(authorization)
    assert raised.value.reason == reason
    assert str(raised.value).startswith(message)
    assert "b" * 52 not in str(raised.value) and "B" * 52 not in str(raised.value)


async def test_a_wrong_secret_is_an_unknown_key(
    store: KeyStore, authenticator: Authenticator
) -> None:
    """A real key id with another secret is refused as unknown, even once revoked."""
    key = await new_key(store)
    key_id = parse_key(key).key_id
    forged = f"Bearer mk_{key_id}_{'a' * 52}"
    with pytest.raises(Unauthenticated) as raised:
        await authenticator.authenticate(forged)
    assert (raised.value.reason, str(raised.value)) == (
        "API_KEY_UNKNOWN",
        f"unknown API key (key id {key_id})",
    )
    await store.revoke_key(key_id, NOW)
    with pytest.raises(Unauthenticated, match="unknown API key"):
        await authenticator.authenticate(forged)


async def test_revocation_takes_effect_within_the_cache_time(
    store: KeyStore, authenticator: Authenticator, ticker: Ticker
) -> None:
    """A key revoked in the store still works from the cache for under cache_seconds,
    and is refused as revoked from then on."""
    key = await new_key(store)
    key_id = parse_key(key).key_id
    await authenticator.authenticate(f"Bearer {key}")
    await store.revoke_key(key_id, NOW)
    ticker.seconds = 4.9
    assert (await authenticator.authenticate(f"Bearer {key}")).key_id == key_id
    ticker.seconds = 5.0
    with pytest.raises(Unauthenticated) as raised:
        await authenticator.authenticate(f"Bearer {key}")
    assert (raised.value.reason, str(raised.value)) == (
        "API_KEY_REVOKED",
        f"revoked API key (key id {key_id})",
    )


async def test_last_use_is_written_once_a_minute(
    store: KeyStore, authenticator: Authenticator, ticker: Ticker
) -> None:
    """The first use is recorded at once; later ones only a minute after the last write."""
    key = await new_key(store)
    key_id = parse_key(key).key_id

    async def last_used() -> datetime | None:
        stored = await store.get_key(key_id)
        assert stored is not None
        return stored.last_used_at

    await authenticator.authenticate(f"Bearer {key}")
    assert await last_used() == later(0)
    for seconds in (1, 30, 59.9):
        ticker.seconds = seconds
        await authenticator.authenticate(f"Bearer {key}")
    assert await last_used() == later(0)
    ticker.seconds = 60
    await authenticator.authenticate(f"Bearer {key}")
    assert await last_used() == later(60)


class FailingKeys:
    """A key store that cannot be reached; with a ``record``, one that only cannot be
    written."""

    def __init__(self, record: ApiKey | None = None) -> None:
        self.record = record

    async def get_key(self, key_id: str) -> ApiKey | None:
        if self.record is None:
            raise Unavailable("SQLite store unavailable: database is locked")
        return self.record

    async def record_key_use(self, key_id: str, now: datetime) -> None:
        raise Unavailable("SQLite store unavailable: database is locked")


async def test_an_unreachable_store_is_unavailable_not_unauthenticated() -> None:
    """A key that cannot be checked is not called unknown: the caller may retry."""
    authenticator = Authenticator(cast(KeyStore, FailingKeys()), cache_seconds=5)
    with pytest.raises(Unavailable, match="database is locked"):
        await authenticator.authenticate("Bearer mk_" + "a" * 12 + "_" + "b" * 52)


async def test_a_failed_last_use_write_does_not_fail_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    issued = issue_key("acme", "", NOW)
    authenticator = Authenticator(cast(KeyStore, FailingKeys(issued.record)), cache_seconds=5)
    assert (await authenticator.authenticate(f"Bearer {issued.key}")).tenant == "acme"
    assert f"could not record the use of key {issued.record.key_id}" in caplog.text
