"""One import name: the wheel installs `parkbench` and nothing else at the top level."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _declared_packages() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"parkbench": "."}
    return config["packages"]


def _package_folders() -> list[str]:
    """Every folder of core/ and tui/ with Python modules in it, as its import name."""
    found = {"parkbench"}
    for top in ("core", "tui"):
        for module in (REPO / top).rglob("*.py"):
            rel = module.parent.relative_to(REPO)
            found.add(".".join(("parkbench", *rel.parts)))
    return sorted(found)


def test_every_package_folder_is_declared() -> None:
    # A new subpackage missing from pyproject would be silently absent from the wheel.
    assert sorted(_declared_packages()) == _package_folders()


def test_the_wheel_has_one_top_level_name(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("parkbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"parkbench"}
    # The public API, its type marker, the app's styles and the migrations are all inside.
    for expected in (
        "parkbench/__init__.py",
        "parkbench/py.typed",
        "parkbench/core/lifecycle.py",
        "parkbench/core/db/alembic/env.py",
        "parkbench/core/db/alembic/script.py.mako",
        "parkbench/core/db/alembic/versions/0001_initial.py",
        "parkbench/tui/styles/app.tcss",
        "parkbench/tui/cli/__init__.py",
    ):
        assert expected in names
    assert not [n for n in names if n.startswith("parkbench/tests/")]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "parkbench = parkbench.tui.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_public_api_names_resolve_lazily() -> None:
    # `import parkbench` loads nothing heavy; each exported name resolves on first access.
    probe = (
        "import json, sys, parkbench\n"
        "heavy = [m for m in ('sqlalchemy', 'textual') if m in sys.modules]\n"
        "missing = [n for n in parkbench.__all__ if getattr(parkbench, n, None) is None]\n"
        "print(json.dumps([heavy, missing]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [[], []]
