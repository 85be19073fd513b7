"""The examples of clients/python/README.md run as written (only the address differs),
and so does the typed example."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.harness.server_process import ServerProcess

CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "python"


def example_code() -> str:
    readme = (CLIENT_DIR / "README.md").read_text()
    section = readme.split("<!-- example:start -->")[1].split("<!-- example:end -->")[0]
    return "\n".join(re.findall(r"```python\n(.*?)```", section, flags=re.S))


def run_python(code: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_readme_examples(live_server: ServerProcess) -> None:
    code = example_code()
    assert code.count("```") == 0 and "localhost:50051" in code

    lines = run_python(code.replace("localhost:50051", live_server.address)).splitlines()

    assert re.fullmatch(
        r"\[\(1, 'Jane', \d+\), \(2, 'HistoryBot', \d+\), \(3, 'Jane', \d+\)\]", lines[0]
    )
    assert lines[1] == "Jane (user, 6 tokens):"
    assert lines[2] == "  Who was Octavia Butler?"
    assert lines[3].startswith("HistoryBot (assistant, ")
    assert lines[5].startswith("Jane (user, ")
    assert lines[6] == "  Which books of hers were made into movies?"
    assert lines[7] == "Last two: ['HistoryBot', 'Jane']"
    assert lines[8:] == ["Memory not found"]


def test_typed_example(live_server: ServerProcess) -> None:
    example = (CLIENT_DIR / "examples" / "typed_usage.py").read_text()
    lines = run_python(example, live_server.address).splitlines()
    assert lines == ["['Hello!', 'session']", "['Hi, Jane.']"]
