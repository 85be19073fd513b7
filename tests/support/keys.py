"""``python -m server keys …`` run as an operator runs it."""

from __future__ import annotations

import subprocess
import sys

from bench.harness.server_process import OFFLINE_ENV

__all__ = ["create_key", "keys_command"]


def keys_command(store_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs ``python -m server keys ARGS`` on the store ``store_url`` (given by
    MEMORIA_STORE_URL, as an operator's environment would)."""
    return subprocess.run(
        [sys.executable, "-m", "server", "keys", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**OFFLINE_ENV, "PATH": "/usr/bin:/bin", "MEMORIA_STORE_URL": store_url},
    )


def create_key(store_url: str, tenant: str, description: str = "") -> str:
    """A new key of ``tenant``: the last line ``keys create`` prints."""
    result = keys_command(store_url, "create", "--tenant", tenant, "--description", description)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]
