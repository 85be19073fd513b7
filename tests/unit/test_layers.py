"""Dependencies point one way: api → domain ← adapters (docs/architecture.md).

Walks the imports of every module (with ``ast``, lazy imports included) and
checks them against the layer table below. The table is the one in
docs/architecture.md; change both together.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Which of our packages each layer may import (besides itself), longest prefix wins.
ALLOWED: dict[str, set[str]] = {
    "server.domain": set(),
    "server.api": {"server.domain", "memoria"},
    "server.storage.sqlite": {"server.domain"},
    "server.storage.mongo": {"server.domain"},
    "server.storage": {"server.domain", "server.storage.sqlite", "server.storage.mongo"},
    "server.summarizers": {"server.domain", "server.openai_api"},
    "server.tokenizers": {"server.domain"},
    "server.embedders": {"server.domain", "server.openai_api"},
    "server.openai_api": {"server.domain"},
    "server.config": set(),
    "server.listen_address": {"server.domain"},
    "server.workers": {"server.config", "server.domain", "server.listen_address"},
    "server.log_writer": set(),
    "server.thread_scheduling": set(),
    "server.serving": {
        "server.app",
        "server.config",
        "server.domain",
        "server.log_writer",
        "server.thread_scheduling",
    },
    "server.app": {"server"},
    "server.key_commands": {"server.config", "server.domain", "server.storage"},
    "server.__main__": {
        "server.config",
        "server.domain",
        "server.key_commands",
        "server.serving",
        "server.workers",
    },
    "bench": {"server", "memoria"},
}
OURS = ("server", "tests", "bench", "memoria")
# The domain uses the standard library plus pure in-memory computation libraries (no I/O):
# numpy for vector scoring, snowballstemmer for search terms.
DOMAIN_THIRD_PARTY = ("numpy", "snowballstemmer")
# Third-party packages a layer must not use.
FORBIDDEN_THIRD_PARTY: dict[str, tuple[str, ...]] = {
    "server.storage": ("grpc", "grpc_health", "grpc_reflection", "grpc_status", "google"),
    "server.summarizers": ("grpc", "grpc_health", "grpc_reflection", "grpc_status", "google"),
    "server.tokenizers": ("grpc", "grpc_health", "grpc_reflection", "grpc_status", "google"),
    "server.embedders": ("grpc", "grpc_health", "grpc_reflection", "grpc_status", "google"),
    "server.openai_api": ("grpc", "grpc_health", "grpc_reflection", "grpc_status", "google"),
    "server.api": ("pymongo", "bson", "sqlite3", "tiktoken", "httpx", "pydantic"),
}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    importer: str
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}: {self.rule}"


def layer_of(module: str) -> str | None:
    matches = [layer for layer in ALLOWED if module == layer or module.startswith(layer + ".")]
    return max(matches, key=len, default=None)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def imports_of(source: str, module: str) -> list[tuple[int, str]]:
    """(line, imported module) of every import statement, relative ones resolved."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join([*parent, base] if base else parent)
            found.append((node.lineno, base))
    return found


def check_module(module: str, source: str, path: str) -> list[Violation]:
    layer = layer_of(module)
    violations: list[Violation] = []
    for line, imported in imports_of(source, module):
        top = imported.split(".")[0]
        if (
            layer == "server.domain"
            and top not in OURS
            and top not in sys.stdlib_module_names
            and top not in DOMAIN_THIRD_PARTY
        ):
            rule = "the domain may import only the domain, the stdlib, numpy, snowballstemmer"
            violations.append(Violation(path, line, module, imported, rule))
        if layer is not None and top not in OURS:
            forbidden = next(
                (f for prefix, f in FORBIDDEN_THIRD_PARTY.items() if _within(layer, prefix)), ()
            )
            if top in forbidden:
                rule = f"{layer} must not use {top}"
                violations.append(Violation(path, line, module, imported, rule))
            continue
        if layer is None or top not in OURS or _within(imported, layer):
            continue
        allowed = ALLOWED[layer]
        if not any(_within(imported, target) for target in allowed):
            rule = f"{layer} may import only " + (", ".join(sorted(allowed)) or "itself")
            violations.append(Violation(path, line, module, imported, rule))
    return violations


def package_graph(edges: list[tuple[str, str]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for importer, imported in edges:
        source, target = layer_of(importer), layer_of(imported)
        if source and target and source != target:
            graph.setdefault(source, set()).add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of layers, as a path that ends where it starts; None when acyclic."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for following in sorted(graph.get(node, ())):
            if state.get(following) == 1:
                return [*stack[stack.index(following) :], following]
            if following not in state and (cycle := visit(following)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def tree_modules() -> list[tuple[str, str, str]]:
    """(module, source, path) of every Python module of server/ and bench/."""
    modules = []
    for package in ("server", "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules.append((".".join(parts), path.read_text(), str(relative)))
    return modules


def test_every_import_follows_the_layer_table() -> None:
    violations = [v for m in tree_modules() for v in check_module(*m)]
    assert not violations, "imports against the layers:\n" + "\n".join(map(str, violations))


def test_the_layers_form_no_cycle() -> None:
    edges = [
        (module, imported)
        for module, source, _ in tree_modules()
        for _, imported in imports_of(source, module)
    ]
    cycle = find_cycle(package_graph(edges))
    assert cycle is None, "layers import each other: " + " → ".join(cycle or [])


def test_every_module_belongs_to_a_layer() -> None:
    homeless = [m for m, _, _ in tree_modules() if m != "server" and layer_of(m) is None]
    assert not homeless, f"modules outside the layer table: {homeless}"


# The checker itself: each fault found in the tree before the layers were fixed
# (issue 8) must be reported.
@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("server.domain.memory", "from server.storage.port import Store"),
        ("server.domain.memory", "import pymongo"),
        ("server.domain.models", "from pydantic import BaseModel"),
        ("server.api.health", "from server.storage.port import Store"),
        ("server.api.memory_servicer", "from server.storage.sqlite import SqliteStore"),
        ("server.storage.mongo.client", "from server.config import ConfigurationError"),
        ("server.storage.sqlite.store", "from server.storage.mongo import MongoStore"),
        ("server.storage.mongo.store", "import grpc"),
        ("server.summarizers.open", "from server.config import Settings"),
        ("server.summarizers.extractive", "from server.api.status import status_of"),
        ("server.tokenizers.tiktoken_counter", "from server.config import ConfigurationError"),
        ("server.config", "from server.summarizers.prompt import DEFAULT_PROMPT"),
        ("bench.latency", "from tests.support.records import NOW"),
        ("server.storage.mongo.messages", "from ...api import status"),
    ],
)
def test_the_checker_reports_a_forbidden_import(module: str, source: str) -> None:
    [violation] = check_module(module, source, "example.py")
    assert module in str(violation)


def test_the_checker_finds_a_cycle_between_layers() -> None:
    graph = package_graph(
        [
            ("server.config", "server.summarizers.prompt"),
            ("server.summarizers.open", "server.config"),
        ]
    )
    assert find_cycle(graph) == ["server.config", "server.summarizers", "server.config"]
