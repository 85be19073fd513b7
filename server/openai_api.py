"""The HTTP side of an OpenAI-compatible API, shared by the LLM summarizer and the
endpoint embedder: base URL, bearer key, timeout, and every failure raised as the
caller's own error type (which the caller retries).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from server.domain.errors import MemoriaError

__all__ = ["OpenAIApi"]

T = TypeVar("T")


class OpenAIApi:
    """POSTs JSON to ``{base_url}{path}``; ``what`` names the API in error messages."""

    def __init__(
        self, *, base_url: str, api_key: str, timeout: float, what: str, error: type[MemoriaError]
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout
        )
        self._what = what
        self._error = error

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, path: str, body: dict[str, Any], read: Callable[[Any], T]) -> T:
        """``read`` of the JSON answer. Timeouts, connection failures, answers other than
        200 and answers ``read`` cannot make sense of (it raises ``ValueError``,
        ``KeyError``, ``IndexError`` or ``TypeError``) raise the error type."""
        try:
            response = await self._client.post(path, json=body)
        except httpx.TimeoutException as exc:
            raise self._error(f"{self._what} timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise self._error(f"{self._what} unreachable: {exc!r}") from exc
        if response.status_code != httpx.codes.OK:
            raise self._error(
                f"{self._what} answered {response.status_code}: {response.text[:200]!r}"
            )
        try:
            return read(response.json())
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise self._error(
                f"malformed answer from the {self._what} ({exc}): {response.text[:200]!r}"
            ) from exc
