"""Reciprocal rank fusion: one ranking from several, by rank alone.

Each list gives an item ``1 / (k + rank)`` (rank from 1); the sums rank the
fused list. k = 60 as in Cormack, Clarke and Büttcher (SIGIR 2009). Scores of
different scales (BM25, cosine) need no normalisation.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

__all__ = ["RRF_K", "reciprocal_rank_fusion"]

RRF_K = 60
K = TypeVar("K", bound=Hashable)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[K]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[K, float]]:
    """Items of all rankings (best first each) with their fused scores, best first;
    ties keep the order of first appearance. ``weights``: one per ranking (1 each
    by default), multiplying its reciprocal ranks."""
    scores: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])
