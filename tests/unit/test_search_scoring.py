"""The search engine's pure parts: analysis, BM25, fusion, MMR, quantization, filters."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from server.domain.errors import InvalidArgument
from server.domain.models import Message, RoleType
from server.domain.search.analyzer import analyze
from server.domain.search.bm25 import K1, B, CorpusStatistics, bm25_score, idf
from server.domain.search.filters import check_filter
from server.domain.search.fusion import RRF_K, reciprocal_rank_fusion, relative_score_fusion
from server.domain.search.inputs import ConditionInput, NumberBounds, TimeRangeInput
from server.domain.search.mmr import maximal_marginal_relevance
from server.domain.search.vectors import cosine_scores, dequantize, quantize, stored_cosines
from server.domain.validation import Violations


def test_analyzer_lowercases_stems_and_drops_stop_words() -> None:
    """Words are lower-cased, stemmed (English Snowball), stop words and underscores dropped."""
    assert analyze("The Deploying of billing_services, RUNNING!") == [
        "deploy",
        "bill",
        "servic",
        "run",
    ]


def test_bm25_matches_the_formula() -> None:
    """One term: idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))."""
    stats = CorpusStatistics(documents=10, average_length=4.0, document_frequency={"bill": 2})
    score, matched = bm25_score(["bill", "nope"], ["bill", "bill", "x"], stats)
    expected = idf(10, 2) * 2 * (K1 + 1) / (2 + K1 * (1 - B + B * 3 / 4.0))
    assert score == pytest.approx(expected)
    assert matched == ["bill"]
    assert idf(10, 2) == pytest.approx(math.log(1 + 8.5 / 2.5))


def test_bm25_rewards_rare_terms_and_short_documents() -> None:
    """A rarer term weighs more; the same match in a shorter document scores higher."""
    stats = CorpusStatistics(10, 5.0, {"rare": 1, "common": 9})
    assert bm25_score(["rare"], ["rare"], stats)[0] > bm25_score(["common"], ["common"], stats)[0]
    assert (
        bm25_score(["rare"], ["rare"], stats)[0]
        > bm25_score(["rare"], ["rare"] + ["x"] * 9, stats)[0]
    )


def test_relative_score_fusion_scales_each_ranking_then_weighs_them() -> None:
    """Each ranking's scores go to [0, 1] (worst to best); an absent item gets 0 there."""
    keyword = [("a", 12.0), ("b", 7.0), ("c", 2.0)]
    semantic = [("b", 0.9), ("d", 0.5)]
    fused = relative_score_fusion([keyword, semantic], [0.25, 0.75])
    assert dict(fused) == pytest.approx({"a": 0.25, "b": 0.25 * 0.5 + 0.75, "c": 0.0, "d": 0.0})
    assert [item for item, _ in fused] == ["b", "a", "c", "d"]  # ties: first seen first


def test_relative_score_fusion_of_equal_or_missing_scores() -> None:
    """A ranking whose scores are all equal counts them as its best; an empty one adds nothing."""
    fused = relative_score_fusion([[("a", 3.0), ("b", 3.0)], []], [0.25, 0.75])
    assert fused == [("a", 0.25), ("b", 0.25)]


