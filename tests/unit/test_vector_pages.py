"""Vector pages: how embeddings are grouped, encoded and read back newest first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np

from server.domain.search.records import MessageVector, VectorBatch
from server.domain.search.vector_pages import (
    PAGE_SIZE,
    batch_of,
    decode,
    encode,
    extend,
    newest_first,
)


def _vectors(sequences: range) -> list[MessageVector]:
    return [
        MessageVector(n, str(uuid.uuid4()), bytes([n % 127] * 4), float(n) / 10) for n in sequences
    ]


def _batch(sequences: range) -> VectorBatch:
    return batch_of("s", _vectors(sequences))


def test_a_page_encodes_and_decodes_whole() -> None:
    """Sequences, uuids, components and scales survive the stores' bytes."""
    vectors = _vectors(range(3, 9))
    page = decode("s", encode(batch_of("s", vectors)))
    assert page.sequences.tolist() == [v.sequence for v in vectors]
    assert [page.uuid(row) for row in range(len(page))] == [v.uuid for v in vectors]
    assert [page.vectors[row].tobytes() for row in range(len(page))] == [v.vector for v in vectors]
    assert np.allclose(page.scales, [v.scale for v in vectors])


def test_extend_fills_the_last_page_then_starts_full_ones() -> None:
    """New embeddings join the last page while it has room; the rest make pages of
    PAGE_SIZE, each keyed by its first sequence."""
    tail = _batch(range(1, 11))
    pages = extend(tail, _batch(range(11, 11 + PAGE_SIZE + 5)))
    assert [(int(p.sequences[0]), len(p)) for p in pages] == [
        (1, PAGE_SIZE),
        (PAGE_SIZE + 1, 15),
    ]
    full = _batch(range(1, PAGE_SIZE + 1))
    assert [int(p.sequences[0]) for p in extend(full, _batch(range(300, 302)))] == [300]


def test_extend_replaces_what_the_last_page_holds_from_the_first_new_sequence_on() -> None:
    """A write of messages already in the page (an earlier write that did not move
    the mark) replaces them rather than storing them twice."""
    (page,) = extend(_batch(range(1, 11)), _batch(range(6, 13)))
    assert page.sequences.tolist() == list(range(1, 13))


def test_newest_first_cuts_pages_below_a_sequence_to_a_limit() -> None:
    """Pages given newest first yield the embeddings below ``before``, newest first,
    at most ``limit``, and pages past the limit are not read."""
    read: list[int] = []

    def pages() -> Iterator[VectorBatch]:
        for first in (21, 11, 1):
            read.append(first)
            yield _batch(range(first, first + 10))

    batch = newest_first("s", pages(), before_sequence=25, limit=12)
    assert batch.sequences.tolist() == [24, 23, 22, 21, *range(20, 12, -1)]
    assert read == [21, 11]
    assert len(newest_first("s", iter([]), before_sequence=5, limit=3)) == 0
