"""Maximal marginal relevance (Carbonell and Goldstein, 1998): re-ranks candidates
so that each next pick is relevant yet unlike those picked before.

``lambda * relevance - (1 - lambda) * max similarity to the picked``, with
relevance rescaled to [0, 1] within the candidates so that it weighs the same
against cosine similarity whatever the search type's scale.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["maximal_marginal_relevance"]


def maximal_marginal_relevance(
    relevance: npt.NDArray[np.float64],
    similarity: npt.NDArray[np.float64],
    mmr_lambda: float,
    limit: int,
) -> list[tuple[int, float]]:
    """Indexes of the chosen candidates in pick order, each with its MMR score.

    ``relevance`` has one score per candidate (higher is better); ``similarity`` is
    the candidates' pairwise similarity matrix."""
    count = len(relevance)
    if count == 0:
        return []
    span = float(relevance.max() - relevance.min())
    scaled = (relevance - relevance.min()) / span if span > 0 else np.ones(count)
    chosen: list[tuple[int, float]] = []
    closest = np.full(count, -np.inf)  # each candidate's highest similarity to the chosen
    available = np.ones(count, dtype=bool)
    for _ in range(min(limit, count)):
        penalty = np.where(np.isfinite(closest), closest, 0.0)
        scores = mmr_lambda * scaled - (1 - mmr_lambda) * penalty
        scores = np.where(available, scores, -np.inf)
        best = int(np.argmax(scores))
        chosen.append((best, float(scores[best])))
        available[best] = False
        closest = np.maximum(closest, similarity[best])
    return chosen
