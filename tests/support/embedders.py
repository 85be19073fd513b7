"""A deterministic embedder for tests: hashed bags of stems, with synonyms.

Texts sharing stems get similar vectors; ``SYNONYMS`` maps a few words onto one
concept so that paraphrases without a shared word are still close, as a real
embedder would make them. ``failing`` makes every call raise, until cleared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from server.domain.ports.embedder import EmbedderError, Vectors
from server.domain.search.analyzer import analyze

__all__ = ["SYNONYMS", "FakeEmbedder"]

SYNONYMS = {"car": "vehicle", "automobil": "vehicle", "auto": "vehicle", "purchas": "buy"}


class FakeEmbedder:
    def __init__(self, dimensions: int = 64) -> None:
        self._dimensions = dimensions
        self.failing = False
        self.calls = 0
        self.texts = 0  # embedded so far

    @property
    def name(self) -> str:
        return "fake"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        if self.failing:
            raise EmbedderError("the fake embedder is failing")
        self.texts += len(texts)
        rows = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in analyze(text):
                concept = SYNONYMS.get(term, term)
                bucket = int.from_bytes(hashlib.sha1(concept.encode()).digest()[:4], "big")
                rows[row, bucket % self._dimensions] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        normalised: Vectors = (rows / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        return normalised
