"""The layout's rules, read from the source: no import cycles, and layers only import down.

Every ``import`` counts, also lazy ones inside functions and ``TYPE_CHECKING`` blocks: a
cycle hidden behind either still means two modules that cannot be read one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _modules() -> dict[str, Path]:
    found = {}
    for top in ("core", "tui"):
        for path in (REPO / top).rglob("*.py"):
            parts = ["parkbench", *path.relative_to(REPO).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """The parkbench modules ``name`` imports (a package's own ``__init__`` runs are not
    counted as an import of each of its modules)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in GRAPH:
        if root in index:
            continue
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(GRAPH[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_the_graph_is_read() -> None:
    # A broken reader would pass every rule below vacuously.
    assert "parkbench.core.store.worker" in GRAPH["parkbench.core.store"]
    assert "parkbench.core.lifecycle" in GRAPH["parkbench.core.store.worker"]
    assert len(MODULES) > 50


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_the_core_never_imports_the_ui() -> None:
    offenders = {
        name: sorted(d for d in deps if d.startswith("parkbench.tui"))
        for name, deps in GRAPH.items()
        if name.startswith("parkbench.core")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_nothing_below_the_command_line_imports_it() -> None:
    cli = "parkbench.tui.cli"
    offenders = {
        name: sorted(d for d in deps if d == cli or d.startswith(cli + "."))
        for name, deps in GRAPH.items()
        if not (name == cli or name.startswith(cli + "."))
    }
    assert {k: v for k, v in offenders.items() if v} == {}
