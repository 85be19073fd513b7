"""Chooses the summarizer from the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from server.config import ConfigurationError, Settings
from server.domain.summaries import Summarizer
from server.domain.tokens import TokenCounter

__all__ = ["open_summarizer"]


@asynccontextmanager
async def open_summarizer(settings: Settings, tokens: TokenCounter) -> AsyncIterator[Summarizer]:
    """The summarizer chosen by ``MEMORIA_SUMMARIZER``, closed on exit."""
    if settings.summarizer == "extractive":
        from server.summarizers.extractive import ExtractiveSummarizer

        yield ExtractiveSummarizer(tokens, settings.summary_token_budget)
        return
    from server.summarizers.openai_compatible import OpenAICompatibleSummarizer

    missing = [
        name
        for name, value in [
            ("MEMORIA_LLM_BASE_URL", settings.llm_base_url),
            ("MEMORIA_LLM_MODEL", settings.llm_model),
        ]
        if not value
    ]
    if missing:
        raise ConfigurationError(f"MEMORIA_SUMMARIZER=openai needs {' and '.join(missing)}")
    llm = OpenAICompatibleSummarizer(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout,
        prompt=settings.summary_prompt,
        token_budget=settings.summary_token_budget,
    )
    try:
        yield llm
    finally:
        await llm.aclose()
