"""The OpenAI-compatible embedder against a local endpoint: requests, batching, answers, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import pytest

from server.domain.ports.embedder import EmbedderError
from server.embedders.open import close_embedder, open_embedder
from server.embedders.openai_compatible import OpenAICompatibleEmbedder
from server.embedders.vectors import normalised_rows
from tests.support.llm_endpoint import EMBEDDING_DIMENSIONS, LlmEndpoint, vector_of


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[LlmEndpoint]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    running = LlmEndpoint().start()
    yield running
    running.stop()


def embedder_for(endpoint: LlmEndpoint, **settings: Any) -> OpenAICompatibleEmbedder:
    embedder = open_embedder(
        "openai",
        **{
            "base_url": endpoint.base_url,
            "model": "tiny-embedder",
            "api_key": "sk-test",
            "timeout": 0.5,
            **settings,
        },
    )
    assert isinstance(embedder, OpenAICompatibleEmbedder)
    return embedder


@pytest.fixture
async def embedder(endpoint: LlmEndpoint) -> AsyncIterator[OpenAICompatibleEmbedder]:
    opened = embedder_for(endpoint)
    yield opened
    await close_embedder(opened)


async def test_request_and_answer_are_the_openai_shapes(
    embedder: OpenAICompatibleEmbedder, endpoint: LlmEndpoint
) -> None:
    assert embedder.dimensions == 0  # learned from the first answer
    rows = await embedder.embed(["first text", "second text"])
    [request] = endpoint.requests
    assert request.path == "/v1/embeddings"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body == {
        "model": "tiny-embedder",
        "input": ["first text", "second text"],
        "encoding_format": "base64",
    }
    # The endpoint lists its answers in reverse: rows follow the inputs' indexes.
    expected = normalised_rows([vector_of("first text"), vector_of("second text")])
    assert rows.dtype == np.float32 and np.allclose(rows, expected, atol=1e-6)
    assert embedder.dimensions == EMBEDDING_DIMENSIONS


async def test_plain_float_answers_are_accepted(
    embedder: OpenAICompatibleEmbedder, endpoint: LlmEndpoint
) -> None:
    endpoint.plain_floats = True
    rows = await embedder.embed(["a text"])
    assert np.allclose(rows, normalised_rows([vector_of("a text")]), atol=1e-6)


async def test_batches_keep_the_order(endpoint: LlmEndpoint) -> None:
    embedder = embedder_for(endpoint, batch_size=2)
    texts = [f"text number {n}" for n in range(5)]
    rows = await embedder.embed(texts)
    assert [request.body["input"] for request in endpoint.requests] == [
        texts[0:2],
        texts[2:4],
        texts[4:5],
    ]
    assert np.allclose(rows, normalised_rows([vector_of(text) for text in texts]), atol=1e-6)
    await close_embedder(embedder)


async def test_empty_texts_are_not_sent_and_get_zero_rows(
    embedder: OpenAICompatibleEmbedder, endpoint: LlmEndpoint
) -> None:
    rows = await embedder.embed(["", "said something", "   "])
    assert [request.body["input"] for request in endpoint.requests] == [["said something"]]
    assert rows.shape == (3, EMBEDDING_DIMENSIONS)
    assert not rows[0].any() and not rows[2].any() and np.isclose(np.linalg.norm(rows[1]), 1)


async def test_only_empty_texts_still_learn_the_dimensions(
    embedder: OpenAICompatibleEmbedder, endpoint: LlmEndpoint
) -> None:
    rows = await embedder.embed([""])
    assert rows.shape == (1, EMBEDDING_DIMENSIONS) and not rows.any()
    assert len(endpoint.requests) == 1


async def test_long_texts_are_cut(endpoint: LlmEndpoint) -> None:
    embedder = embedder_for(endpoint, max_chars=10)
    await embedder.embed(["0123456789abcdef"])
    assert endpoint.requests[0].body["input"] == ["0123456789"]
    await close_embedder(embedder)


async def test_configured_dimensions_are_sent_and_checked(endpoint: LlmEndpoint) -> None:
    embedder = embedder_for(endpoint, dimensions=7)
    assert embedder.dimensions == 7
    rows = await embedder.embed(["shortened"])
    assert endpoint.requests[0].body["dimensions"] == 7 and rows.shape == (1, 7)
    endpoint.dimensions_answered = 9  # a server that ignores the parameter
    with pytest.raises(EmbedderError, match="9-dimension vectors; expected 7"):
        await embedder.embed(["shortened"])
    await close_embedder(embedder)


async def test_learned_dimensions_are_kept(
    embedder: OpenAICompatibleEmbedder, endpoint: LlmEndpoint
) -> None:
    await embedder.embed(["learn"])
    endpoint.dimensions_answered = 5  # the model behind the endpoint changed
    with pytest.raises(EmbedderError, match=f"expected {EMBEDDING_DIMENSIONS}"):
        await embedder.embed(["learn"])


async def test_error_answers_and_timeouts_are_embedder_errors(
    embedder: OpenAICompatibleEmbedder, endpoint: LlmEndpoint
) -> None:
    endpoint.failing = True
    with pytest.raises(EmbedderError, match="answered 500"):
        await embedder.embed(["a"])
    endpoint.failing = False
    endpoint.released.clear()  # hold the answer past the client's timeout
    with pytest.raises(EmbedderError, match="timed out"):
        await embedder.embed(["a"])


@pytest.mark.parametrize(
    "answer",
    [
        {"data": []},
        {"data": [{"index": 0, "embedding": "not base64!"}]},
        {"data": [{"index": 0, "embedding": [1.0, "x"]}]},
        {"data": [{"index": 0, "embedding": [float("nan"), 1.0]}]},
        {"data": [{"index": 0, "embedding": []}]},
        {"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]},
        {"data": [{"index": 0, "embedding": {"values": [1.0]}}]},
        {"error": "no data"},
    ],
)
async def test_malformed_answers_are_embedder_errors(
    endpoint: LlmEndpoint, monkeypatch: pytest.MonkeyPatch, answer: dict[str, Any]
) -> None:
    monkeypatch.setattr(endpoint, "embeddings", lambda body: answer)
    embedder = embedder_for(endpoint)
    with pytest.raises(EmbedderError, match="malformed answer from the embeddings endpoint"):
        await embedder.embed(["one", "two"] if len(answer.get("data", [])) == 2 else ["one"])
    await close_embedder(embedder)


async def test_unreachable_endpoint_is_an_embedder_error() -> None:
    embedder = open_embedder("openai", base_url="http://127.0.0.1:9/v1", model="m", timeout=2)
    assert embedder is not None
    with pytest.raises(EmbedderError, match="unreachable"):
        await embedder.embed(["a"])
    await close_embedder(embedder)
