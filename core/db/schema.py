"""Schema versions: create on first use, upgrade older databases, refuse newer ones.

The fast path (the common case for every short-lived CLI process) is one look at the
``alembic_version`` row; Alembic itself is imported only when there is work to do.

Creation and upgrade are serialised, because a fresh database is often opened by several
processes at once (a CI job starting parallel agents): the one that finds work to do takes
the schema lock — SQLite's write lock (``BEGIN IMMEDIATE``), PostgreSQL's transaction-level
advisory lock — then looks again and migrates only if the schema is still not at head, in
that same transaction. The others wait for the lock (the busy/lock timeout), then find the
schema at head and go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from parkbench.core.db.engine import HEAD_REVISION, enable_wal, is_sqlite, redact_url
from parkbench.core.errors import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("alembic")

#: PostgreSQL advisory lock key of schema creation/upgrade ("pkbschem" as a 64-bit integer).
#: Advisory locks are per database, so this serialises only openers of the same database.
SCHEMA_LOCK_KEY = int.from_bytes(b"pkbschem", "big", signed=True)


def current_revision(engine: Engine) -> str | None:
    """The revision stamped in the database, or None for an empty database."""
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: sa.Connection) -> str | None:
    names = set(sa.inspect(conn).get_table_names())
    if "alembic_version" not in names:
        if names & {"runs", "tasks", "events"}:
            raise DatabaseError(
                f"database {redact_url(str(conn.engine.url))} has Parkbench-like tables "
                "but no schema version",
                hint="point --db at a fresh file, or restore the database from a backup",
            )
        if names:
            raise DatabaseError(
                f"database {redact_url(str(conn.engine.url))} is not a Parkbench database",
                hint="point --db at a new file or an empty database",
            )
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def alembic_config(connection: sa.Connection) -> Config:
    """Alembic's configuration for our scripts, running on ``connection`` (see env.py)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@contextmanager
def schema_lock(engine: Engine) -> Iterator[sa.Connection]:
    """A transaction holding the schema lock; one process at a time gets it per database.

    SQLite: ``BEGIN IMMEDIATE`` takes the write lock, waiting up to the busy timeout.
    PostgreSQL: ``pg_advisory_xact_lock`` waits up to the lock timeout, and is released with
    the transaction (DDL is transactional there, so the upgrade commits with it).
    """
    with engine.connect() as conn:
        conn = conn.execution_options(parkbench_write=True)  # SQLite: BEGIN IMMEDIATE
        with conn.begin():
            if not is_sqlite(engine):
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY}
                )
            yield conn


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision`` under the schema lock (no checks: see :func:`ensure_schema`)."""
    from alembic import command  # imported before the lock is taken, not while holding it

    with schema_lock(engine) as conn:
        command.upgrade(alembic_config(conn), revision)


def ensure_schema(engine: Engine, *, create: bool = True) -> str:
    """Bring the database to :data:`HEAD_REVISION`; refuse one newer than this code."""
    revision = current_revision(engine)
    if revision == HEAD_REVISION:
        enable_wal(engine)
        return revision
    _refuse_to_migrate(engine, revision, create)
    # Only now, with the version known to be ours, may the file itself be changed.
    enable_wal(engine)
    from alembic import command

    with schema_lock(engine) as conn:
        # Another process may have migrated (or, in theory, stamped a newer revision)
        # between the look above and the lock: look again, holding it.
        revision = _revision(conn)
        if revision != HEAD_REVISION:
            _refuse_to_migrate(engine, revision, create)
            command.upgrade(alembic_config(conn), "head")
    return HEAD_REVISION


def _refuse_to_migrate(engine: Engine, revision: str | None, create: bool) -> None:
    if revision is not None and _is_newer(revision):
        raise DatabaseError(
            f"database schema is at revision {revision}, newer than this Parkbench knows "
            f"({HEAD_REVISION}); it was left untouched",
            hint="upgrade Parkbench (pip install -U parkbench) before using this database",
            database_revision=revision,
            code_revision=HEAD_REVISION,
        )
    if revision is None and not create:
        raise DatabaseError(
            f"database {redact_url(str(engine.url))} has no Parkbench schema",
            hint="check --db / PARKBENCH_DB with `parkbench db path`; if this is the "
            "database to use, create the schema with `parkbench db upgrade`",
        )


def _is_newer(revision: str) -> bool:
    try:
        return int(revision) > int(HEAD_REVISION)
    except ValueError:
        return True  # a revision id we never wrote: treat as foreign, never touch it


def check_schema(engine: Engine) -> str:
    """For a read-only open: the schema must already be this code's; nothing is written."""
    revision = current_revision(engine)
    if revision is not None and revision != HEAD_REVISION and not _is_newer(revision):
        raise DatabaseError(
            f"database schema is at revision {revision}, older than this Parkbench "
            f"({HEAD_REVISION}); a read-only open cannot upgrade it",
            hint="run `parkbench db upgrade` once with write access, then browse it read-only",
        )
    return ensure_schema(engine, create=False)
