"""The shape of the package (docs/architecture.md): dependencies run one way, nothing imports in
a circle, and no import hides inside a function.

Read from the source with `ast`, so a slip fails here before it becomes a tangle. Every module
must have a layer: a new top-level module or package fails until someone decides where it sits.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "clinic"

# Lower layers never import higher ones. Modules of one layer may import each other (auth and
# audit do: sign-ins are audited, the trail's viewer is admin-only), but never in a circle.
LAYERS: dict[str, int] = {
    # core: settings, extensions and the helpers every feature shares
    "clinic.config": 0,
    "clinic.extensions": 0,
    "clinic.database": 0,
    "clinic.sqlite_support": 0,
    "clinic.clinic_time": 0,
    "clinic.clinical_numbers": 0,
    "clinic.form_choices": 0,
    "clinic.form_rendering": 0,
    "clinic.pagination": 0,
    "clinic.request_bounds": 0,
    "clinic.security_headers": 0,
    "clinic.errors": 0,
    "clinic.field_errors": 0,
    "clinic.submissions": 0,
    "clinic.csv_cells": 0,
    "clinic.administration_terms": 0,
    "clinic.auth": 1,
    "clinic.audit": 1,
    "clinic.navigation": 1,
    "clinic.patients": 2,
    "clinic.staff": 2,
    "clinic.orders": 3,
    "clinic.sessions": 4,
    "clinic.instruments": 4,
    "clinic.register": 4,
    "clinic.review": 5,
    "clinic.main": 5,
    # tools that drive the features from the command line
    "clinic.cli_checks": 6,
    "clinic.demo": 6,
    "clinic.cli": 6,
    # the application factory, which wires everything together
    "clinic": 7,
}
# The factory imports each feature inside its register_* functions: importing any clinic module
# runs clinic/__init__.py first, and that must not load every feature with it.
LATE_IMPORTS_ALLOWED = {"clinic"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    candidates = [name for name in LAYERS if module == name or module.startswith(name + ".")]
    if not candidates:
        raise AssertionError(f"{module} has no layer: add it to LAYERS and docs/architecture.md")
    return LAYERS[max(candidates, key=len)]


def imports_of(path: Path, known: set[str]) -> Iterator[tuple[str, int, bool]]:
    """(imported clinic module, line, inside a function) for every import in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    functions = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in ast.walk(node)
        if child is not node
    }
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from clinic.sessions import bp` imports a name, `from clinic.review import trends`
            # a module: take the submodule where there is one.
            targets = [
                f"{node.module}.{alias.name}"
                if f"{node.module}.{alias.name}" in known
                else node.module
                for alias in node.names
            ]
        for target in targets:
            if target == "clinic" or target.startswith("clinic."):
                yield target, node.lineno, id(node) in functions


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {
        name: {target for target, _, _ in imports_of(path, known) if target != name}
        for name, path in found.items()
    }


def test_every_module_has_a_layer() -> None:
    for name in modules():
        layer_of(name)


def test_no_module_imports_one_from_a_higher_layer() -> None:
    known = set(modules())
    upward = [
        f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)}), line {line}"
        for name, path in modules().items()
        for target, line, _ in imports_of(path, known)
        if layer_of(target) > layer_of(name)
    ]
    assert upward == []


def test_no_import_hides_inside_a_function() -> None:
    known = set(modules())
    late = [
        f"{name} imports {target} inside a function, line {line}"
        for name, path in modules().items()
        if name not in LATE_IMPORTS_ALLOWED
        for target, line, inside in imports_of(path, known)
        if inside
    ]
    assert late == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other() -> None:
    assert cycles(import_graph()) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(
    graph: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert cycles(graph) == expected


def test_the_layer_check_sees_an_upward_import(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from clinic.sessions.models import Score\n")
    (target, _, inside), *_ = imports_of(source, {"clinic.sessions.models"})
    assert target == "clinic.sessions.models"
    assert inside
    assert layer_of(target) > layer_of("clinic.patients.services")
