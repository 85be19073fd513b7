"""Summarization leases: which process may fold a session's summary, until when.

A session's lease is a series of terms, one document each, and the unique
index on (session_id, term) guards a take-over: of the processes that find the
newest term free (expired or released) and insert the next one, exactly one
succeeds. Updates cannot be the guard, as FerretDB's SQLite backend does not
run them atomically (FerretDB issue #3040). The owner of the newest term renews
it in place; a take-over that raced such a renewal, and a renewal that raced a
take-over, notice it afterwards and give up, so at worst both give up and the
next attempt decides. Terms older than the one before the newest are deleted.
"""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from server.domain.clock import to_micros
from server.storage.mongo.documents import Document
from server.storage.mongo.schema import Collections, newest

__all__ = ["acquire_summary_lease", "release_summary_lease"]


async def acquire_summary_lease(
    collections: Collections, session_id: str, owner: str, now: datetime, expires_at: datetime
) -> bool:
    """See ``Store.acquire_summary_lease``."""
    leases = collections.summary_leases
    now_us = to_micros(now)
    current = await newest(leases, session_id, "term")
    if current is not None and current["owner"] == owner:
        return await _renew(collections, current, to_micros(expires_at))
    if current is not None and current["expires_us"] > now_us:
        return False  # held by another owner
    term = 1 if current is None else current["term"] + 1
    mine: Document = {
        "_id": ObjectId(),
        "session_id": session_id,
        "term": term,
        "owner": owner,
        "expires_us": to_micros(expires_at),
    }
    try:
        await leases.insert_one(mine)
    except DuplicateKeyError:  # another process took this term first
        return False
    if not await _took_over_cleanly(collections, current, mine, now_us):
        await leases.delete_one({"_id": mine["_id"]})
        return False
    await leases.delete_many({"session_id": session_id, "term": {"$lt": term - 1}})
    return True


async def _renew(collections: Collections, current: Document, expires_us: int) -> bool:
    renewed = await collections.summary_leases.update_one(
        {"_id": current["_id"], "owner": current["owner"]}, {"$set": {"expires_us": expires_us}}
    )
    if renewed.matched_count == 0:  # deleted with the session's messages
        return False
    # A take-over that saw the term expired may have inserted the next one meanwhile.
    newer = await newest(collections.summary_leases, current["session_id"], "term")
    return newer is not None and newer["_id"] == current["_id"]


async def _took_over_cleanly(
    collections: Collections, previous: Document | None, mine: Document, now_us: int
) -> bool:
    """Whether the term just inserted holds: its predecessor was not renewed
    meanwhile, and no later term exists (an insert into the slot of a term
    deleted long ago, by a process that read the lease long ago)."""
    if previous is not None:
        again = await collections.summary_leases.find_one({"_id": previous["_id"]})
        if again is not None and again["expires_us"] > now_us:
            return False
    newer = await newest(collections.summary_leases, mine["session_id"], "term")
    return newer is not None and newer["_id"] == mine["_id"]


async def release_summary_lease(collections: Collections, session_id: str, owner: str) -> None:
    """See ``Store.release_summary_lease``: the owner's terms expire at once."""
    await collections.summary_leases.update_many(
        {"session_id": session_id, "owner": owner}, {"$set": {"expires_us": 0}}
    )
