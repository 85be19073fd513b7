"""Token counting with tiktoken: the domain's ``TokenCounter``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import tiktoken

from server.domain.pacing import Pace
from server.tokenizers.ascii_pieces import AsciiPieceCounter

__all__ = ["TiktokenCounter"]

# Where tokens are counted: on the event loop. tiktoken's encode releases the GIL
# for each text, so a counting thread would have to take it back after every text,
# waiting for the loop's switch interval while the loop is busy (7 us per 200-byte
# text alone, 580 us beside a busy Python thread); only a single large text (one
# hand-off for much work) goes to a thread.
# - A call's few texts (AddMemory's): short ASCII ones holding the GIL
#   (``ascii_pieces``), the others by tiktoken, yielding between texts (``Pace``).
# - Many texts (an import's): by tiktoken even when ASCII, a slice of at most
#   _SLICE_CHARACTERS at a time. The SQLite writer inserts the previous batch
#   meanwhile, and the GIL released for each text lets it run between texts
#   (imports of 300,000 messages measured 5-10 % slower with the GIL held).
_SLICE_CHARACTERS = 32 * 1024
_FEW_TEXTS = 16


class TiktokenCounter:
    """Counts the tokens of message contents (ordinary text: special tokens are not parsed)."""

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self._encoding = encoding
        self._ascii = AsciiPieceCounter(encoding)

    @property
    def encoding_name(self) -> str:
        return str(self._encoding.name)

    async def count(self, texts: Sequence[str]) -> list[int]:
        if len(texts) <= _FEW_TEXTS:
            return await self._count_few(texts)
        return await self._count_many(texts)

    async def _count_few(self, texts: Sequence[str]) -> list[int]:
        counts: list[int] = []
        pace = Pace()
        for text in texts:
            tokens = self._ascii.count(text)
            if tokens is None:
                tokens = await self._count_one(text)
            counts.append(tokens)
            await pace.step()
        return counts

    async def _count_one(self, text: str) -> int:
        if len(text) > _SLICE_CHARACTERS:
            return len(await asyncio.to_thread(self._encoding.encode_ordinary, text))
        return len(self._encoding.encode_ordinary(text))

    async def _count_many(self, texts: Sequence[str]) -> list[int]:
        counts: list[int] = []
        start, characters = 0, 0
        for index, text in enumerate(texts):
            size = len(text)
            if size > _SLICE_CHARACTERS:
                counts += self._encoded(texts[start:index])
                counts.append(await self._count_one(text))
                start, characters = index + 1, 0
            elif characters + size > _SLICE_CHARACTERS:
                counts += self._encoded(texts[start:index])
                await asyncio.sleep(0)  # let other calls run between slices
                start, characters = index, size
            else:
                characters += size
        counts += self._encoded(texts[start:])
        return counts

    def _encoded(self, texts: Sequence[str]) -> list[int]:
        encode = self._encoding.encode_ordinary
        return [len(encode(text)) for text in texts]
