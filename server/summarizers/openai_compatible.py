"""A summarizer that asks an LLM through any OpenAI-compatible chat-completions API.

``POST {base_url}/chat/completions`` with the configured model and a prompt made
from a template holding ``{previous_summary}``, ``{messages}`` and
``{token_budget}``. HTTP errors, timeouts and malformed answers become
``SummarizerError``, which the caller retries with backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from server.domain.models import Message
from server.domain.ports.summarizer import SummarizerError
from server.summarizers.prompt import render_prompt

__all__ = ["OpenAICompatibleSummarizer"]


class OpenAICompatibleSummarizer:
    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str,
        timeout: float,
        prompt: str,
        token_budget: int,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout
        )
        self._model = model
        self._prompt = prompt
        self._budget = token_budget

    @property
    def name(self) -> str:
        return f"openai-compatible ({self._model})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def summarize(self, previous: str, messages: Sequence[Message]) -> str:
        body = {
            "model": self._model,
            "messages": [
                {
                    "role": "user",
                    "content": render_prompt(self._prompt, previous, messages, self._budget),
                }
            ],
            "max_tokens": self._budget,
            "temperature": 0,
        }
        try:
            response = await self._client.post("/chat/completions", json=body)
        except httpx.TimeoutException as exc:
            raise SummarizerError(f"LLM endpoint timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise SummarizerError(f"LLM endpoint unreachable: {exc!r}") from exc
        if response.status_code != httpx.codes.OK:
            raise SummarizerError(
                f"LLM endpoint answered {response.status_code}: {response.text[:200]!r}"
            )
        try:
            answer: Any = response.json()
            content = answer["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise SummarizerError(f"malformed LLM answer: {response.text[:200]!r}") from exc
        if not isinstance(content, str) or not content.strip():
            raise SummarizerError("the LLM answered an empty summary")
        return content.strip()
