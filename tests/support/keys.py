"""``python -m server keys …`` run as an operator runs it."""

from __future__ import annotations

import subprocess
import sys
import time

import grpc
from memoria.v1 import session_service_pb2 as pb

from bench.harness.server_process import OFFLINE_ENV
from bench.harness.stubs import Stubs

__all__ = ["create_key", "key_id", "keys_command", "wait_for_refusal"]


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


def key_id(key: str) -> str:
    """The id part of ``mk_<key id>_<secret>``."""
    return key.split("_")[1]


def wait_for_refusal(stubs: Stubs, within: float = 5.0) -> grpc.RpcError:
    """The error a ListSessions call gets once a revocation has reached the server (after
    its key cache time at most); fails when the calls still succeed after ``within``."""
    deadline = time.monotonic() + within
    while True:
        try:
            stubs.sessions.ListSessions(pb.ListSessionsRequest())
        except grpc.RpcError as error:
            return error
        assert time.monotonic() < deadline, "the revoked key still works"
        time.sleep(0.05)