def test_reciprocal_rank_fusion_sums_one_over_k_plus_rank() -> None:
    """Only ranks count: 1 / (60 + rank) per ranking that holds the item."""
    keyword = [("a", 12.0), ("b", 7.0), ("c", 2.0)]
    semantic = [("b", 0.9), ("d", 0.5)]
    fused = reciprocal_rank_fusion([keyword, semantic])
    assert RRF_K == 60
    assert dict(fused) == pytest.approx(
        {"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 63, "d": 1 / 62}
    )
    assert [item for item, _ in fused] == ["b", "a", "d", "c"]  # ties: first seen first


def test_mmr_trades_relevance_for_diversity() -> None:
    """lambda 1 keeps relevance order; a low lambda skips a near-duplicate of the first pick."""
    relevance = np.array([1.0, 0.9, 0.5])
    similarity = np.array([[1.0, 0.99, 0.0], [0.99, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert [i for i, _ in maximal_marginal_relevance(relevance, similarity, 1.0, 3)] == [0, 1, 2]
    assert [i for i, _ in maximal_marginal_relevance(relevance, similarity, 0.3, 2)] == [0, 2]


def test_int8_quantization_keeps_cosines_close() -> None:
    """Quantized vectors score within 0.01 of their float32 originals."""
    rng = np.random.default_rng(7)
    rows = rng.normal(size=(50, 64)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    stored = quantize(rows)
    restored = dequantize(
        np.frombuffer(b"".join(vector for vector, _ in stored), dtype=np.int8).reshape(50, 64),
        np.array([scale for _, scale in stored], dtype=np.float32),
    )
    query = rows[0]
    assert np.allclose(cosine_scores(query, restored), cosine_scores(query, rows), atol=0.01)
    assert len(quantize(rows)[0][0]) == 64  # one byte per component


def test_stored_cosines_need_no_dequantizing() -> None:
    """Scoring int8 rows by their norms gives the cosines of the dequantized rows."""
    rng = np.random.default_rng(8)
    rows = rng.normal(size=(20, 64)).astype(np.float32)
    rows[3] = 0.0
    stored = quantize(rows)
    vectors = np.frombuffer(b"".join(v for v, _ in stored), dtype=np.int8).reshape(20, 64)
    scales = np.array([scale for _, scale in stored], dtype=np.float32)
    norms = np.linalg.norm(vectors.astype(np.float32), axis=1).astype(np.float32)
    query = rows[0] / np.linalg.norm(rows[0])
    expected = cosine_scores(query, dequantize(vectors, scales))
    assert np.allclose(stored_cosines(query, vectors, norms), expected, atol=1e-6)


def _message(metadata: dict[str, object], role_type: RoleType = RoleType.USER) -> Message:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return Message("u", 1, "", role_type, "text", metadata, 1, moment)


@pytest.mark.parametrize(
    ("condition", "metadata", "accepted"),
    [
        (ConditionInput("a", "equals", value=2), {"a": 2.0}, True),
        (ConditionInput("a", "equals", value=1), {"a": True}, False),
        (ConditionInput("a", "equals", value="1"), {"a": 1}, False),
        (ConditionInput("a.b", "equals", value="x"), {"a": {"b": "x"}}, True),
        (ConditionInput("a.b", "equals", value="x"), {"a": "b"}, False),
        (ConditionInput("a", "any_of", values=["x", 3]), {"a": 3}, True),
        (ConditionInput("a", "exists", exists=True), {"a": None}, True),
        (ConditionInput("a", "exists", exists=False), {"b": 1}, True),
        (ConditionInput("n", "number", number=NumberBounds(gt=1, lte=3)), {"n": 3}, True),
        (ConditionInput("n", "number", number=NumberBounds(gt=1)), {"n": "5"}, False),
        (
            ConditionInput("t", "time", time=TimeRangeInput(end=(1_767_225_600, 0))),
            {"t": "2025-12-31T23:59:59+00:00"},
            True,
        ),
        (
            ConditionInput("t", "time", time=TimeRangeInput(end=(1_767_225_600, 0))),
            {"t": "2025-12-31"},  # no offset: not a timestamp
            False,
        ),
    ],
)
def test_metadata_conditions(
    condition: ConditionInput, metadata: dict[str, object], accepted: bool
) -> None:
    """Each comparison holds exactly as documented in the contract."""
    check = Violations()
    search_filter = check_filter(check, [], [condition], None)
    check.raise_if_any()
    assert search_filter.accepts_message(_message(metadata)) is accepted


def test_malformed_filters_name_every_field() -> None:
    """Unknown role types, bad paths, non-scalar values and empty comparisons are violations."""
    check = Violations()
    check_filter(
        check,
        ["user", "robot"],
        [
            ConditionInput("", "exists", exists=True),
            ConditionInput("a", "equals", value=[1]),
            ConditionInput("a", "any_of", values=[]),
            ConditionInput("a", "number", number=NumberBounds(lt=math.inf)),
            ConditionInput("a", "time", time=TimeRangeInput()),
        ],
        TimeRangeInput(start=(10, 0), end=(5, 0)),
    )
    with pytest.raises(InvalidArgument) as raised:
        check.raise_if_any()
    assert [v.field for v in raised.value.violations] == [
        "role_types[1]",
        "metadata.all_of[0].path",
        "metadata.all_of[1].equals",
        "metadata.all_of[2].any_of.values",
        "metadata.all_of[3].number.lt",
        "metadata.all_of[4].time",
        "created_at",
    ]
