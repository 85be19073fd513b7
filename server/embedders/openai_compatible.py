"""An embedder that asks any OpenAI-compatible ``/embeddings`` endpoint.

``POST {base_url}/embeddings`` with ``model``, ``input`` (a list of at most
``batch_size`` texts; batches go one after another), ``encoding_format: "base64"``
and, when configured, ``dimensions`` — the request the OpenAI SDK sends. Base64
float32 is what the SDK asks for by default (a quarter of the JSON size); a
plain list of floats is accepted too, from servers that ignore the format.

Dimensions are configured or learned. Configured (``dimensions`` > 0): sent with
every request, for models that can shorten their vectors (OpenAI's
``text-embedding-3-*``), and every answer must have that length. Learned
(``dimensions`` 0): taken from the first answer, so ``dimensions`` is 0 until then,
and every later answer must match it.

Texts are cut to ``max_chars`` characters (endpoints refuse inputs over their
token limit: 8,192 tokens at OpenAI). Empty texts are not sent (endpoints refuse
them) and get zero rows. Error answers, timeouts, unreachable endpoints and
malformed answers raise ``EmbedderError``, which the caller retries.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from server.domain.ports.embedder import EmbedderError, Vectors
from server.embedders.vectors import normalised_rows

if TYPE_CHECKING:
    from server.openai_api import OpenAIApi

__all__ = ["OpenAICompatibleEmbedder"]


class OpenAICompatibleEmbedder:
    def __init__(
        self, api: OpenAIApi, *, model: str, batch_size: int, dimensions: int, max_chars: int
    ) -> None:
        self._api = api
        self._model = model
        self._batch_size = batch_size
        self._configured_dimensions = dimensions
        self._dimensions = dimensions
        self._max_chars = max_chars

    @property
    def name(self) -> str:
        return f"openai-compatible ({self._model})"

    @property
    def dimensions(self) -> int:
        """The configured length, else the one learned from the first answer (0 before)."""
        return self._dimensions

    async def aclose(self) -> None:
        await self._api.aclose()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        sent = [i for i, text in enumerate(texts) if text.strip()]
        parts = [
            await self._embed_batch([texts[i][: self._max_chars] for i in batch])
            for batch in (
                sent[start : start + self._batch_size]
                for start in range(0, len(sent), self._batch_size)
            )
        ]
        if not self._dimensions:  # only empty texts so far: ask once to learn the length
            await self._embed_batch(["dimensions"])
        rows = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        if sent:
            rows[sent] = np.concatenate(parts)
        return rows

    async def _embed_batch(self, inputs: list[str]) -> Vectors:
        body: dict[str, Any] = {
            "model": self._model,
            "input": inputs,
            "encoding_format": "base64",
        }
        if self._configured_dimensions:
            body["dimensions"] = self._configured_dimensions
        rows = await self._api.post("/embeddings", body, lambda answer: _rows(answer, len(inputs)))
        length = rows.shape[1]
        if not self._dimensions:
            self._dimensions = length
        elif length != self._dimensions:
            raise EmbedderError(
                f"the embeddings endpoint answered {length}-dimension vectors;"
                f" expected {self._dimensions}"
            )
        return normalised_rows(rows)


def _rows(answer: Any, count: int) -> Vectors:
    """The answer's vectors in input order; ``ValueError`` unless there is one finite,
    non-empty vector per input, all of one length."""
    items = sorted(answer["data"], key=lambda item: int(item["index"]))
    if [item["index"] for item in items] != list(range(count)):
        raise ValueError(f"expected one vector for each of {count} inputs")
    rows = np.stack([_vector(item["embedding"]) for item in items])
    if rows.shape[1] == 0 or not np.isfinite(rows).all():
        raise ValueError("empty or non-finite vectors")
    return rows


def _vector(encoded: object) -> Vectors:
    if isinstance(encoded, str):
        return np.frombuffer(base64.b64decode(encoded, validate=True), dtype="<f4")
    if isinstance(encoded, list):
        return np.asarray(encoded, dtype=np.float32)
    raise TypeError(f"an embedding is base64 or a list of numbers, not {type(encoded).__name__}")
