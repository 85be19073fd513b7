"""Who a call comes from: the ``authorization`` metadata checked against the key store.

Verified key records are cached in memory for ``cache_seconds``: a key revoked
through any server (or ``python -m server keys revoke``) stops working on every
server sharing the store at most ``cache_seconds`` later. Each key's last use is
written at most once per ``LAST_USE_RESOLUTION`` seconds, so a busy key does
not turn every call into a write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from server.domain.api_keys import ApiKey, parse_key
from server.domain.caller import Caller
from server.domain.clock import Clock, utc_now
from server.domain.errors import MemoriaError, Unauthenticated
from server.domain.ports.keys import KeyStore
from server.domain.tenancy import DEFAULT_TENANT

__all__ = ["LAST_USE_RESOLUTION", "Authenticator", "anonymous"]

log = logging.getLogger("memoria.auth")

LAST_USE_RESOLUTION = timedelta(seconds=60)
MAX_CACHED_KEYS = 10_000

_BEARER = "bearer "


async def anonymous(authorization: str | None) -> Caller:
    """The caller without authentication (``MEMORIA_AUTH=none``): the default tenant,
    whatever the metadata says."""
    return Caller(DEFAULT_TENANT)


@dataclass
class _Cached:
    record: ApiKey
    fetched_at: float  # monotonic seconds


class Authenticator:
    """Checks ``authorization: Bearer <key>`` metadata against the key store."""

    def __init__(
        self,
        keys: KeyStore,
        *,
        cache_seconds: float,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._cache: dict[str, _Cached] = {}

    async def authenticate(self, authorization: str | None) -> Caller:
        """The caller the metadata value ``authorization`` names.

        Raises ``Unauthenticated`` when it is missing, is not a well-formed bearer
        key, names no key (or the wrong secret), or a revoked key; ``Unavailable``
        when the store cannot be reached to check it.
        """
        if not authorization:
            raise Unauthenticated(
                "API_KEY_MISSING",
                "missing API key: send the metadata 'authorization: Bearer <key>'",
            )
        if authorization[: len(_BEARER)].lower() != _BEARER:
            raise Unauthenticated(
                "API_KEY_MALFORMED", "malformed authorization metadata: expected 'Bearer <key>'"
            )
        presented = parse_key(authorization[len(_BEARER) :].strip())
        record = await self._record(presented.key_id)
        if record is None or not record.matches(presented.secret):
            raise Unauthenticated("API_KEY_UNKNOWN", f"unknown API key (key id {presented.key_id})")
        if record.revoked_at is not None:
            raise Unauthenticated("API_KEY_REVOKED", f"revoked API key (key id {record.key_id})")
        await self._record_use(record)
        return Caller(record.tenant, record.key_id)

    async def _record(self, key_id: str) -> ApiKey | None:
        cached = self._cache.get(key_id)
        now = self._monotonic()
        if cached is not None and now - cached.fetched_at < self._cache_seconds:
            return cached.record
        record = await self._keys.get_key(key_id)
        self._cache.pop(key_id, None)
        if record is not None:
            if len(self._cache) >= MAX_CACHED_KEYS:  # drop the entry fetched longest ago
                del self._cache[next(iter(self._cache))]
            self._cache[key_id] = _Cached(record, now)
        return record

    async def _record_use(self, record: ApiKey) -> None:
        now = self._clock()
        if record.last_used_at is not None and now - record.last_used_at < LAST_USE_RESOLUTION:
            return
        cached = self._cache.get(record.key_id)
        if cached is not None:  # calls arriving while this write runs do not write again
            cached.record = replace(record, last_used_at=now)
        try:
            await self._keys.record_key_use(record.key_id, now)
        except MemoriaError as exc:  # the call goes on: last use is for operators only
            log.warning("could not record the use of key %s: %s", record.key_id, exc)
