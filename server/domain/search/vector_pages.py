"""Vector pages: how both stores keep embeddings, many to a row or document.

A page holds the embeddings of up to ``PAGE_SIZE`` consecutive indexed messages of
one session, ascending by sequence, as compact arrays: sequences (int64), uuids
(16 bytes each), int8 components (n x dimensions bytes), and two float32 per
embedding: its scale and the norm of its int8 components, so that a search
scores a page with one matrix product, without dequantizing it. A store keys a
page by its session and first sequence, so it reads a session newest first a
page at a time: one read brings hundreds of embeddings, where one row or
document per message brought one. On FerretDB v1, which scans
a collection for every query, that is the difference between scanning 100,000
documents and a few hundred.

Why 256: a page of 256-dimension embeddings is ~70 KiB (64 KiB of components,
4 KiB of uuids, 4 KiB of sequences, scales and norms), far below MongoDB's 16 MiB
document limit even at 3,072 dimensions (~800 KiB), and a search's batch of
2,000 embeddings is eight pages. Larger pages would save little more per read
but cost more per write: the indexer appends to the session's last page by
rewriting it (one page per step at most), which is safe because only the holder
of the session's index lease writes its pages.

``extend`` is that write's plan; ``encode``/``decode`` turn a page into the
stores' bytes and back; ``newest_first`` cuts pages read newest first into the
batch ``vectors_before`` returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

import numpy as np

from server.domain.search.records import MessageVector, VectorBatch

__all__ = [
    "PAGE_SIZE",
    "EncodedPage",
    "batch_of",
    "decode",
    "encode",
    "extend",
    "newest_first",
]

PAGE_SIZE = 256


@dataclass(frozen=True, slots=True)
class EncodedPage:
    """A page as a store keeps it: ``count`` embeddings from ``first_sequence`` to
    ``last_sequence``, little-endian arrays as bytes."""

    first_sequence: int
    last_sequence: int
    count: int
    dimensions: int
    sequences: bytes
    uuids: bytes
    vectors: bytes
    scales: bytes
    norms: bytes


def batch_of(session_id: str, vectors: Sequence[MessageVector]) -> VectorBatch:
    """The embeddings ``vectors`` (ascending by sequence) as one ascending batch."""
    count = len(vectors)
    components = np.frombuffer(b"".join(v.vector for v in vectors), dtype=np.int8).reshape(
        count, -1 if count else 0
    )
    return VectorBatch(
        session_id=session_id,
        sequences=np.array([v.sequence for v in vectors], dtype=np.int64),
        uuids=np.frombuffer(b"".join(UUID(v.uuid).bytes for v in vectors), dtype=np.uint8).reshape(
            count, 16
        ),
        vectors=components,
        scales=np.array([v.scale for v in vectors], dtype=np.float32),
        norms=np.linalg.norm(components.astype(np.float32), axis=1).astype(np.float32),
    )


def _concatenate(session_id: str, batches: Sequence[VectorBatch]) -> VectorBatch:
    if len(batches) == 1:
        return batches[0]
    if not batches:
        return VectorBatch(
            session_id,
            np.zeros(0, dtype=np.int64),
            np.zeros((0, 16), dtype=np.uint8),
            np.zeros((0, 0), dtype=np.int8),
            np.zeros(0, dtype=np.float32),
            np.zeros(0, dtype=np.float32),
        )
    return VectorBatch(
        session_id,
        np.concatenate([b.sequences for b in batches]),
        np.concatenate([b.uuids for b in batches]),
        np.concatenate([b.vectors for b in batches]),
        np.concatenate([b.scales for b in batches]),
        np.concatenate([b.norms for b in batches]),
    )


def _rows(batch: VectorBatch, rows: slice | np.ndarray) -> VectorBatch:
    return VectorBatch(
        batch.session_id,
        batch.sequences[rows],
        batch.uuids[rows],
        batch.vectors[rows],
        batch.scales[rows],
        batch.norms[rows],
    )


def extend(tail: VectorBatch | None, new: VectorBatch) -> list[VectorBatch]:
    """The pages to store for the ascending embeddings ``new``, given the session's
    last page stored before them, ``tail`` (None: none). The tail's embeddings from
    ``new``'s first sequence on are replaced (an earlier write of the same messages
    that did not move the mark); the first page returned is the tail extended (same
    first sequence) while it has room, the others hold ``PAGE_SIZE`` each. A tail of
    other dimensions (another embedder) is left as it is."""
    if not len(new):
        return []
    if tail is not None and tail.vectors.shape[1] == new.vectors.shape[1]:
        kept = _rows(tail, tail.sequences < new.sequences[0])
        if len(kept) and len(kept) < PAGE_SIZE:
            new = _concatenate(new.session_id, [kept, new])
    return [_rows(new, slice(start, start + PAGE_SIZE)) for start in range(0, len(new), PAGE_SIZE)]


def encode(page: VectorBatch) -> EncodedPage:
    """An ascending, non-empty page as the stores keep it."""
    return EncodedPage(
        first_sequence=int(page.sequences[0]),
        last_sequence=int(page.sequences[-1]),
        count=len(page),
        dimensions=page.vectors.shape[1],
        sequences=page.sequences.astype("<i8").tobytes(),
        uuids=page.uuids.tobytes(),
        vectors=page.vectors.tobytes(),
        scales=page.scales.astype("<f4").tobytes(),
        norms=page.norms.astype("<f4").tobytes(),
    )


def decode(session_id: str, page: EncodedPage) -> VectorBatch:
    """A stored page, ascending."""
    return VectorBatch(
        session_id=session_id,
        sequences=np.frombuffer(page.sequences, dtype="<i8").astype(np.int64, copy=False),
        uuids=np.frombuffer(page.uuids, dtype=np.uint8).reshape(page.count, 16),
        vectors=np.frombuffer(page.vectors, dtype=np.int8).reshape(page.count, page.dimensions),
        scales=np.frombuffer(page.scales, dtype="<f4").astype(np.float32, copy=False),
        norms=np.frombuffer(page.norms, dtype="<f4").astype(np.float32, copy=False),
    )


def newest_first(
    session_id: str, pages: Iterable[VectorBatch], before_sequence: int, limit: int
) -> VectorBatch:
    """The first ``limit`` embeddings below ``before_sequence``, newest first, of the
    ascending ``pages`` given newest first; reads no page beyond those needed."""
    taken: list[VectorBatch] = []
    count = 0
    if limit <= 0:
        return _concatenate(session_id, taken)
    for page in pages:
        below = page.sequences < before_sequence
        newest = _rows(_rows(page, below), slice(None, None, -1))
        newest = _rows(newest, slice(0, limit - count))
        if len(newest):
            taken.append(newest)
            count += len(newest)
        if count >= limit:
            break
    return _concatenate(session_id, taken)
