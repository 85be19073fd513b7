"""Chooses the embedder by name: ``wordllama`` (offline default), ``openai``, ``none``."""

from __future__ import annotations

from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from server.domain.errors import ConfigurationError
from server.domain.ports.embedder import Embedder, EmbedderError

__all__ = ["EMBEDDERS", "MAX_BATCH_SIZE", "close_embedder", "open_embedder"]

EMBEDDERS = ("wordllama", "openai", "none")
# The most inputs OpenAI's /embeddings accepts in one request.
MAX_BATCH_SIZE = 2048


@runtime_checkable
class _Closable(Protocol):
    async def aclose(self) -> None: ...


def open_embedder(
    kind: str,
    *,
    base_url: str = "",
    model: str = "",
    api_key: str = "",
    timeout: float = 30.0,
    batch_size: int = 64,
    dimensions: int = 0,
    max_chars: int = 8000,
) -> Embedder | None:
    """The embedder called ``kind`` (one of ``EMBEDDERS``); ``None`` for ``none``
    (keyword search only). Fast: nothing is loaded or called yet. Release it with
    ``close_embedder``.

    ``base_url`` … ``max_chars`` configure ``openai`` (see ``openai_compatible``);
    ``dimensions`` 0 means "learned from the first answer". Raises
    ``ConfigurationError`` for a value the embedder cannot use.
    """
    if kind == "none":
        return None
    if kind == "wordllama":
        from server.embedders.wordllama_static import (
            DIMENSIONS,
            WordLlamaEmbedder,
            wordllama_folder,
        )

        if dimensions not in (0, DIMENSIONS):
            raise ConfigurationError(
                f"the wordllama embedder's vectors have {DIMENSIONS} dimensions, not {dimensions}"
            )
        return WordLlamaEmbedder(wordllama_folder())
    if kind != "openai":
        raise ConfigurationError(f"unknown embedder {kind!r}; choose one of {EMBEDDERS}")
    _check_endpoint(base_url, model, timeout, batch_size, dimensions, max_chars)
    from server.embedders.openai_compatible import OpenAICompatibleEmbedder
    from server.openai_api import OpenAIApi

    api = OpenAIApi(
        base_url=base_url,
        api_key=api_key,
        timeout=timeout,
        what="embeddings endpoint",
        error=EmbedderError,
    )
    return OpenAICompatibleEmbedder(
        api, model=model, batch_size=batch_size, dimensions=dimensions, max_chars=max_chars
    )


async def close_embedder(embedder: Embedder | None) -> None:
    """Releases what ``open_embedder`` opened (an endpoint's connections)."""
    if isinstance(embedder, _Closable):
        await embedder.aclose()


def _check_endpoint(
    base_url: str, model: str, timeout: float, batch_size: int, dimensions: int, max_chars: int
) -> None:
    missing = [what for what, value in [("a base URL", base_url), ("a model", model)] if not value]
    if missing:
        raise ConfigurationError(f"the openai embedder needs {' and '.join(missing)}")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"the embeddings base URL must be http(s)://host[:port]/path, not {base_url!r}"
        )
    problems = [
        problem
        for problem, wrong in [
            (f"a timeout > 0 (got {timeout})", timeout <= 0),
            (
                f"a batch size from 1 to {MAX_BATCH_SIZE} (got {batch_size})",
                not 1 <= batch_size <= MAX_BATCH_SIZE,
            ),
            (f"dimensions ≥ 0 (got {dimensions})", dimensions < 0),
            (f"max_chars ≥ 1 (got {max_chars})", max_chars < 1),
        ]
        if wrong
    ]
    if problems:
        raise ConfigurationError(f"the openai embedder needs {', '.join(problems)}")
