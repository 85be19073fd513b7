"""Rows as the embedder port hands them over: float32, each L2-normalised."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from server.domain.ports.embedder import Vectors

__all__ = ["normalised_rows"]


def normalised_rows(rows: npt.ArrayLike) -> Vectors:
    """``rows`` as float32 with unit L2 norm; a zero row (an empty text) stays zero
    instead of becoming NaN, so it is as far from every query as can be."""
    matrix = np.array(rows, dtype=np.float32, ndmin=2)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix
