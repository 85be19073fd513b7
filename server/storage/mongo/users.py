"""User operations."""

from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from server.domain.clock import to_micros
from server.domain.errors import AlreadyExists
from server.domain.models import User, UserPatch, patch_changes
from server.domain.ports.store import ListCursor
from server.storage.mongo.documents import update_fields, user_document, user_from_document
from server.storage.mongo.listing import NEWEST_FIRST, after_cursor
from server.storage.mongo.schema import Collections

__all__ = ["create_user", "delete_user", "get_user", "list_users", "update_user"]


async def create_user(collections: Collections, user: User) -> User:
    try:
        await collections.users.insert_one(user_document(user))
    except DuplicateKeyError as exc:  # on _id: the only unique key of users
        raise AlreadyExists("user", user.user_id) from exc
    return user


async def get_user(collections: Collections, user_id: str) -> User | None:
    document = await collections.users.find_one({"_id": user_id})
    return None if document is None else user_from_document(document)


async def update_user(
    collections: Collections, user_id: str, patch: UserPatch, now: datetime
) -> User | None:
    fields = update_fields(patch_changes(patch), to_micros(now))
    document = await collections.users.find_one_and_update(
        {"_id": user_id}, {"$set": fields}, return_document=ReturnDocument.AFTER
    )
    return None if document is None else user_from_document(document)


async def delete_user(collections: Collections, user_id: str) -> bool:
    deleted = await collections.users.delete_one({"_id": user_id})
    return deleted.deleted_count > 0


async def list_users(
    collections: Collections, tenant: str, after: ListCursor | None, limit: int
) -> list[User]:
    query = {"tenant": tenant, **({} if after is None else after_cursor(after))}
    cursor = collections.users.find(query).sort(NEWEST_FIRST).limit(limit)
    return [user_from_document(document) async for document in cursor]
