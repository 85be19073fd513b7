"""Search index operations.

``message_terms``, insert-only, beside the messages: one document per indexed
message, whose ``_id`` names the message (session, sequence, uuid), with its
analyzed terms (an array, in order, repeats kept, with a multikey index on
(session_id, terms)) and ``terms_length``. Writes are inserts only: on FerretDB
v1, where every query scans its collection, an update per message would scan
the messages once each. ``vector_pages``: the embeddings, up to 256 consecutive
messages of a session per document (``domain.search.vector_pages``), named by
the session and the first sequence; only the holder of a session's index lease
rewrites its last page (a write from a sequence the session's mark has passed is
stale, and skipped), so a search reads a few hundred documents where it read one
per message. Deleting
messages deletes their entries (``delete_index``); an entry that an indexer
inserts while its message is being deleted outlives it, but its uuid no longer
names a stored message and the domain drops it. The sessions carry the marks
``terms_through`` and ``vectors_through`` (absent means 0), and the counters of
``term_statistics``. FerretDB v1 has no
text index and no ``$expr``: candidates come from ``$in`` on the array, and the
domain scores them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from typing import Any

from bson import Binary
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from server.domain.models import Message
from server.domain.search.records import (
    IndexState,
    MessageTerms,
    MessageVector,
    TermsHit,
    TermStatistics,
    VectorBatch,
)
from server.domain.search.vector_pages import (
    PAGE_SIZE,
    EncodedPage,
    batch_of,
    decode,
    encode,
    extend,
    newest_first,
)
from server.storage.mongo import term_statistics as term_statistics_of
from server.storage.mongo.documents import Document, message_from_document
from server.storage.mongo.schema import Collections

__all__ = [
    "delete_index",
    "index_states",
    "keyword_candidates",
    "messages_at",
    "save_message_terms",
    "save_message_vectors",
    "sessions_to_index",
    "term_statistics",
    "vectors_before",
]

_SCAN_BATCH = 1000
_DUPLICATE_KEY = 11000


def _entry_id(session_id: str, sequence: int, uuid: str) -> str:
    # Sequence and uuid have fixed forms, so the id reads back unambiguously from
    # the right whatever the session id holds.
    return f"{session_id}/{sequence}/{uuid}"


async def index_states(collections: Collections, session_ids: Sequence[str]) -> list[IndexState]:
    cursor = collections.sessions.find(
        {"_id": {"$in": list(session_ids)}},
        projection={
            "message_count": True,
            "last_sequence": True,
            "terms_through": True,
            "vectors_through": True,
        },
    )
    found = {document["_id"]: _state(document) async for document in cursor}
    return [found[key] for key in session_ids if key in found]


def _state(document: Document) -> IndexState:
    return IndexState(
        session_id=document["_id"],
        message_count=document.get("message_count", 0),
        last_sequence=document.get("last_sequence", 0),
        terms_through=document.get("terms_through", 0),
        vectors_through=document.get("vectors_through", 0),
    )


async def save_message_terms(
    collections: Collections, session_id: str, terms: Sequence[MessageTerms], through: int
) -> None:
    inserted = await _insert_new(
        collections.message_terms,
        [
            {
                "_id": _entry_id(session_id, t.sequence, t.uuid),
                "session_id": session_id,
                "sequence": t.sequence,
                "uuid": t.uuid,
                "terms": list(t.terms),
                "terms_length": len(t.terms),
            }
            for t in terms
        ],
    )
    added = TermStatistics(len(inserted), sum(d["terms_length"] for d in inserted))
    if not await term_statistics_of.add(collections, session_id, added, through):
        await _advance(collections, "terms_through", session_id, through)
        await term_statistics_of.recount(collections, session_id)


async def save_message_vectors(
    collections: Collections, session_id: str, vectors: Sequence[MessageVector], through: int
) -> None:
    if vectors and await _indexed_past(collections, session_id, vectors[0].sequence):
        return
    if vectors:
        pages = collections.vector_pages
        first = vectors[0].sequence
        await pages.delete_many({"session_id": session_id, "first_sequence": {"$gte": first}})
        tail = await pages.find_one(
            {"session_id": session_id, "first_sequence": {"$lt": first}},
            sort=[("first_sequence", DESCENDING)],
        )
        previous = None if tail is None else decode(session_id, _encoded(tail))
        for page in extend(previous, batch_of(session_id, vectors)):
            document = _page_document(session_id, encode(page))
            await pages.replace_one({"_id": document["_id"]}, document, upsert=True)
    await _advance(collections, "vectors_through", session_id, through)


async def _indexed_past(collections: Collections, session_id: str, sequence: int) -> bool:
    """Whether the session's ``vectors_through`` has reached ``sequence`` already:
    then a write from there is stale (an indexer that lost its lease, or one of a
    session since deleted and created again, which indexed past it) and must not
    replace the pages. Unlike SQLite, the write does not check each message against
    the stored ones: on FerretDB v1 that read scans the messages collection, as long
    as the step's own read. An embedding written for a message deleted meanwhile
    names a uuid no longer stored, and the domain drops it."""
    session = await collections.sessions.find_one(
        {"_id": session_id}, projection={"vectors_through": True}
    )
    return session is not None and session.get("vectors_through", 0) >= sequence


def _page_document(session_id: str, page: EncodedPage) -> Document:
    document: Document = {
        # The first sequence, zero-padded, keeps the id unambiguous whatever the
        # session id holds.
        "_id": f"{session_id}/{page.first_sequence:020d}",
        "session_id": session_id,
    }
    for name, value in asdict(page).items():
        document[name] = Binary(value) if isinstance(value, bytes) else value
    return document


def _encoded(document: Document) -> EncodedPage:
    # BSON binary comes back as ``Binary``, a subclass of bytes.
    values: dict[str, Any] = {}
    for field in fields(EncodedPage):
        value = document[field.name]
        values[field.name] = bytes(value) if isinstance(value, bytes) else value
    return EncodedPage(**values)


async def _insert_new(
    collection: AsyncCollection[Document], documents: list[Document]
) -> list[Document]:
    """Inserts the documents; those stored already (an indexer that ran before) stay.
    Returns those really inserted, which the term statistics count."""
    if not documents:
        return []
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != _DUPLICATE_KEY for error in errors) or not errors:
            raise
        # Unordered: every document but those named by an error was inserted.
        failed = {error["index"] for error in errors}
        return [d for index, d in enumerate(documents) if index not in failed]
    return documents


async def _advance(collections: Collections, mark: str, session_id: str, through: int) -> None:
    # Only forward, and never past the session's own counter: a session deleted and
    # created again meanwhile starts over below ``through``.
    await collections.sessions.update_one(
        {"_id": session_id, "last_sequence": {"$gte": through}}, {"$max": {mark: through}}
    )


async def delete_index(collections: Collections, session_id: str) -> None:
    """Deletes the index entries of a session's messages; called after deleting them."""
    await collections.message_terms.delete_many({"session_id": session_id})
    await collections.vector_pages.delete_many({"session_id": session_id})
    await term_statistics_of.uncount(collections, session_id)


