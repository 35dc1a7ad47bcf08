"""The snapshot code's place in the layers: no cycle inside tui/snapshot, nothing from the
CLI (which sits above it), and the summary without Textual."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SNAPSHOT = Path(__file__).resolve().parents[2] / "tui" / "snapshot"
PACKAGE = "parkbench.tui.snapshot"


def imported_names(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules() -> dict[str, set[str]]:
    return {f"{PACKAGE}.{path.stem}": imported_names(path) for path in SNAPSHOT.glob("*.py")}


def test_no_snapshot_module_imports_the_cli() -> None:
    offenders = {
        name: sorted(n for n in names if n.startswith("parkbench.tui.cli"))
        for name, names in modules().items()
    }
    assert not {name: found for name, found in offenders.items() if found}


def test_no_import_cycle_inside_the_snapshot_package() -> None:
    graph = {
        name: {n for n in names if n.startswith(PACKAGE + ".")} for name, names in modules().items()
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [name for name in graph if reaches(name, name, set())] == []


@pytest.mark.parametrize("module", ["summary", "receipts", "options"])
def test_the_summary_side_loads_neither_textual_nor_the_cli(module: str) -> None:
    code = (
        f"import sys, {PACKAGE}.{module}; "
        "print(sorted(n for n in sys.modules "
        "if n.split('.')[0] in ('textual', 'rich') or n.startswith('parkbench.tui.cli')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
