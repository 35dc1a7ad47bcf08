"""PostgreSQL tests never skip under CI: every PostgreSQL skip goes through one helper."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from testkit import PG_ENV, pg_admin_url_or_skip, skip_postgres

TESTS = Path(__file__).parent


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_a_postgres_skip_fails_under_ci(ci: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="must not be skipped"):
        skip_postgres("no server")


@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_a_postgres_skip_skips_locally(ci: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="no server"):
        skip_postgres("no server")


def test_a_missing_server_url_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PG_ENV, raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        pg_admin_url_or_skip()
    monkeypatch.setenv(PG_ENV, " postgresql+psycopg://u@h/db ")
    assert pg_admin_url_or_skip() == "postgresql+psycopg://u@h/db"


def test_no_test_skips_postgres_on_its_own() -> None:
    """A bare pytest.skip about PostgreSQL would bypass the CI rule (issue 19.14)."""
    offenders = []
    for path in TESTS.rglob("*.py"):
        if path.name == "testkit.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"pytest\.skip\(.*(PostgreSQL|PG_ENV|PARKBENCH_TEST_PG_URL)", line):
                if "LISTEN/NOTIFY is PostgreSQL's" in line:  # a SQLite test, not a PG skip
                    continue
                offenders.append(f"{path.relative_to(TESTS)}:{number}: {line.strip()}")
    assert offenders == []
