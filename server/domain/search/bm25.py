"""BM25 (Okapi) keyword scores, with fixed parameters.

k1 = 1.2 and b = 0.75 (the common defaults, Lucene's included); idf is
Lucene's non-negative form ``ln(1 + (N - df + 0.5) / (df + 0.5))``. The
statistics (N documents, their average length, each term's document frequency)
are those of the search's scope: see ``CorpusStatistics``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["K1", "B", "CorpusStatistics", "bm25_score", "idf"]

K1 = 1.2
B = 0.75


@dataclass(frozen=True, slots=True)
class CorpusStatistics:
    """What BM25 needs to know of the corpus: its size, the average document
    length in terms, and the document frequency of each query term."""

    documents: int
    average_length: float
    document_frequency: dict[str, int]


def idf(documents: int, document_frequency: int) -> float:
    return math.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))


def bm25_score(
    query_terms: Sequence[str], document_terms: Sequence[str], stats: CorpusStatistics
) -> tuple[float, list[str]]:
    """The document's score for the query (each distinct query term counted once) and
    the query terms it contains, in query order."""
    counts = Counter(document_terms)
    norm = K1 * (1 - B + B * len(document_terms) / max(stats.average_length, 1e-9))
    score = 0.0
    matched: list[str] = []
    for term in dict.fromkeys(query_terms):
        frequency = counts.get(term, 0)
        if not frequency:
            continue
        matched.append(term)
        weight = idf(stats.documents, stats.document_frequency.get(term, 1))
        score += weight * frequency * (K1 + 1) / (frequency + norm)
    return score, matched
