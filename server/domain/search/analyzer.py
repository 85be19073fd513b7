"""Text to terms: the one analysis applied to queries and documents alike.

Words are runs of letters and digits (Unicode), lower-cased, stemmed with the
English Snowball stemmer; a short list of English stop words is dropped. The
same function analyzes what is indexed and what is searched, on every store, so
a query term matches exactly the documents holding its stem.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

__all__ = ["MAX_TERM_LENGTH", "analyze", "stem"]

_WORD = re.compile(r"[^\W_]+")
# Longer "words" are base64 blobs, hashes and the like: never worth a term.
MAX_TERM_LENGTH = 40
_STOP_WORDS = frozenset(
    re.findall(
        r"\w+",
        """a an and are as at be but by for if in into is it no not of on or such that the
        their then there these they this to was will with i you he she we me my our your
        its do does did so than too very can just""",
    )
)
_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The stem of a lower-cased word (cached: chat vocabularies repeat a lot)."""
    stemmed: str = _stemmer.stemWord(word)
    return stemmed


def analyze(text: str) -> list[str]:
    """The terms of ``text`` in order, repeats kept (their counts are term frequencies)."""
    return [
        stem(word)
        for word in _WORD.findall(text.lower())
        if word not in _STOP_WORDS and len(word) <= MAX_TERM_LENGTH
    ]
