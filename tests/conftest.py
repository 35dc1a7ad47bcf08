"""Shared fixtures: every store-level test runs once per backend.

SQLite always runs. PostgreSQL runs when PARKBENCH_TEST_PG_URL points at a server (`.ci/run`
starts a throwaway one); each test gets a fresh database. Without the variable, PostgreSQL
tests are skipped locally with a hint — and fail under CI=true, where skipping would hide them.
Every PostgreSQL skip goes through testkit.skip_postgres, which enforces that. (An explicit
``--backend=sqlite`` is a request, not a missing server: it skips PostgreSQL everywhere.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from testkit import (
    PG_ENV,
    FakeClock,
    create_pg_database,
    drop_pg_database,
    pg_admin_url_or_skip,
)

from parkbench.core.store import Store

REPO = Path(__file__).resolve().parents[1]
#: What sys.path held before pytest set up the repository root as a test package.
_PATH_AT_START = frozenset(sys.path)


@pytest.fixture(scope="session", autouse=True)
def _checkout_parent_off_sys_path() -> None:
    """Undo what pytest's prepend import mode does to the repository root.

    The root is the ``parkbench`` package (it has ``__init__.py``), so pytest sets it up as a
    test package: it imports it under the checkout folder's name and puts the folder's
    *parent* first on ``sys.path``. Every sibling folder then shadows real packages, for this
    process and for every process it spawns (a worktree named ``sqlmodel`` beside the
    checkout broke ``import sqlmodel`` in the crash lab's workers). Parkbench itself is
    imported from its installation, so the entry serves nothing: take it out again.
    """
    parent = str(REPO.parent)
    if parent not in _PATH_AT_START:
        while parent in sys.path:
            sys.path.remove(parent)
    stray = sys.modules.get(REPO.name)
    if stray is not None and getattr(stray, "__file__", None) == str(REPO / "__init__.py"):
        del sys.modules[REPO.name]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("all", "sqlite", "postgres"),
        default="all",
        help="run store-level tests on one backend only",
    )


def _wanted(config: pytest.Config, backend: str) -> bool:
    return config.getoption("--backend") in ("all", backend)


@pytest.fixture(scope="session")
def pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, pg_admin_url: str | None) -> str:
    name: str = request.param
    if not _wanted(request.config, name):
        pytest.skip(f"--backend={request.config.getoption('--backend')}")
    if name == "postgres" and not pg_admin_url:
        pg_admin_url_or_skip()  # skips locally, fails under CI
    return name


@pytest.fixture
def db_url(backend: str, tmp_path: Path, pg_admin_url: str | None) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'parkbench.db'}"
        return
    assert pg_admin_url
    url = create_pg_database(pg_admin_url)
    try:
        yield url
    finally:
        drop_pg_database(pg_admin_url, url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(db_url: str, clock: FakeClock) -> Iterator[Store]:
    with Store.open(db_url, clock=clock) as opened:
        yield opened


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    root.mkdir()
    return root
