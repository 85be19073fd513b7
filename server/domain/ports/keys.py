"""The key storage port: tenants and their API keys.

Keys are identified by ``key_id``; records cross the port as
``server.domain.api_keys.ApiKey`` and never hold a secret, only its hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from server.domain.api_keys import ApiKey

__all__ = ["KeyStore"]


class KeyStore(Protocol):
    async def create_key(self, key: ApiKey) -> None:
        """Stores a new key, creating its tenant when it does not exist yet.

        Raises ``AlreadyExists`` when the key id is taken.
        """

    async def get_key(self, key_id: str) -> ApiKey | None:
        """The key, revoked or not; None when no key has this id."""

    async def list_keys(self, *, tenant: str | None) -> list[ApiKey]:
        """Every key (of ``tenant`` when given), revoked ones included, oldest first
        (``created_at`` then ``key_id``)."""

    async def revoke_key(self, key_id: str, now: datetime) -> ApiKey | None:
        """Marks the key revoked at ``now``, or leaves it as it is when it is revoked
        already (the first revocation time stays). Returns the key afterwards; None
        when no key has this id."""

    async def record_key_use(self, key_id: str, now: datetime) -> None:
        """Sets the key's last use to ``now`` unless a later use is recorded already.
        Does nothing for an unknown key id."""
