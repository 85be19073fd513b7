"""Fixtures of the polyglot tests: one SQLite-backed server, and the toolchains they need.

The examples exercise the contract, not a storage adapter (the contract suite covers
both), so one server on the embedded store serves them all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from bench.harness.server_process import ServerProcess
from tests.support.stores import StoreUrls

ROOT = Path(__file__).resolve().parents[2]
CACHE_BIN = ROOT / ".cache" / "bin"


def tool(name: str) -> str:
    """The path of a toolchain command; a missing one fails the test, it never skips it."""
    path = shutil.which(name, path=f"{CACHE_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert path is not None, f"{name} is not installed: the polyglot tests need it (`make tools`)"
    return path


def run(
    command: Sequence[str], cwd: Path = ROOT, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Runs ``command``; with ``check``, fails the test with its output unless it exits 0."""
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check:
        assert result.returncode == 0, (
            f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    urls = StoreUrls(tmp_path_factory.mktemp("stores"))
    process = ServerProcess(urls.fresh("sqlite"), tmp_path_factory.mktemp("server")).start()
    yield process
    process.stop()
