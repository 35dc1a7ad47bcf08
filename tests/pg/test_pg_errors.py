"""Connection failures against the real server: a clear ``database`` error (CLI exit 5)
with a kind and a next step; a malformed URL is ``validation`` (exit 2). Nothing leaks the
password. Pooled connections that died with the server are replaced, not surfaced twice.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from testkit import skip_postgres

from parkbench.core.db import engine as db
from parkbench.core.errors import EXIT_CODES, DatabaseError, ValidationError
from parkbench.core.store import Store
from pg.pgtest_support import terminate_backend

PASSWORD_PROBE_ROLE = "parkbench_auth_probe"  # .ci/pg.sh makes pg_hba require its password


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _url(admin: str, **changes: object) -> str:
    return sa.engine.make_url(admin).set(**changes).render_as_string(False)


def _refused(url: str) -> DatabaseError:
    with pytest.raises(DatabaseError) as caught:
        Store.open(url)
    error = caught.value
    assert EXIT_CODES[error.code] == 5
    assert "\n" not in error.message and error.hint
    return error


def test_nothing_listening_on_the_port_is_unreachable(pg_admin: str) -> None:
    url = _url(pg_admin, port=_free_port(), password="s3cret-pw")
    error = _refused(url)
    assert error.details["kind"] == "unreachable"
    assert "Connection refused" in error.message
    assert "PostgreSQL is running" in error.hint
    assert "s3cret-pw" not in error.message + error.hint  # never the password


def test_an_unknown_role_is_refused_credentials(pg_admin: str) -> None:
    error = _refused(_url(pg_admin, username=f"nobody_{uuid.uuid4().hex[:8]}"))
    assert error.details["kind"] == "credentials"
    assert "user name and password" in error.hint


def test_a_wrong_password_is_refused_credentials(pg_admin: str) -> None:
    engine = sa.create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            rules = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_hba_file_rules WHERE :role = ANY(user_name) "
                    "AND auth_method IN ('scram-sha-256', 'md5', 'password')"
                ),
                {"role": PASSWORD_PROBE_ROLE},
            ).scalar()
            if not rules:
                message = (
                    f"the server's pg_hba.conf does not require a password for "
                    f"{PASSWORD_PROBE_ROLE}; the cluster from `.ci/pg.sh start` does"
                )
                skip_postgres(message)
            conn.execute(
                sa.text(
                    f"DO $$ BEGIN CREATE ROLE {PASSWORD_PROBE_ROLE} LOGIN PASSWORD 'right'; "
                    "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
                )
            )
            conn.execute(sa.text(f"ALTER ROLE {PASSWORD_PROBE_ROLE} PASSWORD 'right'"))
    finally:
        engine.dispose()
    wrong = _url(pg_admin, username=PASSWORD_PROBE_ROLE, password="wrong-pw")
    error = _refused(wrong)
    assert error.details["kind"] == "credentials"
    assert "password authentication failed" in error.message
    assert "wrong-pw" not in error.message + error.hint
    # The right password gets past authentication (then the role may not create tables:
    # whatever happens next is not a credentials problem).
    right = _url(pg_admin, username=PASSWORD_PROBE_ROLE, password="right")
    try:
        Store.open(right).close()
    except DatabaseError as other:
        assert other.details.get("kind") != "credentials"


def test_a_missing_database_says_so_and_how_to_create_it(pg_admin: str) -> None:
    name = f"pb_missing_{uuid.uuid4().hex[:8]}"
    error = _refused(_url(pg_admin, database=name))
    assert error.details["kind"] == "missing_database"
    assert name in error.message and f"createdb {name}" in error.hint


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://user@localhost:notaport/db",
        "postgresql+psycopg2://user@localhost/db",
        "postgresql+asyncpg://user@localhost/db",
        "postgresql://user@localhost/db?not_a_libpq_option=1",
        "://nothing",
    ],
)
def test_a_malformed_url_is_a_validation_error(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Store.open(url)
    assert EXIT_CODES[caught.value.code] == 2
    assert caught.value.hint


def test_postgres_and_postgresql_schemes_both_mean_psycopg(pg_admin: str) -> None:
    for scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        url = sa.engine.make_url(pg_admin).set(drivername=scheme)
        engine = db.make_engine(url.render_as_string(False))
        try:
            assert engine.dialect.driver == "psycopg"
        finally:
            engine.dispose()


def test_a_pooled_connection_that_idled_is_checked_and_replaced(
    pg_admin: str, pg_store: Store, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_store.enqueue("first", workspace)
    with pg_store.engine.connect() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    assert terminate_backend(pg_admin, pid)  # the pooled connection is now dead
    monkeypatch.setattr(db, "PG_PING_AFTER_IDLE_S", 0.0)  # "idle long enough" right away
    # The checkout pings, finds it dead, and opens a fresh one: the caller sees nothing.
    assert pg_store.enqueue("second", workspace).run_id > 0
    with pg_store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid


def test_a_connection_that_died_in_a_busy_loop_fails_once_then_recovers(
    pg_admin: str, pg_store: Store, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PG_PING_AFTER_IDLE_S", 3600.0)  # a hot loop never pings
    pg_store.enqueue("first", workspace)
    with pg_store.engine.connect() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    assert terminate_backend(pg_admin, pid)
    with pytest.raises(DatabaseError) as caught:
        pg_store.claim_next("agent")
    assert caught.value.details["kind"] == "connection_lost"
    assert "retry" in caught.value.hint
    claim = pg_store.claim_next("agent")  # the pool dropped the dead connection
    assert claim is not None


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from parkbench.tui.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_the_cli_exits_5_with_the_kind_and_2_for_a_malformed_url(pg_admin: str) -> None:
    refused = _cli("stats", "--json", "--db", _url(pg_admin, username="nobody_cli_probe"))
    assert refused.returncode == 5
    error = json.loads(refused.stderr.strip().splitlines()[-1])["error"]
    assert error["code"] == "database" and error["details"]["kind"] == "credentials"
    assert error["hint"]
    gone = _cli("stats", "--db", _url(pg_admin, port=_free_port()))
    assert gone.returncode == 5
    assert "cannot reach the PostgreSQL server" in gone.stderr and "hint:" in gone.stderr
    malformed = _cli("stats", "--db", _url(pg_admin) + "?no_such_option=1")
    assert malformed.returncode == 2
    assert "malformed database URL" in malformed.stderr
