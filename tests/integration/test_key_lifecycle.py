"""A key's life through the command line, on two servers sharing one store."""

from __future__ import annotations

import time

import grpc
import pytest
from memoria.v1 import memory_service_pb2 as pb

from bench.harness.requests import message
from bench.harness.server_process import ServerProcess
from bench.harness.stubs import Stubs
from tests.support.keys import create_key, key_id, keys_command, wait_for_refusal
from tests.support.stores import StoreUrls

CACHE_SECONDS = 1.0


@pytest.mark.all_stores
def test_create_use_list_revoke_on_two_servers(
    store_kind: str, store_urls: StoreUrls, tmp_path_factory: pytest.TempPathFactory
) -> None:
    store_url = store_urls.fresh(store_kind)
    key = create_key(store_url, "acme", "lifecycle test")  # the tenant is created with it
    env = {"MEMORIA_AUTH": "api-key", "MEMORIA_KEY_CACHE_SECONDS": str(CACHE_SECONDS)}
    servers = [
        ServerProcess(store_url, tmp_path_factory.mktemp("server"), env).start() for _ in range(2)
    ]
    stubs = [Stubs.connect(server.address, api_key=key) for server in servers]
    try:
        for n, each in enumerate(stubs):
            request = pb.AddMemoryRequest(session_id="life", messages=[message(f"from {n}")])
            assert each.memory.AddMemory(request).messages[0].sequence == n + 1

        listed = keys_command(store_url, "list")
        assert listed.returncode == 0, listed.stderr
        header, row = listed.stdout.splitlines()
        assert header.split()[:4] == ["KEY", "ID", "TENANT", "CREATED"]
        fields = row.split()
        assert fields[:2] == [key_id(key), "acme"] and row.endswith("lifecycle test")
        assert fields[3] != "-" and fields[4] == "-"  # used, not revoked
        assert key.split("_")[2] not in listed.stdout + listed.stderr
        other = keys_command(store_url, "list", "--tenant", "globex")
        assert other.stdout.splitlines()[1:] == []

        revoked = keys_command(store_url, "revoke", key_id(key))
        assert revoked.returncode == 0, revoked.stderr
        assert revoked.stdout.startswith(f"revoked key {key_id(key)} of tenant acme at ")
        started = time.monotonic()
        for each in stubs:
            error = wait_for_refusal(each, within=CACHE_SECONDS + 4)
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            assert error.details() == f"revoked API key (key id {key_id(key)})"
        assert time.monotonic() - started < CACHE_SECONDS + 4
        assert keys_command(store_url, "list").stdout.splitlines()[1].split()[4] != "-"
    finally:
        for each in stubs:
            each.close()
        for server in servers:
            server.stop()


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["revoke", "zzzzzzzzzzzz"], "memoria: no API key has the id 'zzzzzzzzzzzz'"),
        (
            ["revoke", "mk_" + "a" * 12 + "_" + "s" * 52],
            "memoria: no API key has the id given (pass the key id, not the key)",
        ),
        (["create", "--tenant", "no spaces"], "memoria: tenant: must be 1 to 64 characters"),
        (["create", "--tenant", "acme", "--description", "d" * 201], "at most 200 characters"),
        (["list", "--tenant", "a/b"], "memoria: tenant: must be 1 to 64 characters"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    store_kind: str, store_urls: StoreUrls, args: list[str], complaint: str
) -> None:
    result = keys_command(store_urls.fresh(store_kind), *args)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert complaint in line
    assert "s" * 52 not in line
