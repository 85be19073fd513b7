"""Records that cross the store port for search and indexing."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import numpy as np
import numpy.typing as npt

__all__ = [
    "IndexState",
    "MessageTerms",
    "MessageVector",
    "TermStatistics",
    "TermsHit",
    "VectorBatch",
    "index_lease_key",
]


@dataclass(frozen=True, slots=True)
class IndexState:
    """How far a session is indexed: every message with a sequence up to
    ``terms_through`` has its terms stored (and up to ``vectors_through``, its
    embedding; never beyond ``terms_through``)."""

    session_id: str
    message_count: int
    last_sequence: int
    terms_through: int
    vectors_through: int

    def unindexed(self, through: int) -> int:
        """An upper bound of the messages after ``through``: at most those stored,
        and at most the sequences after it (deleted ones do not count)."""
        return max(0, min(self.message_count, self.last_sequence - through))


@dataclass(frozen=True, slots=True)
class MessageTerms:
    """The analyzed terms of the message stored at ``sequence`` with ``uuid``."""

    sequence: int
    uuid: str
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MessageVector:
    """The quantized embedding of the message stored at ``sequence`` with ``uuid``."""

    sequence: int
    uuid: str
    vector: bytes
    scale: float


@dataclass(frozen=True, slots=True)
class TermStatistics:
    """Messages with stored terms in a set of sessions, and their summed length."""

    documents: int
    total_length: int


@dataclass(frozen=True, slots=True)
class TermsHit:
    """A message (by position and uuid) that holds at least one of the searched terms,
    with all its terms. The message itself is read only for the results
    (``messages_at``); a hit whose message is gone, or is another one now, is dropped."""

    session_id: str
    sequence: int
    uuid: str
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VectorBatch:
    """Stored embeddings of some indexed messages of one session, as arrays ready to
    score: row ``i`` is the message at ``sequences[i]`` whose uuid is ``uuids[i]``
    (16 bytes), with int8 components ``vectors[i]``, scale ``scales[i]``
    (``vectors[i] * scales[i]`` restores the embedding) and ``norms[i]``, the L2
    norm of ``vectors[i]`` (a cosine is ``vectors[i] @ query / norms[i]``: nothing
    to dequantize). Rows are ordered as the method returning the batch
    says."""

    session_id: str
    sequences: npt.NDArray[np.int64]
    uuids: npt.NDArray[np.uint8]  # (n, 16)
    vectors: npt.NDArray[np.int8]  # (n, dimensions)
    scales: npt.NDArray[np.float32]
    norms: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.sequences)

    def uuid(self, row: int) -> str:
        """The uuid of row ``row``, as text."""
        return str(UUID(bytes=self.uuids[row].tobytes()))


def index_lease_key(session_id: str) -> str:
    """Where a store keeps a session's index lease among its summary leases: "#"
    appears in no session id, so the key never names a session."""
    return f"{session_id}#index"
