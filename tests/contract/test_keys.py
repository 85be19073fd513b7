"""Storage contract: tenants and API keys."""

from __future__ import annotations

import pytest

from server.domain.api_keys import ApiKey, issue_key
from server.domain.errors import AlreadyExists
from server.domain.ports.keys import KeyStore
from tests.support.records import NOW, later


def new_key(tenant: str = "acme", description: str = "", created: int = 0) -> ApiKey:
    return issue_key(tenant, description, later(created)).record


async def test_created_key_reads_back_unchanged(store: KeyStore) -> None:
    """A created key is returned as stored, with no last use and not revoked."""
    key = new_key(description="billing service — prod")
    await store.create_key(key)
    assert await store.get_key(key.key_id) == key
    assert (key.last_used_at, key.revoked_at) == (None, None)


async def test_missing_key_reports_none(store: KeyStore) -> None:
    """Reading or revoking an unknown key id returns None; recording its use does nothing."""
    assert await store.get_key("aaaaaaaaaaaa") is None
    assert await store.revoke_key("aaaaaaaaaaaa", NOW) is None
    await store.record_key_use("aaaaaaaaaaaa", NOW)
    assert await store.list_keys(tenant=None) == []


async def test_taken_key_id_raises_already_exists(store: KeyStore) -> None:
    """A second key with a taken id is refused and the first stays."""
    first = new_key("acme")
    await store.create_key(first)
    with pytest.raises(AlreadyExists):
        await store.create_key(ApiKey(first.key_id, "other", "0" * 64, "", NOW))
    assert await store.get_key(first.key_id) == first


async def test_list_keys_oldest_first_and_by_tenant(store: KeyStore) -> None:
    """Keys are listed oldest first, all of them or one tenant's; a tenant is created with
    its first key and takes more."""
    acme_old = new_key("acme", created=1)
    other = new_key("other", created=2)
    acme_new = new_key("acme", created=3)
    for key in (acme_new, other, acme_old):
        await store.create_key(key)
    assert await store.list_keys(tenant=None) == [acme_old, other, acme_new]
    assert await store.list_keys(tenant="acme") == [acme_old, acme_new]
    assert await store.list_keys(tenant="nobody") == []


async def test_revoke_keeps_the_first_revocation_time(store: KeyStore) -> None:
    """Revoking sets revoked_at; revoking again changes nothing."""
    key = new_key()
    await store.create_key(key)
    revoked = await store.revoke_key(key.key_id, later(5))
    assert revoked is not None and revoked.revoked_at == later(5)
    again = await store.revoke_key(key.key_id, later(9))
    assert again == revoked == await store.get_key(key.key_id)


async def test_record_key_use_only_moves_forward(store: KeyStore) -> None:
    """The last use is the latest recorded, whatever the order of the writes."""
    key = new_key()
    await store.create_key(key)
    await store.record_key_use(key.key_id, later(10))
    await store.record_key_use(key.key_id, later(4))
    stored = await store.get_key(key.key_id)
    assert stored is not None and stored.last_used_at == later(10)


async def test_keys_are_shared_by_stores_on_the_same_data(
    store: KeyStore, other_store: KeyStore
) -> None:
    """A key created or revoked through one store is seen through another (two servers)."""
    key = new_key()
    await store.create_key(key)
    assert await other_store.get_key(key.key_id) == key
    await other_store.revoke_key(key.key_id, later(1))
    stored = await store.get_key(key.key_id)
    assert stored is not None and stored.revoked_at == later(1)
