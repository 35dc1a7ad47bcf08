"""The ``postgres`` extra: SQLite never needs psycopg, and a PostgreSQL URL without it is a
``database`` error (exit 5) naming the extra to install.

psycopg's absence is simulated in a subprocess: a ``sitecustomize`` on PYTHONPATH sets
``sys.modules["psycopg"] = None``, so every import of it fails as on an install without the
extra (``pip install parkbench``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from clitest_support import clean_env, run

from parkbench.core.errors import EXIT_CODES

EXTRA = "pip install 'parkbench[postgres]'"
MESSAGE = f"PostgreSQL needs the postgres extra: {EXTRA}"
#: Never contacted: the missing driver is reported before any connection attempt.
PG_URL = "postgresql+psycopg://nobody@127.0.0.1:1/parkbench"


@pytest.fixture
def without_psycopg(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "no-psycopg"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['psycopg'] = None\n")
    return clean_env(PYTHONPATH=str(site))


def test_the_block_really_hides_psycopg(without_psycopg: dict[str, str]) -> None:
    # Without this the other tests could pass on a machine where psycopg imports fine.
    done = subprocess.run(
        [sys.executable, "-c", "import psycopg"],
        env=without_psycopg,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr


def test_a_postgres_url_names_the_extra(without_psycopg: dict[str, str]) -> None:
    for url in (PG_URL, "postgresql://nobody@127.0.0.1:1/parkbench"):
        done = run("--json", "--db", url, "list", env=without_psycopg)
        assert done.code == EXIT_CODES["database"] == 5, done.stderr
        assert done.stdout == ""
        error = done.error()
        assert error["code"] == "database"
        assert error["message"] == MESSAGE
        assert EXTRA in error["hint"]
        assert error.get("details", {}).get("kind") == "missing_driver"
    human = run("--db", PG_URL, "list", env=without_psycopg)
    assert human.code == 5
    first, hint = human.stderr.splitlines()[:2]
    assert first == f"error[database]: {MESSAGE}"
    assert hint.startswith(f"hint: install it with `{EXTRA}`")
    for tool in ("pipx install --force 'parkbench[postgres]'", "uv tool install"):
        assert tool in hint
    assert "Traceback" not in human.stderr


LIBRARY_PROBE = r"""
import json, sys
from parkbench.core.errors import DatabaseError
from parkbench.core.store import Store
from parkbench.core.db.notify import PostgresChangeFeed

seen = []
for attempt in (lambda: Store.open(sys.argv[1]), lambda: PostgresChangeFeed(sys.argv[1])):
    try:
        attempt()
    except DatabaseError as error:
        seen.append(error.to_dict())
print(json.dumps(seen))
"""


def test_the_library_raises_the_same_error(without_psycopg: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LIBRARY_PROBE, PG_URL],
        env=without_psycopg,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    errors = json.loads(done.stdout)
    assert [e["message"] for e in errors] == [MESSAGE, MESSAGE]  # the store and the feed


def test_sqlite_works_without_psycopg(without_psycopg: dict[str, str], tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    demo = run(
        "--db",
        db,
        "demo",
        "--runs",
        "20",
        "--seed",
        "7",
        "--workspace",
        str(tmp_path / "ws"),
        env=without_psycopg,
    )
    assert demo.code == 0, demo.stderr
    listed = run("--json", "--db", db, "list", "--status", "all", env=without_psycopg)
    assert listed.code == 0, listed.stderr
    assert listed.json()
