"""Test helpers importable from any test directory and from the benchmark scripts.

``conftest.py`` is not importable by name everywhere (pytest imports each directory's
conftest as ``conftest``), so the shared clock and PostgreSQL database helpers live here;
``tests/`` is on ``sys.path`` for every test (the root conftest's directory).
"""

from __future__ import annotations

import os
import uuid
from typing import NoReturn

import pytest
import sqlalchemy as sa

PG_ENV = "PARKBENCH_TEST_PG_URL"
#: 2026-09-01T00:00:00Z: every test starts on the same instant.
T0_MS = 1_788_220_800_000


def under_ci() -> bool:
    """CI=true (GitHub Actions, GitLab, .ci/run): any value but empty, 0, false or no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_postgres(reason: str) -> NoReturn:
    """Every PostgreSQL test that cannot run goes through here: skipped locally with
    ``reason``, failed under CI, where a skipped PostgreSQL test would hide a broken server."""
    if under_ci():
        pytest.fail(f"{reason} (under CI PostgreSQL tests must not be skipped)", pytrace=False)
    pytest.skip(reason)


def pg_admin_url_or_skip() -> str:
    """The admin URL of the test server (``PARKBENCH_TEST_PG_URL``), or :func:`skip_postgres`."""
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        skip_postgres(
            f"PostgreSQL not configured: run `bash .ci/run`, or "
            f"`export {PG_ENV}=$(bash .ci/pg.sh start)` and rerun pytest"
        )
    return url


class FakeClock:
    """A settable clock in epoch milliseconds; tests move time explicitly."""

    def __init__(self, start_ms: int = T0_MS) -> None:
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, seconds: float) -> int:
        self.now_ms += int(seconds * 1000)
        return self.now_ms


def create_pg_database(admin_url: str) -> str:
    """A fresh, empty database on the server behind ``admin_url``; returns its URL."""
    name = f"pb_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(False)


def drop_pg_database(admin_url: str, url: str) -> None:
    name = sa.engine.make_url(url).database
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()
