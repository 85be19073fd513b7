"""The Go and TypeScript examples pass every check against a live server.

Each example stores the seed conversation, reads window memory, streams the history,
imports 5,000 messages twice and decodes INVALID_ARGUMENT and NOT_FOUND; it exits
non-zero on any failed check (clients/go/cmd/example, clients/typescript/examples).
"""

from __future__ import annotations

from bench.harness.server_process import ServerProcess
from tests.polyglot.conftest import ROOT, run, tool

GO_DIR = ROOT / "clients" / "go"
TS_DIR = ROOT / "clients" / "typescript"
CHECKS = [
    "add the seed conversation",
    "window memory",
    "stream the history",
    "import twice",
    "INVALID_ARGUMENT detail",
    "NOT_FOUND",
]


def assert_all_checks_passed(output: str, language: str) -> None:
    print(output)  # shown with -s, and on failure
    for check in CHECKS:
        assert f"ok   {check}" in output
    assert f"{language} example: all {len(CHECKS)} checks passed" in output
    assert "BadRequest: session_id: may only contain" in output
    assert "5000 stored, then 0 stored and 5000 duplicates; session holds 5000" in output


def test_go_example(sqlite_server: ServerProcess) -> None:
    go = tool("go")
    run([go, "vet", "./..."], cwd=GO_DIR, timeout=600)
    result = run(
        [go, "run", "./cmd/example", "-addr", sqlite_server.address], cwd=GO_DIR, timeout=600
    )
    assert_all_checks_passed(result.stdout, "go")


def test_typescript_example(sqlite_server: ServerProcess) -> None:
    node = tool("node")
    tsc = TS_DIR / "node_modules" / ".bin" / "tsc"
    assert tsc.exists(), "the TypeScript packages are not installed: run `make tools`"
    run([str(tsc), "-p", str(TS_DIR)], timeout=300)
    result = run([node, str(TS_DIR / "dist" / "examples" / "example.js"), sqlite_server.address])
    assert_all_checks_passed(result.stdout, "ts")
