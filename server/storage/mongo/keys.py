"""Tenant and API key operations.

tenants   {_id: tenant, created_us}
api_keys  {_id: key_id, tenant, secret_hash, description, created_us,
           last_used_us?, revoked_us?}
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from server.domain.api_keys import ApiKey
from server.domain.clock import from_micros, to_micros
from server.domain.errors import AlreadyExists, decodes
from server.storage.mongo.documents import Document
from server.storage.mongo.schema import Collections

__all__ = ["create_key", "get_key", "list_keys", "record_key_use", "revoke_key"]

_OLDEST_FIRST = [("created_us", ASCENDING), ("_id", ASCENDING)]


async def create_key(collections: Collections, key: ApiKey) -> None:
    # DuplicateKeyError: another process created the tenant at the same moment.
    with contextlib.suppress(DuplicateKeyError):
        await collections.tenants.update_one(
            {"_id": key.tenant},
            {"$setOnInsert": {"created_us": to_micros(key.created_at)}},
            upsert=True,
        )
    try:
        await collections.api_keys.insert_one(
            {
                "_id": key.key_id,
                "tenant": key.tenant,
                "secret_hash": key.secret_hash,
                "description": key.description,
                "created_us": to_micros(key.created_at),
            }
        )
    except DuplicateKeyError as exc:
        raise AlreadyExists("API key", key.key_id) from exc


async def get_key(collections: Collections, key_id: str) -> ApiKey | None:
    document = await collections.api_keys.find_one({"_id": key_id})
    return None if document is None else _key_from_document(document)


async def list_keys(collections: Collections, tenant: str | None) -> list[ApiKey]:
    query = {} if tenant is None else {"tenant": tenant}
    cursor = collections.api_keys.find(query).sort(_OLDEST_FIRST)
    return [_key_from_document(document) async for document in cursor]


async def revoke_key(collections: Collections, key_id: str, now: datetime) -> ApiKey | None:
    await collections.api_keys.update_one(
        {"_id": key_id, "revoked_us": None}, {"$set": {"revoked_us": to_micros(now)}}
    )
    return await get_key(collections, key_id)


async def record_key_use(collections: Collections, key_id: str, now: datetime) -> None:
    await collections.api_keys.update_one(
        {"_id": key_id}, {"$max": {"last_used_us": to_micros(now)}}
    )


@decodes("API key")
def _key_from_document(document: Document) -> ApiKey:
    last_used, revoked = document.get("last_used_us"), document.get("revoked_us")
    return ApiKey(
        key_id=document["_id"],
        tenant=document["tenant"],
        secret_hash=document["secret_hash"],
        description=document["description"],
        created_at=from_micros(document["created_us"]),
        last_used_at=None if last_used is None else from_micros(last_used),
        revoked_at=None if revoked is None else from_micros(revoked),
    )
