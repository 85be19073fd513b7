"""`buf breaking` guards the v1 contract against the committed baseline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.polyglot.conftest import ROOT, run

BUF = ROOT / ".cache" / "node" / "node_modules" / ".bin" / "buf"
BASELINE = ROOT / "protos" / "v1-baseline.json"


def breaking(module_root: Path) -> tuple[int, str]:
    assert BUF.exists(), "buf is not installed: run `make tools`"
    result = run([str(BUF), "breaking", "--against", str(BASELINE)], cwd=module_root, check=False)
    return result.returncode, result.stdout + result.stderr


def test_protos_keep_the_baseline_contract() -> None:
    assert breaking(ROOT) == (0, "")


@pytest.mark.parametrize(
    ("file", "removed", "complaint"),
    [
        (
            "message.proto",
            "  string content = 4;\n",
            'Previously present field "4" with name "content" on message "Message" was deleted.',
        ),
        (
            "memory_service.proto",
            "  rpc ImportMessages(stream ImportMessagesRequest)"
            " returns (ImportMessagesResponse);\n",
            'Previously present RPC "ImportMessages" on service "MemoryService" was deleted.',
        ),
    ],
)
def test_a_removal_breaks_the_contract(
    tmp_path: Path, file: str, removed: str, complaint: str
) -> None:
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    proto = tmp_path / "protos" / "memoria" / "v1" / file
    text = proto.read_text()
    assert removed in text
    proto.write_text(text.replace(removed, ""))

    code, output = breaking(tmp_path)

    assert code != 0
    assert complaint in output
