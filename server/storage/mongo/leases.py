"""Summarization leases: which process may fold a session's summary, until when.

A session's lease is a series of terms, one document each, and the unique
index on (session_id, term) is the only arbiter: taking a free lease (none,
expired or released), taking over an expired one and renewing one's own all
insert the next term, so of the processes doing any of these at once exactly
one succeeds. A term is never updated in place except to release it: an update
could not be the guard, as FerretDB's SQLite backend does not run updates
atomically (FerretDB issue #3040). Terms older than the one before the newest
are deleted; a process that read the lease long ago and inserts into such a
deleted slot sees a newer term afterwards and takes its term back.
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
    current = await newest(leases, session_id, "term")
    held_by_another = (
        current is not None and current["owner"] != owner and current["expires_us"] > to_micros(now)
    )
    if held_by_another:
        return False
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
    latest = await newest(leases, session_id, "term")
    if latest is None or latest["_id"] != mine["_id"]:  # a slot freed long ago
        await leases.delete_one({"_id": mine["_id"]})
        return False
    await leases.delete_many({"session_id": session_id, "term": {"$lt": term - 1}})
    return True


async def release_summary_lease(collections: Collections, session_id: str, owner: str) -> None:
    """See ``Store.release_summary_lease``: the owner's terms expire at once."""
    await collections.summary_leases.update_many(
        {"session_id": session_id, "owner": owner}, {"$set": {"expires_us": 0}}
    )
