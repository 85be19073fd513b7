"""Chooses the summarizer by name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from server.domain.errors import ConfigurationError
from server.domain.ports.summarizer import Summarizer
from server.domain.ports.token_counter import TokenCounter
from server.summarizers.prompt import DEFAULT_PROMPT

__all__ = ["SUMMARIZERS", "LlmEndpoint", "open_summarizer"]

SUMMARIZERS = ("extractive", "openai")


@dataclass(frozen=True, slots=True)
class LlmEndpoint:
    """An OpenAI-compatible chat-completions API; ``prompt`` "" means the built-in one."""

    base_url: str = ""
    model: str = ""
    api_key: str = ""
    timeout: float = 30.0
    prompt: str = ""


@asynccontextmanager
async def open_summarizer(
    name: str, tokens: TokenCounter, *, token_budget: int, llm: LlmEndpoint
) -> AsyncIterator[Summarizer]:
    """The summarizer called ``name`` (one of ``SUMMARIZERS``), closed on exit."""
    if name == "extractive":
        from server.summarizers.extractive import ExtractiveSummarizer

        yield ExtractiveSummarizer(tokens, token_budget)
        return
    if name != "openai":
        raise ConfigurationError(f"unknown summarizer {name!r}; choose one of {SUMMARIZERS}")
    from server.summarizers.openai_compatible import OpenAICompatibleSummarizer

    missing = [
        what for what, value in [("a base URL", llm.base_url), ("a model", llm.model)] if not value
    ]
    if missing:
        raise ConfigurationError(f"the openai summarizer needs {' and '.join(missing)}")
    summarizer = OpenAICompatibleSummarizer(
        base_url=llm.base_url,
        model=llm.model,
        api_key=llm.api_key,
        timeout=llm.timeout,
        prompt=llm.prompt or DEFAULT_PROMPT,
        token_budget=token_budget,
    )
    try:
        yield summarizer
    finally:
        await summarizer.aclose()
