"""Embeddings stored compactly and scored exactly.

A vector is stored as int8 components and one float scale (``component * scale``
restores it within 1/254 of its largest component): a quarter of float32's size,
recall@10 about 0.98 of exact float search. Scoring is a numpy matrix product
over a batch of stored vectors: exact top-k, no approximate index.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from server.domain.ports.embedder import Vectors

__all__ = ["cosine_scores", "dequantize", "quantize", "stored_cosines"]


def quantize(vectors: Vectors) -> list[tuple[bytes, float]]:
    """Each row as (int8 bytes, scale)."""
    peaks = np.abs(vectors).max(axis=1)
    scales = np.where(peaks > 0, peaks / 127.0, 1.0).astype(np.float32)
    quantized = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
    return [(row.tobytes(), float(scale)) for row, scale in zip(quantized, scales, strict=True)]


def dequantize(vectors: npt.NDArray[np.int8], scales: npt.NDArray[np.float32]) -> Vectors:
    """Float32 rows, L2-normalised, from int8 rows and their scales."""
    rows = vectors.astype(np.float32)
    rows *= scales.astype(np.float32, copy=False)[:, None]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    normalised = rows / np.where(norms > 0, norms, np.float32(1.0))
    return normalised.astype(np.float32, copy=False)


def cosine_scores(query: Vectors, rows: Vectors) -> npt.NDArray[np.float64]:
    """Cosine of the (normalised) query with each (normalised) row."""
    scores: npt.NDArray[np.float64] = (rows @ query.reshape(-1)).astype(np.float64)
    return scores


def stored_cosines(
    query: Vectors, vectors: npt.NDArray[np.int8], norms: npt.NDArray[np.float32]
) -> npt.NDArray[np.float64]:
    """Cosine of the (normalised) query with each stored int8 row, given the rows' L2
    norms: the scale of a row cancels out, so no row is dequantized."""
    products = vectors.astype(np.float32) @ query.reshape(-1)
    scores: npt.NDArray[np.float64] = np.divide(
        products, norms, out=np.zeros_like(products), where=norms > 0
    ).astype(np.float64)
    return scores
