"""Search index operations.

A message's analyzed terms are an array on its own document (``terms``, in
order, repeats kept, and ``terms_length``) with a multikey index on
(session_id, terms); its embedding is ``vector`` (int8 bytes) and
``vector_scale``. They live and die with the message: a delete needs no extra
step. The sessions carry the marks ``terms_through`` and ``vectors_through``
(absent means 0). FerretDB v1 has no text index and no ``$expr``: candidate
reads use ``$in`` on the array, and the domain scores.
"""

from __future__ import annotations

from collections.abc import Sequence

from bson import Binary
from pymongo import ASCENDING, UpdateOne

from server.domain.models import Message
from server.domain.search.records import (
    IndexState,
    MessageTerms,
    MessageVector,
    TermsHit,
    TermStatistics,
    VectorHit,
)
from server.storage.mongo.documents import Document, message_from_document
from server.storage.mongo.schema import Collections

__all__ = [
    "WITHOUT_INDEX",
    "index_states",
    "keyword_candidates",
    "messages_at",
    "save_message_terms",
    "save_message_vectors",
    "sessions_to_index",
    "term_statistics",
    "vectors_before",
]

# The projection of ordinary message reads: the index fields are large and unused.
WITHOUT_INDEX: Document = {"terms": False, "vector": False}
_SCAN_BATCH = 1000


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
    if terms:
        await collections.messages.bulk_write(
            [
                UpdateOne(
                    {"session_id": session_id, "sequence": t.sequence, "uuid": t.uuid},
                    {"$set": {"terms": list(t.terms), "terms_length": len(t.terms)}},
                )
                for t in terms
            ],
            ordered=False,
        )
    await _advance(collections, "terms_through", session_id, through)


async def save_message_vectors(
    collections: Collections, session_id: str, vectors: Sequence[MessageVector], through: int
) -> None:
    if vectors:
        await collections.messages.bulk_write(
            [
                UpdateOne(
                    {"session_id": session_id, "sequence": v.sequence, "uuid": v.uuid},
                    {"$set": {"vector": Binary(v.vector), "vector_scale": v.scale}},
                )
                for v in vectors
            ],
            ordered=False,
        )
    await _advance(collections, "vectors_through", session_id, through)


async def _advance(collections: Collections, mark: str, session_id: str, through: int) -> None:
    # Only forward, and never past the session's own counter: a session deleted and
    # created again meanwhile starts over below ``through``.
    await collections.sessions.update_one(
        {"_id": session_id, "last_sequence": {"$gte": through}}, {"$max": {mark: through}}
    )


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
        collections.messages.find(
            {"session_id": {"$in": list(session_ids)}, "terms": {"$in": list(terms)}},
            projection={"_id": False, "session_id": True, "sequence": True, "terms": True},
        )
        .limit(limit)
        .to_list()
    )
    return [TermsHit(d["session_id"], d["sequence"], tuple(d["terms"])) for d in documents]


async def messages_at(
    collections: Collections, session_id: str, sequences: Sequence[int]
) -> list[Message]:
    documents = await collections.messages.find(
        {"session_id": session_id, "sequence": {"$in": list(sequences)}},
        projection=WITHOUT_INDEX,
    ).to_list()
    return [message_from_document(d) for d in documents]


async def term_statistics(collections: Collections, session_ids: Sequence[str]) -> TermStatistics:
    cursor = await collections.messages.aggregate(
        [
            {
                "$match": {
                    "session_id": {"$in": list(session_ids)},
                    "terms_length": {"$exists": True},
                }
            },
            {"$group": {"_id": None, "documents": {"$sum": 1}, "total": {"$sum": "$terms_length"}}},
        ]
    )
    groups = await cursor.to_list()
    if not groups:
        return TermStatistics(0, 0)
    return TermStatistics(groups[0]["documents"], groups[0]["total"])


async def vectors_before(
    collections: Collections, session_id: str, before_sequence: int, limit: int
) -> list[VectorHit]:
    documents = await (
        collections.messages.find(
            {
                "session_id": session_id,
                "sequence": {"$lt": before_sequence},
                "vector": {"$exists": True},
            },
            projection={"_id": False, "sequence": True, "vector": True, "vector_scale": True},
        )
        .sort("sequence", -1)
        .limit(limit)
        .to_list()
    )
    return [
        VectorHit(session_id, d["sequence"], bytes(d["vector"]), d["vector_scale"])
        for d in documents
    ]
