"""The layers the folder names state: shared/ is the run-time library, services/ are the
applications, ops/ is operator tooling above them. Walks every import of the tree."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("shared", "services", "ops")


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted (a module of the tree where it resolves to one)
    top_level: bool  # executed at import time (not inside a function or TYPE_CHECKING)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def tree_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for layer in LAYERS
        for path in sorted((ROOT / layer).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


MODULES = tree_modules()


def _resolve(name: str) -> str:
    """The longest prefix of `name` that is a module of the tree (or `name` itself)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return name


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, path: Path) -> Iterator[Import]:
    def walk(nodes: list[ast.stmt], top: bool) -> Iterator[Import]:
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(module, _resolve(alias.name), top)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    yield Import(module, _resolve(f"{node.module}.{alias.name}"), top)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield from walk(node.body, False)
            elif isinstance(node, ast.If):
                yield from walk(node.body, top and not _is_type_checking(node))
                yield from walk(node.orelse, top)
            elif isinstance(node, ast.ClassDef | ast.With | ast.Try | ast.AsyncWith):
                for block in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, block, []):
                        inner = child.body if isinstance(child, ast.ExceptHandler) else [child]
                        yield from walk(inner, top)

    yield from walk(ast.parse(path.read_text(), str(path)).body, True)


ALL_IMPORTS = [imp for module, path in MODULES.items() for imp in imports_of(module, path)]


def _layer(module: str) -> str:
    return module.split(".")[0]


def _service(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 else None


def test_the_walk_sees_the_tree() -> None:
    """A guard for the tests below: they would pass vacuously on an empty walk."""
    assert {_layer(m) for m in MODULES} == set(LAYERS)
    assert {_service(m) for m in MODULES} >= {
        "scheduler",
        "generator",
        "resolver",
        "enricher",
        "projector",
    }
    assert any(i.target.startswith("services.") for i in ALL_IMPORTS if _layer(i.source) == "ops")


def test_shared_imports_neither_services_nor_ops() -> None:
    wrong = [
        f"{i.source} -> {i.target}"
        for i in ALL_IMPORTS
        if _layer(i.source) == "shared" and _layer(i.target) in ("services", "ops")
    ]
    assert not wrong, wrong


def test_services_import_no_tooling_and_no_other_service() -> None:
    wrong = [
        f"{i.source} -> {i.target}"
        for i in ALL_IMPORTS
        if _layer(i.source) == "services"
        and (
            _layer(i.target) == "ops"
            or (_layer(i.target) == "services" and _service(i.target) != _service(i.source))
        )
    ]
    assert not wrong, wrong


def test_no_import_cycle() -> None:
    """Among imports run at import time; a cycle works only by the order modules load in."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for i in ALL_IMPORTS:
        if i.top_level and i.target in MODULES and i.target != i.source:
            graph[i.source].add(i.target)
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


@pytest.mark.parametrize("source", ["shared.kafka.worker", "services.enricher.app"])
def test_known_imports_are_seen(source: str) -> None:
    """The walk resolves `from package import name` to the module of the tree."""
    assert any(i.target == "shared.events" for i in ALL_IMPORTS if i.source == source) or any(
        i.target.startswith("shared.events.") for i in ALL_IMPORTS if i.source == source
    )
