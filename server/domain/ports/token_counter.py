"""The token counting the domain relies on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["TokenCounter"]


class TokenCounter(Protocol):
    @property
    def encoding_name(self) -> str:
        """Name of the encoding, e.g. ``cl100k_base``."""

    async def count(self, texts: Sequence[str]) -> list[int]:
        """The number of tokens of each text, in order."""
