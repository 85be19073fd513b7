"""The summarizer port: condenses a conversation into a rolling summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.domain.errors import MemoriaError
from server.domain.models import Message

__all__ = ["Summarizer", "SummarizerError"]


class SummarizerError(MemoriaError):
    """The summarizer failed (error answer, timeout, unreachable); worth retrying."""


class Summarizer(Protocol):
    """Condenses a conversation. Implementations must not mutate their inputs."""

    @property
    def name(self) -> str:
        """A short name for logs, e.g. ``extractive``."""

    async def summarize(self, previous: str, messages: Sequence[Message]) -> str:
        """A new summary of ``previous`` (the current summary, "" when none) followed
        by ``messages`` (oldest first). Raises ``SummarizerError`` when it cannot."""
