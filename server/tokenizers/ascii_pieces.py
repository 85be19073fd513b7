"""Token counts of ASCII texts, computed without releasing the GIL.

tiktoken releases the GIL for every text it encodes. On the event loop under
load that hands the GIL to a thread waiting for it (the SQLite writer, between
two statements), and the loop then waits to get it back: at 32 AddMemory calls
in flight, counting one 200-byte message cost ~75 us of server CPU and ~10 % of
the calls per second, for ~10 us of encoding.

tiktoken's encode splits a text with its encoding's pattern, then encodes each
piece with byte-pair merges. Over ASCII text, that pattern's Unicode classes
have exact ASCII equivalents, and the merges of one piece are a tiktoken call
that keeps the GIL. So an ASCII text (most chat in English) is split here with
Python's ``re`` and its pieces encoded by tiktoken, each distinct piece once: the
same counts (tests/unit/test_tokens.py compares them on random ASCII text), in
less time (~9 us for 200 bytes), and no hand-off.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import tiktoken

__all__ = ["MAX_CHARACTERS", "AsciiPieceCounter"]

# Longer texts go to tiktoken's encode: the merges of one long piece run for
# ~0.15 ms per KiB, all of it in one turn of the event loop here.
MAX_CHARACTERS = 4096
# Distinct pieces whose counts are kept (a few MB at most); then forgotten at once.
_KNOWN_PIECES = 65_536

# Per encoding: its split pattern as tiktoken has it (``Encoding._pat_str``), and that
# pattern over ASCII text for Python's ``re``: \p{L} is A-Za-z, \p{Lu} A-Z, \p{Ll}
# a-z, \p{N} 0-9, and \p{Lt}, \p{Lm}, \p{Lo} and \p{M} have no ASCII member; \s is
# the six ASCII White_Space characters (Python's \s also matches \x1c-\x1f); and $
# is \Z (Python's $ also matches before a final newline).
_WHITE = r"\t\n\x0b\x0c\r "
_PATTERNS = {
    "cl100k_base": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++"""
        r"""[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
        rf"""'(?i:[sdmt]|ll|ve|re)|[^\r\nA-Za-z0-9]?+[A-Za-z]++|[0-9]{{1,3}}+"""
        rf"""| ?[^{_WHITE}A-Za-z0-9]++[\r\n]*+|[{_WHITE}]++\Z|[{_WHITE}]*[\r\n]"""
        rf"""|[{_WHITE}]+(?![^{_WHITE}])|[{_WHITE}]""",
    ),
    "o200k_base": (
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+"""
        r"""[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}"""
        r"""| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
        rf"""[^\r\nA-Za-z0-9]?[A-Z]*[a-z]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"""
        rf"""|[^\r\nA-Za-z0-9]?[A-Z]+[a-z]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[0-9]{{1,3}}"""
        rf"""| ?[^{_WHITE}A-Za-z0-9]+[\r\n/]*|[{_WHITE}]*[\r\n]+"""
        rf"""|[{_WHITE}]+(?![^{_WHITE}])|[{_WHITE}]+""",
    ),
}


class AsciiPieceCounter:
    """Counts the tokens of short ASCII texts for one encoding, holding the GIL.

    ``count`` answers None for a text it does not take (not ASCII, longer than
    ``MAX_CHARACTERS``), and for every text when this tiktoken's pattern or
    internals are not the ones the ASCII pattern was written for (``active``).
    """

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        patterns = _PATTERNS.get(encoding.name)
        encode_piece = getattr(getattr(encoding, "_core_bpe", None), "encode_single_piece", None)
        # How to split a text, and to encode a piece; None when inactive.
        self._pieces: tuple[Callable[[str], list[str]], Callable[[bytes], list[int]]] | None = None
        if patterns and getattr(encoding, "_pat_str", None) == patterns[0] and encode_piece:
            self._pieces = (re.compile(patterns[1], re.ASCII).findall, encode_piece)
        self._known: dict[str, int] = {}

    @property
    def active(self) -> bool:
        return self._pieces is not None

    def count(self, text: str) -> int | None:
        if self._pieces is None or len(text) > MAX_CHARACTERS or not text.isascii():
            return None
        split, encode_piece = self._pieces
        known = self._known
        total = 0
        for piece in split(text):
            tokens = known.get(piece)
            if tokens is None:
                tokens = len(encode_piece(piece.encode("ascii")))
                if len(known) >= _KNOWN_PIECES:
                    known.clear()
                known[piece] = tokens
            total += tokens
        return total
