"""The embedder port: turns texts into vectors for semantic search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from server.domain.errors import MemoriaError

__all__ = ["Embedder", "EmbedderError", "Vectors"]

# One row per text, float32, each row L2-normalised (so a dot product is the cosine).
Vectors = npt.NDArray[np.float32]


class EmbedderError(MemoriaError):
    """The embedder failed (error answer, timeout, unreachable); worth retrying."""


class Embedder(Protocol):
    """Embeds texts. ``MEMORIA_EMBEDDER=none`` means no embedder at all (keyword search only)."""

    @property
    def name(self) -> str:
        """A short name for logs and health, e.g. ``wordllama``."""

    @property
    def dimensions(self) -> int:
        """The length of every vector this embedder returns."""

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """A ``(len(texts), dimensions)`` array of L2-normalised float32 rows, in order.
        Raises ``EmbedderError`` when it cannot; never blocks the event loop for long
        (CPU-heavy work runs in a thread)."""
