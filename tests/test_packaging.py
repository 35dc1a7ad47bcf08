"""One import name: the wheel installs `parkbench` and nothing else at the top level; the
sdist is the whole project, so the test suite runs from it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

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
    entry_text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "parkbench = parkbench.tui.cli:main" in entry_text


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


#: What a checkout accumulates that is not the project's source.
LOCAL_STATE = (
    ".git",
    ".venv*",
    "*.egg-info",
    "build",
    "dist",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    ".pg",
)


def _tracked_files() -> list[str] | None:
    """What git tracks (None outside a git checkout, e.g. in an unpacked sdist)."""
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        return None
    done = subprocess.run(
        ["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=False
    )
    return done.stdout.split() if done.returncode == 0 else None


@pytest.fixture(scope="module")
def unpacked_sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sdist")
    # Built from a clean copy: a checkout's parkbench.egg-info (left by an editable install)
    # keeps an old SOURCES.txt that setuptools adds to the sdist, hiding a missing MANIFEST.in.
    source = out / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*LOCAL_STATE))
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (sdist,) = out.glob("parkbench-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(out, filter="data")
    return out / sdist.name.removesuffix(".tar.gz")


def test_the_sdist_has_the_whole_test_suite(unpacked_sdist: Path) -> None:
    for expected in (
        "LICENSE",
        "CHANGELOG.md",
        "README.md",
        "pyproject.toml",
        "py.typed",
        ".ci/run",
        ".ci/lowest.sh",
        "tests/conftest.py",
        "tests/tui/conftest.py",
        "tests/testkit.py",
        "tests/bench/bench_core.py",
        "screenshots/list.png",
        "core/db/alembic/script.py.mako",
    ):
        assert (unpacked_sdist / expected).is_file(), expected
    snapshots = unpacked_sdist / "tests/tui/__snapshots__"
    assert sorted(snapshots.rglob("*.svg")), "the TUI snapshots are missing"
    tracked = _tracked_files()
    if tracked is not None:  # in a checkout: every tracked file, not just the ones named
        missing = [f for f in tracked if f != ".gitignore" and not (unpacked_sdist / f).exists()]
        assert missing == []
    assert not list(unpacked_sdist.rglob("__pycache__"))


def test_pytest_runs_from_the_sdist(unpacked_sdist: Path) -> None:
    # The unpacked tree's own pyproject (pytest config), conftest.py files and snapshots;
    # `parkbench` itself is this interpreter's install of the same source.
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PARKBENCH_TEST_PG_URL")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "tests/test_smoke_lifecycle.py",
            "tests/tui/test_snapshots.py::test_help_screen",
        ],
        cwd=unpacked_sdist,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1]


def test_the_checkout_folder_is_not_importable_as_a_package() -> None:
    # conftest's _checkout_parent_off_sys_path: siblings of the checkout must not shadow
    # real packages in tests or in the processes they spawn.
    assert str(REPO.parent) not in sys.path or str(REPO.parent) in {"", "."}
    # (A checkout folder may share its name with a real module, `types` say: that one stays.)
    stray = sys.modules.get(REPO.name)
    assert stray is None or getattr(stray, "__file__", None) != str(REPO / "__init__.py")
