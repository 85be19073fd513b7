"""Choosing and configuring the embedder: MEMORIA_EMBEDDER* settings and open_embedder."""

from __future__ import annotations

import os
from typing import Any

import pytest

from server.config import InvalidSettings, load_settings
from server.domain.errors import ConfigurationError
from server.embedders.open import close_embedder, open_embedder
from server.embedders.openai_compatible import OpenAICompatibleEmbedder
from server.embedders.wordllama_static import WordLlamaEmbedder

ENDPOINT: dict[str, Any] = {"base_url": "http://127.0.0.1:8000/v1", "model": "m"}


@pytest.fixture(autouse=True)
def no_memoria_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in os.environ:
        if variable.startswith("MEMORIA_"):
            monkeypatch.delenv(variable)


def test_wordllama_is_the_default() -> None:
    settings = load_settings([])
    assert settings.embedder == "wordllama"
    assert isinstance(open_embedder(settings.embedder), WordLlamaEmbedder)


def test_none_means_keyword_search_only() -> None:
    assert open_embedder("none") is None


async def test_openai_is_an_endpoint_embedder() -> None:
    embedder = open_embedder("openai", **ENDPOINT, dimensions=1536)
    assert isinstance(embedder, OpenAICompatibleEmbedder)
    assert embedder.name == "openai-compatible (m)" and embedder.dimensions == 1536
    await close_embedder(embedder)
    await close_embedder(None)


def test_openai_settings_need_a_base_url_and_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMORIA_EMBEDDER", "openai")
    with pytest.raises(
        InvalidSettings,
        match="MEMORIA_EMBEDDER=openai needs MEMORIA_EMBEDDINGS_BASE_URL and"
        " MEMORIA_EMBEDDINGS_MODEL",
    ):
        load_settings([])
    monkeypatch.setenv("MEMORIA_EMBEDDINGS_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("MEMORIA_EMBEDDINGS_MODEL", "nomic-embed-text")
    monkeypatch.setenv("MEMORIA_EMBEDDINGS_DIMENSIONS", "768")
    settings = load_settings([])
    assert (settings.embeddings_model, settings.embeddings_dimensions) == ("nomic-embed-text", 768)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MEMORIA_EMBEDDER", "word2vec"),
        ("MEMORIA_EMBEDDINGS_TIMEOUT", "0"),
        ("MEMORIA_EMBEDDINGS_BATCH_SIZE", "0"),
        ("MEMORIA_EMBEDDINGS_BATCH_SIZE", "4096"),
        ("MEMORIA_EMBEDDINGS_DIMENSIONS", "-1"),
        ("MEMORIA_EMBEDDINGS_MAX_CHARS", "0"),
    ],
)
def test_values_out_of_range_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSettings, match=variable):
        load_settings([])


@pytest.mark.parametrize(
    ("kind", "arguments", "complaint"),
    [
        ("word2vec", {}, "unknown embedder 'word2vec'"),
        ("wordllama", {"dimensions": 128}, "256 dimensions, not 128"),
        ("openai", {}, "needs a base URL and a model"),
        ("openai", {"model": "m"}, "needs a base URL"),
        ("openai", {**ENDPOINT, "base_url": "127.0.0.1:8000"}, "must be http"),
        ("openai", {**ENDPOINT, "batch_size": 0}, "a batch size from 1 to 2048"),
        ("openai", {**ENDPOINT, "timeout": 0}, "a timeout > 0"),
        ("openai", {**ENDPOINT, "dimensions": -3}, "dimensions ≥ 0"),
        ("openai", {**ENDPOINT, "max_chars": 0}, "max_chars ≥ 1"),
    ],
)
def test_unusable_values_are_configuration_errors(
    kind: str, arguments: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        open_embedder(kind, **arguments)
