"""A summarizer that asks an LLM through any OpenAI-compatible chat-completions API.

``POST {base_url}/chat/completions`` with the configured model and a prompt made
from a template holding ``{previous_summary}``, ``{messages}`` and
``{token_budget}``. HTTP errors, timeouts and malformed answers become
``SummarizerError``, which the caller retries with backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from server.domain.models import Message
from server.domain.ports.summarizer import SummarizerError
from server.openai_api import OpenAIApi
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
        self._api = OpenAIApi(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            what="LLM endpoint",
            error=SummarizerError,
        )
        self._model = model
        self._prompt = prompt
        self._budget = token_budget

    @property
    def name(self) -> str:
        return f"openai-compatible ({self._model})"

    async def aclose(self) -> None:
        await self._api.aclose()

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
        content = await self._api.post("/chat/completions", body, _content)
        if not isinstance(content, str) or not content.strip():
            raise SummarizerError("the LLM answered an empty summary")
        return content.strip()


def _content(answer: Any) -> object:
    content: object = answer["choices"][0]["message"]["content"]
    return content
