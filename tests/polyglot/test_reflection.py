"""Reflection speaks v1 and v1alpha, documents the contract, and serves the error details."""

from __future__ import annotations

import json

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2 as pb

from bench.harness.server_process import ServerProcess
from tests.polyglot.conftest import ROOT, run, tool

# The two protocols share their messages (v1 is v1alpha under another package).
VERSIONS = ["v1", "v1alpha"]
BUF = ROOT / ".cache" / "node" / "node_modules" / ".bin" / "buf"
BAD_SESSION = json.dumps({"session_id": "no such session!"})


def reflect(
    address: str, version: str, request: pb.ServerReflectionRequest
) -> pb.ServerReflectionResponse:
    with grpc.insecure_channel(address) as channel:
        info = channel.stream_stream(
            f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
            request_serializer=pb.ServerReflectionRequest.SerializeToString,
            response_deserializer=pb.ServerReflectionResponse.FromString,
        )
        [response] = list(info(iter([request]), timeout=10))
    return response


def files(response: pb.ServerReflectionResponse) -> list[descriptor_pb2.FileDescriptorProto]:
    assert response.HasField("file_descriptor_response"), response
    return [
        descriptor_pb2.FileDescriptorProto.FromString(data)
        for data in response.file_descriptor_response.file_descriptor_proto
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_lists_the_services(sqlite_server: ServerProcess, version: str) -> None:
    response = reflect(sqlite_server.address, version, pb.ServerReflectionRequest(list_services=""))
    assert {s.name for s in response.list_services_response.service} == {
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "memoria.v1.MemoryService",
        "memoria.v1.SessionService",
        "memoria.v1.UserService",
    }


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("symbol", "file"),
    [
        ("google.rpc.BadRequest", "google/rpc/error_details.proto"),
        ("google.rpc.ResourceInfo", "google/rpc/error_details.proto"),
        ("google.rpc.Status", "google/rpc/status.proto"),
    ],
)
def test_serves_the_error_details(
    sqlite_server: ServerProcess, version: str, symbol: str, file: str
) -> None:
    request = pb.ServerReflectionRequest(file_containing_symbol=symbol)
    [found, *_] = files(reflect(sqlite_server.address, version, request))
    assert found.name == file


@pytest.mark.parametrize("version", VERSIONS)
def test_serves_the_contract_with_its_comments(sqlite_server: ServerProcess, version: str) -> None:
    request = pb.ServerReflectionRequest(file_containing_symbol="memoria.v1.MemoryService")
    [found, *_] = files(reflect(sqlite_server.address, version, request))
    assert found.name == "memoria/v1/memory_service.proto"
    assert found.options.go_package.endswith(";memoriav1")
    comments = [location.leading_comments for location in found.source_code_info.location]
    assert any("MemoryService stores the messages" in comment for comment in comments)


def test_describes_reflection_v1_itself(sqlite_server: ServerProcess) -> None:
    request = pb.ServerReflectionRequest(
        file_containing_symbol="grpc.reflection.v1.ServerReflection"
    )
    [found] = files(reflect(sqlite_server.address, "v1", request))
    assert (found.name, found.package) == (
        "grpc/reflection/v1/reflection.proto",
        "grpc.reflection.v1",
    )
    [method] = found.service[0].method
    assert method.input_type == ".grpc.reflection.v1.ServerReflectionRequest"
    assert {m.name for m in found.message_type} >= {"ServerReflectionRequest", "ErrorResponse"}


def test_grpcurl_decodes_the_bad_request_detail(sqlite_server: ServerProcess) -> None:
    result = run(
        [
            tool("grpcurl"),
            "-plaintext",
            "-format-error",
            "-d",
            BAD_SESSION,
            sqlite_server.address,
            "memoria.v1.MemoryService/GetMemory",
        ],
        check=False,
    )
    assert result.returncode != 0
    status = json.loads(result.stderr)
    assert status["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    [detail] = status["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    [violation] = detail["field_violations"]
    assert violation["field"] == "session_id"
    assert "may only contain" in violation["description"]


def test_buf_curl_speaks_reflection_v1(sqlite_server: ServerProcess) -> None:
    assert BUF.exists(), "buf is not installed: run `make tools`"
    url = f"http://{sqlite_server.address}"
    curl = [
        str(BUF),
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--reflect-protocol",
        "grpc-v1",
    ]
    listed = run([*curl, "--list-methods", url]).stdout.split()
    assert "memoria.v1.MemoryService/ImportMessages" in listed
    result = run(
        [*curl, "-d", BAD_SESSION, f"{url}/memoria.v1.MemoryService/GetMemory"], check=False
    )
    assert result.returncode != 0
    error = json.loads(result.stderr)
    assert error["code"] == "invalid_argument"
    # buf curl prints a detail's value as base64 whatever the server serves: it decodes
    # only the types compiled into buf itself (see docs/clients.md).
    assert [d["type"] for d in error["details"]] == ["google.rpc.BadRequest"]
