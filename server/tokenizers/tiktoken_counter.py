"""Token counting with tiktoken: the domain's ``TokenCounter``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import tiktoken

from server.domain.pacing import Pace
from server.tokenizers.ascii_pieces import AsciiPieceCounter

__all__ = ["TiktokenCounter"]

# Where tokens are counted. Short ASCII texts (most messages) are counted on the
# event loop holding the GIL (``ascii_pieces``). Other texts go to tiktoken's
# encode, which releases the GIL inside: a counting thread would then have to take
# it back after every text, waiting for the loop's switch interval while the loop
# is busy (7 us per 200-byte text alone, 580 us beside a busy Python thread). So
# they are counted on the loop too, yielding between texts (``Pace``), except a
# single large text (one GIL hand-off for much work), which goes to a thread.
_THREAD_CHARACTERS = 32 * 1024


class TiktokenCounter:
    """Counts the tokens of message contents (ordinary text: special tokens are not parsed)."""

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self._encoding = encoding
        self._ascii = AsciiPieceCounter(encoding)

    @property
    def encoding_name(self) -> str:
        return str(self._encoding.name)

    async def count(self, texts: Sequence[str]) -> list[int]:
        counts: list[int] = []
        count_ascii = self._ascii.count
        encode = self._encoding.encode_ordinary
        pace = Pace()
        for text in texts:
            tokens = count_ascii(text)
            if tokens is None:
                if len(text) > _THREAD_CHARACTERS:
                    tokens = len(await asyncio.to_thread(encode, text))
                else:
                    tokens = len(encode(text))
            counts.append(tokens)
            await pace.step()
        return counts