async def sessions_to_index(
    collections: Collections, with_vectors: bool, after: str | None, limit: int
) -> list[str]:
    """In ``_id`` order; the comparison of the marks runs here (no ``$expr`` on FerretDB v1)."""
    query: Document = {"message_count": {"$gt": 0}}
    if after is not None:
        query["_id"] = {"$gt": after}
    cursor = (
        collections.sessions.find(
            query,
            projection={"last_sequence": True, "terms_through": True, "vectors_through": True},
        )
        .sort("_id", ASCENDING)
        .batch_size(_SCAN_BATCH)
    )
    found: list[str] = []
    try:
        async for document in cursor:
            state = _state({"message_count": 1, **document})
            behind = state.terms_through < state.last_sequence or (
                with_vectors and state.vectors_through < state.last_sequence
            )
            if behind:
                found.append(state.session_id)
                if len(found) >= limit:
                    break
    finally:
        await cursor.close()
    return found


async def keyword_candidates(
    collections: Collections, session_ids: Sequence[str], terms: Sequence[str], limit: int
) -> list[TermsHit]:
    documents = await (
        collections.message_terms.find(
            {"session_id": {"$in": list(session_ids)}, "terms": {"$in": list(terms)}},
            projection={"_id": False, "terms_length": False},
        )
        .limit(limit)
        .to_list()
    )
    return [
        TermsHit(d["session_id"], d["sequence"], d["uuid"], tuple(d["terms"])) for d in documents
    ]


async def messages_at(
    collections: Collections, positions: Mapping[str, Sequence[int]]
) -> dict[str, list[Message]]:
    # One query for every session: on FerretDB v1 each query scans the messages
    # collection (~6 s at 100,000 messages), and a search's best hits often come from
    # several sessions; MongoDB answers each clause of the $or from its index.
    found: dict[str, list[Message]] = {session_id: [] for session_id in positions}
    clauses = [
        {"session_id": session_id, "sequence": {"$in": list(sequences)}}
        for session_id, sequences in positions.items()
        if sequences
    ]
    if not clauses:
        return found
    query = clauses[0] if len(clauses) == 1 else {"$or": clauses}
    async for document in collections.messages.find(query):
        found[document["session_id"]].append(message_from_document(document))
    return found


async def term_statistics(collections: Collections, session_ids: Sequence[str]) -> TermStatistics:
    return await term_statistics_of.read(collections, session_ids)


async def vectors_before(
    collections: Collections, session_id: str, before_sequence: int, limit: int
) -> VectorBatch:
    # Pages are read a few at a time, and no further than ``limit`` needs.
    cursor = (
        collections.vector_pages.find(
            {"session_id": session_id, "first_sequence": {"$lt": before_sequence}},
            projection={"_id": False, "session_id": False},
        )
        .sort("first_sequence", DESCENDING)
        .batch_size(max(2, limit // PAGE_SIZE + 2))
    )
    pages: list[VectorBatch] = []
    count = 0
    try:
        async for document in cursor:
            page = decode(session_id, _encoded(document))
            pages.append(page)
            count += int((page.sequences < before_sequence).sum())
            if count >= limit:
                break
    finally:
        await cursor.close()
    return newest_first(session_id, pages, before_sequence, limit)
