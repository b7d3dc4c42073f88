"""The package's import graph, read from the source: layers point one way.

Every `import` of a `triage` module counts, also those inside functions (a lazy
import still couples the modules), except under `if TYPE_CHECKING:`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "triage"


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, known: set[str]) -> set[str]:
    """The triage modules `path` imports (a `from pkg import name` of a submodule counts as it)."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    me = _module(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("triage"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("triage"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in known else node.module)
    return {m for m in found if m in known and m != me}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(p, set(mods)) for m, p in mods.items()}


def test_the_walk_sees_the_package(graph):
    assert "triage.router" in graph and "triage.rules.ruleset" in graph["triage.facts"]
    assert "triage.rules.loader" in graph["triage.rules.ruleset"]


def test_there_are_no_import_cycles(graph):
    # Tarjan's strongly connected components: any with more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_rules_know_facts_and_domains_not_the_ticket(graph):
    outside = {(m, i) for m, deps in graph.items() if m.startswith("triage.rules")
               for i in deps if not i.startswith("triage.rules") and i != "triage.errors"}
    assert outside == set()


def test_errors_is_a_leaf_and_every_error_lives_there():
    mods = _modules()
    assert _imports(mods["triage.errors"], set(mods)) == set()
    defined = {(m, node.name) for m, p in mods.items() if m != "triage.errors"
               for node in ast.walk(ast.parse(p.read_text()))
               if isinstance(node, ast.ClassDef) and node.name.endswith(("Error", "Errors"))}
    assert defined == set()
