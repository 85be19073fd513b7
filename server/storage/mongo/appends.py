"""Message operations.

Appends use no multi-document transaction, so they also work on a sharded
cluster. A session's document holds a counter, ``last_sequence``; an append
reserves a block of sequences by incrementing it (``find_one_and_update`` with
``$inc``, upserting the session) and then inserts its messages at those
positions. The unique index on (session_id, sequence) is what guarantees the
order, not the counter: FerretDB's SQLite backend does not make ``$inc``
atomic (FerretDB issue #3040), so two appends can be handed the same block
there. An insert that finds its position taken gives the block up and
reserves another; an insert that finds its uuid taken returns the stored
message instead (the unique index on (session_id, uuid) makes appends
idempotent).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from server.domain.append_merge import merge_append, not_stored
from server.domain.clock import to_micros
from server.domain.errors import Unavailable
from server.domain.models import AppendResult, Message, NewMessage
from server.storage.mongo.documents import (
    Document,
    message_document,
    message_from_document,
    new_session_fields,
)
from server.storage.mongo.errors import DUPLICATE_KEY
from server.storage.mongo.schema import Collections

__all__ = ["MAX_APPEND_ATTEMPTS", "append_messages"]

# Each attempt after the first follows a collision with a concurrent append of
# another process; this many in a row means something else is wrong.
MAX_APPEND_ATTEMPTS = 20
_UUIDS_PER_QUERY = 1000


async def append_messages(
    collections: Collections,
    session_id: str,
    messages: Sequence[NewMessage],
    now: datetime,
) -> AppendResult:
    """See ``Store.append_messages``. The caller serializes the appends to one
    session within this process; this function stays correct without that.

    After a failure half-way (a crash, a lost connection), a retry of the same
    batch stores each uuid once and returns the messages in the order given;
    only the messages missing then get new sequences, so that batch may not be
    contiguous, and the session's counters may miss the first part.
    """
    now_micros = to_micros(now)
    stored: dict[str, Message] = {}
    added_count = 0
    # The first attempt inserts without looking the uuids up: the unique index
    # checks them anyway, and new messages (imports, AddMemory) are the common case.
    # On FerretDB, which filters in its own memory, a lookup costs a scan of the
    # collection. A stored uuid stops the insert; the next attempt looks them up.
    for attempt in range(MAX_APPEND_ATTEMPTS):
        if attempt:
            missing = [m.uuid for m in messages if m.uuid not in stored]
            stored.update(await _stored_by_uuid(collections, session_id, missing))
        pending = not_stored(messages, stored)
        if not pending and stored:
            break
        first = await _reserve(collections, session_id, pending, now_micros)
        block = merge_append(messages, stored, first).new
        added = await _insert(collections, session_id, block)
        await _count(collections, session_id, added, now_micros)
        stored.update((message.uuid, message) for message in added)
        added_count += len(added)
        if len(added) == len(block):
            break
    else:
        raise Unavailable(
            f"session {session_id!r}: concurrent appends took the reserved positions"
            f" {MAX_APPEND_ATTEMPTS} times in a row; retry"
        )
    return AppendResult(merge_append(messages, stored, 0).result, added_count)


async def _stored_by_uuid(
    collections: Collections, session_id: str, uuids: list[str]
) -> dict[str, Message]:
    stored: dict[str, Message] = {}
    for start in range(0, len(uuids), _UUIDS_PER_QUERY):
        chunk = uuids[start : start + _UUIDS_PER_QUERY]
        cursor = collections.messages.find({"session_id": session_id, "uuid": {"$in": chunk}})
        async for document in cursor:
            message = message_from_document(document)
            stored[message.uuid] = message
    return stored


async def _reserve(collections: Collections, session_id: str, count: int, now_micros: int) -> int:
    """The first of ``count`` sequences taken from the session's counter; creates
    the session when it does not exist."""
    update = {
        "$inc": {"last_sequence": count},
        "$setOnInsert": new_session_fields(session_id, now_micros),
    }
    for attempt in range(3):
        try:
            # No projection: FerretDB v1 does not implement findAndModify's "fields".
            document = await collections.sessions.find_one_and_update(
                {"_id": session_id},
                update,
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            # Two upserts created the session at once and this one lost; it
            # exists now, so the next try updates it.
            if attempt == 2:
                raise
            continue
        assert document is not None, "an upsert returning the new document returns one"
        last: int = document["last_sequence"]
        return last - count + 1
    raise AssertionError("unreachable")


async def _insert(collections: Collections, session_id: str, block: list[Message]) -> list[Message]:
    """Inserts the block in order; returns the messages that stay inserted.

    When a message's uuid turns out to be stored already (by a concurrent
    append of the same message, or before), the ones before it stay and the
    positions reserved for the others are given back. When its position is
    taken, the ones before it are removed again, so that the batch stays
    contiguous in its next block, and the counter is moved past the positions
    in use.
    """
    if not block:
        return []
    documents = [message_document(session_id, message) for message in block]
    try:
        await collections.messages.insert_many(documents, ordered=True)
    except BulkWriteError as exc:
        failed = _duplicate_index(exc)
    else:
        return block
    # FerretDB v1 inserts in chunks of 100 and goes on with the next chunk after a
    # failed one, ordered or not: what follows the failure may be stored too.
    await _delete_ours(collections, documents[failed + 1 :])
    conflict = documents[failed]
    # FerretDB does not say which unique index was violated; the stored data does.
    holder = await collections.messages.find_one(
        {"session_id": session_id, "uuid": conflict["uuid"]}, projection={"_id": True}
    )
    if holder is not None and holder["_id"] != conflict["_id"]:
        await _give_back(collections, session_id, block[failed:])
        return block[:failed]
    await _delete_ours(collections, documents[:failed])
    await _move_counter_past_last_message(collections, session_id)
    return []


async def _delete_ours(collections: Collections, documents: list[Document]) -> None:
    if documents:
        ours = [document["_id"] for document in documents]
        await collections.messages.delete_many({"_id": {"$in": ours}})


async def _give_back(collections: Collections, session_id: str, unused: list[Message]) -> None:
    """Returns reserved positions that stay unused to the counter, unless another
    append reserved positions after them (then they stay a gap): a batch re-sent
    whole does not move the session's sequences on."""
    await collections.sessions.update_one(
        {"_id": session_id, "last_sequence": unused[-1].sequence},
        {"$inc": {"last_sequence": -len(unused)}},
    )


def _duplicate_index(error: BulkWriteError) -> int:
    """The index of the message an ordered insert stopped at on a duplicate key."""
    write_errors: list[dict[str, Any]] = error.details.get("writeErrors", [])
    if not write_errors or write_errors[0].get("code") != DUPLICATE_KEY:
        raise error
    index: int = write_errors[0]["index"]
    return index


async def _move_counter_past_last_message(collections: Collections, session_id: str) -> None:
    """Repairs a counter left behind the stored messages by a lost ``$inc``
    (FerretDB) or by messages that outlived their session (a delete racing an
    append of another process), so that the next block does not collide again."""
    last = await collections.messages.find_one(
        {"session_id": session_id},
        projection={"sequence": True},
        sort=[("sequence", DESCENDING)],
    )
    if last is not None:
        await collections.sessions.update_one(
            {"_id": session_id}, {"$max": {"last_sequence": last["sequence"]}}
        )


async def _count(
    collections: Collections, session_id: str, added: list[Message], now_micros: int
) -> None:
    if not added:
        return
    await collections.sessions.update_one(
        {"_id": session_id},
        {
            "$inc": {
                "message_count": len(added),
                "token_count": sum(message.token_count for message in added),
            },
            "$set": {"updated_us": now_micros},
        },
    )
