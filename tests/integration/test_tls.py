"""TLS and mutual TLS through a real server, and the TLS walkthrough of docs/security.md."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2
from memoria.v1 import memory_service_pb2 as pb
from memoria_client import AuthenticationError, MemoriaClient

from bench.harness.requests import message
from bench.harness.server_process import ServerProcess
from bench.harness.stubs import Stubs
from tests.integration.test_readme import marked_blocks, run_block
from tests.support.certificates import Certificates, make_certificates


def non_loopback_ipv4() -> str:
    """This machine's address on its default route (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: any routed address will do
        address: str = probe.getsockname()[0]
    assert not address.startswith("127."), "no non-loopback IPv4 address on this machine"
    return address


@pytest.fixture(scope="module")
def host_ip() -> str:
    return non_loopback_ipv4()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory, host_ip: str) -> Certificates:
    hosts = ["localhost", "127.0.0.1", host_ip]
    return make_certificates(tmp_path_factory.mktemp("certificates"), hosts)


def tls_env(certificates: Certificates, *, mutual: bool = False) -> dict[str, str]:
    env = {
        "MEMORIA_TLS_CERT": str(certificates.server_cert),
        "MEMORIA_TLS_KEY": str(certificates.server_key),
    }
    if mutual:
        env["MEMORIA_TLS_CLIENT_CA"] = str(certificates.ca)
    return env


def running(store_dir: Path, env: dict[str, str]) -> ServerProcess:
    return ServerProcess(f"sqlite:///{store_dir}/memoria.db", store_dir, env).start()


@pytest.fixture(scope="module")
def tls_server(
    certificates: Certificates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    server = running(tmp_path_factory.mktemp("tls"), tls_env(certificates))
    yield server
    server.stop()


def refused(channel: grpc.Channel) -> grpc.RpcError:
    """The error a health check gets on ``channel`` (which is expected to fail)."""
    check = health_pb2.HealthCheckRequest()
    with pytest.raises(grpc.RpcError) as raised:
        channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )(check, timeout=3)
    channel.close()
    return raised.value


def test_tls_works_with_the_ca_and_plaintext_does_not(
    tls_server: ServerProcess, certificates: Certificates
) -> None:
    assert tls_server.wait_for_log("(TLS, auth none,")
    credentials = grpc.ssl_channel_credentials(root_certificates=certificates.read("ca"))
    stubs = Stubs.connect(tls_server.address, credentials=credentials)
    added = stubs.memory.AddMemory(pb.AddMemoryRequest(session_id="tls", messages=[message("x")]))
    assert added.messages[0].sequence == 1
    stubs.close()
    error = refused(grpc.insecure_channel(tls_server.address))
    assert error.code() == grpc.StatusCode.UNAVAILABLE


def test_mtls_requires_a_client_certificate(certificates: Certificates, tmp_path: Path) -> None:
    server = running(tmp_path, tls_env(certificates, mutual=True))
    try:
        assert server.wait_for_log("(mTLS, auth none,")
        ca = certificates.read("ca")
        without = grpc.ssl_channel_credentials(root_certificates=ca)
        error = refused(grpc.secure_channel(server.address, without))
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        with_certificate = grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=certificates.read("client_key"),
            certificate_chain=certificates.read("client_cert"),
        )
        stubs = Stubs.connect(server.address, credentials=with_certificate)
        response = stubs.health.Check(health_pb2.HealthCheckRequest())
        assert response.status == health_pb2.HealthCheckResponse.SERVING
        stubs.close()
    finally:
        server.stop()


def test_non_loopback_without_tls_starts_with_a_warning(tmp_path: Path) -> None:
    server = running(tmp_path, {"MEMORIA_LISTEN": "0.0.0.0:0", "MEMORIA_AUTH": "api-key"})
    try:
        warnings = [line for line in server.log if " WARNING " in line]
    finally:
        server.stop()
    [warning] = warnings
    assert "serving 0.0.0.0:0 without TLS: API keys and data cross the network in clear" in warning


def test_tls_walkthrough_on_a_non_loopback_address(
    certificates: Certificates, host_ip: str, tmp_path: Path
) -> None:
    start, create, listing, add, refusal = marked_blocks("tls-walkthrough", "docs/security.md")
    # The start command's settings, with this test's files and a free port.
    assert re.findall(r"MEMORIA_\w+=\S+", start) == [
        "MEMORIA_LISTEN=0.0.0.0:50051",
        "MEMORIA_AUTH=api-key",
        "MEMORIA_TLS_CERT=server.pem",
        "MEMORIA_TLS_KEY=server-key.pem",
    ]
    env = {"MEMORIA_LISTEN": "0.0.0.0:0", "MEMORIA_AUTH": "api-key", **tls_env(certificates)}
    server = running(tmp_path, env)
    try:
        address = f"{host_ip}:{server.address.rpartition(':')[2]}"
        run = partial(
            run_block,
            address=address,
            placeholder="memoria.example.com:50051",
            cwd=certificates.ca.parent,  # where ca.pem is, and acme.key will be
            env={"MEMORIA_STORE_URL": server.store_url},
        )
        run(create)
        key_file = certificates.ca.parent / "acme.key"
        assert key_file.stat().st_mode & 0o077 == 0
        assert key_file.read_text().startswith("mk_")
        services = run(listing).split()
        assert "memoria.v1.MemoryService" in services
        [stored] = json.loads(run(add))["messages"]
        assert stored["sequence"] == "1"
        printed = run(refusal)
        assert "Code: Unauthenticated" in printed
        assert "missing API key: send the metadata 'authorization: Bearer <key>'" in printed
        key_id = key_file.read_text().split("_")[1]
        assert server.wait_for_log(f"ms tenant=acme key={key_id} session=tls-walkthrough ")
        # The Python client, as docs/security.md shows it.
        tls = grpc.ssl_channel_credentials(root_certificates=certificates.read("ca"))
        key = key_file.read_text().strip()
        with MemoriaClient(address, api_key=key, tls=tls) as client:
            memory = client.memory.get_memory("tls-walkthrough")
        assert [m.content for m in memory.messages] == ["Hello over TLS"]
        with MemoriaClient(address, tls=tls) as client, pytest.raises(AuthenticationError):
            client.memory.get_memory("tls-walkthrough")
    finally:
        server.stop()
    assert not any(key_file.read_text().strip() in line for line in server.log)
