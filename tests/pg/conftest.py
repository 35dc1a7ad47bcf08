"""Fixtures for the PostgreSQL-only tests: a fresh database per test on the real server.

Locally these tests skip (with the command that runs them) when PARKBENCH_TEST_PG_URL is not
set; under CI they fail instead, because a skipped PostgreSQL test would hide a broken server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from testkit import pg_admin_url_or_skip

from parkbench.core.store import Store
from pg.pgtest_support import create_database, drop_database


@pytest.fixture(scope="session")
def pg_admin() -> str:
    return pg_admin_url_or_skip()  # skips locally, fails under CI


@pytest.fixture
def pg_url(pg_admin: str) -> Iterator[str]:
    url = create_database(pg_admin)
    try:
        yield url
    finally:
        drop_database(pg_admin, url)


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    """A store on the server's clock, as workers on many machines would use it."""
    with Store.open(pg_url) as store:
        yield store
