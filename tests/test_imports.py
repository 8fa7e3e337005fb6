"""The package's import graph, read from the source: no cycles, no private names across modules,
and imports that point one way (HTTP and CLI on top, records at the bottom)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rag"

# Bottom to top: a module may import from its own layer and the layers below, never above.
LAYERS = [
    {"rag", "rag.records", "rag.errors", "rag.config", "rag.durable", "rag.caching"},
    {"rag.text", "rag.documents"},
    {"rag.embedding"},
    {"rag.index"},
    {"rag.retrieval", "rag.answering"},
    {"rag.engine"},
    {"rag.eval"},
    {"rag.http", "rag.cli"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str) -> Iterator[tuple[str, str, int]]:
    """(imported module, imported name or "", line) for every import of a ``rag`` module, at any depth."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "rag":
                    yield alias.name, "", node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "rag":
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in MODULES:  # ``from rag.http import admin`` imports a module
                    yield submodule, "", node.lineno
                else:
                    yield node.module, alias.name, node.lineno


def graph() -> dict[str, set[str]]:
    return {name: {target for target, _, _ in imports(name) if target != name} for name in MODULES}


def layer_of(name: str) -> int:
    for depth in range(name.count(".") + 1, 0, -1):
        prefix = ".".join(name.split(".")[:depth])
        for index, layer in enumerate(LAYERS):
            if prefix in layer:
                return index
    raise AssertionError(f"{name} is in no layer: add its package to LAYERS")


def test_the_graph_is_read() -> None:
    edges = graph()
    assert len(MODULES) > 40 and "rag.engine.service" in edges["rag.http.qa"]
    assert "rag.http.plugin" in edges["rag.http.app"]


def test_no_import_cycles() -> None:
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in sorted(edges.get(name, ())):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name)


def test_no_private_names_imported_across_modules() -> None:
    private = [
        f"{name}:{line} imports {name_}" + (f" from {target}" if target else "")
        for name in MODULES
        for target, name_, line in imports(name)
        if (name_.startswith("_") and not name_.startswith("__")) or any(p.startswith("_") for p in target.split("."))
    ]
    assert private == []


def test_no_private_attributes_of_other_objects() -> None:
    """``other._name`` reaches into another module's or object's internals (``self`` and ``cls`` may)."""
    found = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})
            ):
                found.append(f"{name}:{node.lineno} .{node.attr}")
    assert found == []


def test_imports_point_one_way() -> None:
    upward = [
        f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})"
        for name, targets in graph().items()
        for target in targets
        if layer_of(target) > layer_of(name)
    ]
    assert upward == []
