"""The distribution: a wheel with the generated stubs and py.typed inside, that works
without the server's packages, and stubs that live beside the server's in one process."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from memoria.v1 import memory_service_pb2 as server_pb
from memoria_client._proto import memory_service_pb2 as client_pb

from bench.harness.server_process import ServerProcess

CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "python"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy, so that the build leaves nothing in the source tree.
    source = out / "source"
    shutil.copytree(
        CLIENT_DIR, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("memoria_client-*.whl")
    return built


def test_wheel_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        requires = [
            line.split(":", 1)[1].split()[0].split(">")[0].split("<")[0]
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    assert {
        "memoria_client/__init__.py",
        "memoria_client/py.typed",
        "memoria_client/_proto/memory_service_pb2.py",
        "memoria_client/_proto/memory_service_pb2.pyi",
        "memoria_client/_proto/memory_service_pb2_grpc.py",
        "memoria_client/_proto/user_service_pb2_grpc.pyi",
    } <= names
    assert not any(n.startswith(("memoria/", "server/")) for n in names)
    assert sorted(requires) == ["grpcio", "grpcio-status", "protobuf"]


def test_wheel_works_without_the_server_packages(
    wheel: Path, live_server: ServerProcess, tmp_path: Path
) -> None:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "wheel")
    # -S: no site-packages .pth files, so neither the editable server (memoria, server)
    # nor the editable client is importable: only the wheel and the installed grpc/protobuf.
    path = f"{tmp_path / 'wheel'}:{sysconfig.get_paths()['purelib']}"
    code = (
        "import importlib.util, memoria_client\n"
        "assert importlib.util.find_spec('memoria') is None\n"
        "assert importlib.util.find_spec('server') is None\n"
        "from memoria_client import MemoriaClient, Message\n"
        "with MemoriaClient(ADDRESS) as client:\n"
        "    client.memory.add_memory('wheel-session', [Message(role_type='user', content='hi')])\n"
        "    memory = client.memory.get_memory('wheel-session')\n"
        "print(memoria_client.__file__, memory.messages[0].content)\n"
    ).replace("ADDRESS", repr(live_server.address))
    result = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={"PYTHONPATH": path},
        cwd=tmp_path,  # not the repository, whose server/ would be importable
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    module_file, content = result.stdout.split()
    assert module_file.startswith(str(tmp_path / "wheel")) and content == "hi"


def test_client_and_server_stubs_share_one_process() -> None:
    """Both copies register the same proto files in protobuf's default pool, byte for
    byte, so each reads what the other writes."""
    request = client_pb.AddMemoryRequest(session_id="s")
    request.messages.add(content="hello", role_type=1)
    parsed = server_pb.AddMemoryRequest.FromString(request.SerializeToString())
    assert parsed.messages[0].content == "hello"
    assert client_pb.DESCRIPTOR.serialized_pb == server_pb.DESCRIPTOR.serialized_pb
    assert client_pb.DESCRIPTOR.name == "memoria/v1/memory_service.proto"
