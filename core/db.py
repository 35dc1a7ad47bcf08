"""Connections: URL resolution, engine setup per dialect, schema version checks.

This module and the claim statement in :mod:`core.store` are the only places that know
which database is underneath. SQLite runs in WAL mode with a busy timeout, and write
transactions begin IMMEDIATE so two writers never deadlock on a lock upgrade. PostgreSQL
goes through psycopg 3 with a small pool and an ``application_name``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError

from core.errors import DatabaseError, ValidationError

ENV_DB = "PARKBENCH_DB"
#: The newest schema revision this code knows. Revisions are numbered so that a database
#: written by a newer Parkbench can be recognised (and left alone) without its scripts.
HEAD_REVISION = "0002"
SQLITE_BUSY_TIMEOUT_MS = 10_000

Clock = Callable[[], int]  # epoch milliseconds


def default_db_path() -> Path:
    import platformdirs  # imported lazily: only the no-URL path needs it

    return Path(platformdirs.user_data_dir("parkbench", appauthor=False)) / "parkbench.db"


def resolve_url(url: str | None = None) -> str:
    """``--db`` wins, then ``PARKBENCH_DB``, then the file in the user data directory."""
    url = url or os.environ.get(ENV_DB) or ""
    if not url.strip():
        path = default_db_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    url = url.strip()
    if "://" not in url:
        # A bare path is friendlier than a URL for the embedded default.
        return f"sqlite:///{Path(url).expanduser().absolute()}"
    return url


def redact_url(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<malformed URL>"


def make_engine(url: str, *, application_name: str = "parkbench") -> Engine:
    try:
        parsed = sa.engine.make_url(url)
    except ArgumentError as error:
        raise ValidationError(
            f"malformed database URL: {error}",
            hint="use e.g. sqlite:///path/to/parkbench.db or postgresql+psycopg://user@host/db",
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return _postgres_engine(parsed, application_name)
    raise ValidationError(
        f"unsupported database {backend!r}",
        hint="use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB",
    )


def _sqlite_engine(url: sa.URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        parent = Path(database).expanduser().absolute().parent
        if not parent.is_dir():
            raise DatabaseError(
                f"database directory {parent} does not exist",
                hint=f"create it with `mkdir -p {parent}` or pass another --db",
            )
    engine = sa.create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        poolclass=sa.pool.QueuePool if database not in ("", ":memory:") else sa.pool.StaticPool,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's "begin" hook emit BEGIN itself (pysqlite's own is deferred only).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # WAL is switched on by enable_wal() once the schema is known to be ours: switching
        # here would rewrite a foreign or newer database that must be left untouched.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get("parkbench_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _postgres_engine(url: sa.URL, application_name: str) -> Engine:
    query = dict(url.query)
    query.setdefault("application_name", application_name)
    query.setdefault("connect_timeout", "5")
    return sa.create_engine(
        url.set(query=query),
        pool_size=2,
        max_overflow=4,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def enable_wal(engine: Engine) -> None:
    """Put a SQLite file in WAL mode (persistent in the file); a no-op elsewhere."""
    if not is_sqlite(engine):
        return
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] not in ("wal", "memory"):
                cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError:
            pass  # read-only file or directory: reads still work in its current mode
        finally:
            cursor.close()


def system_clock() -> int:
    return time.time_ns() // 1_000_000


def database_clock(engine: Engine) -> Clock:
    """Lease times come from one clock: the database server's.

    SQLite shares the machine's clock, so that is the system clock. For PostgreSQL the
    offset between this machine and the server is measured once (half a round trip of
    error) and applied to every reading, so a worker whose clock is minutes off still
    writes and checks leases on the server's time line.
    """
    if is_sqlite(engine):
        return system_clock
    with engine.connect() as conn:
        before = system_clock()
        server = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
        after = system_clock()
    server_ms = int(server.timestamp() * 1000)
    offset = server_ms - (before + after) // 2
    return lambda: system_clock() + offset


def to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def from_datetime(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def translate(error: Exception, url: str) -> DatabaseError:
    """Turn a driver failure into the stable ``database`` error with a useful hint."""
    text = str(getattr(error, "orig", None) or error).lower()
    where = redact_url(url)
    if "locked" in text or "busy" in text:
        return DatabaseError(
            f"database is locked: another writer held it longer than "
            f"{SQLITE_BUSY_TIMEOUT_MS // 1000} s",
            hint="find the process holding it (`fuser` on the .db file) and retry",
        )
    if "readonly" in text or "read-only" in text or "read only" in text:
        return DatabaseError(
            f"database {where} is read-only",
            hint="fix the file's permissions, or browse it with `parkbench --read-only`",
        )
    if "disk is full" in text or "no space" in text or "disk full" in text:
        return DatabaseError(
            "the disk is full: the change was not written",
            hint="free some space, then run the command again",
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return DatabaseError(
            f"database {where} is corrupt or not a SQLite database",
            hint="restore it from a backup or point --db at another file",
        )
    if "unable to open" in text:
        return DatabaseError(
            f"cannot open database {where}",
            hint="check that the directory exists and is writable (`parkbench db path`)",
        )
    if "password" in text or "authentication" in text or "role" in text:
        return DatabaseError(
            f"the database server refused the credentials for {where}",
            hint="check the user and password in PARKBENCH_DB",
        )
    if "connect" in text or "connection" in text or "server" in text or "timeout" in text:
        return DatabaseError(
            f"cannot reach the database server at {where}",
            hint="check that PostgreSQL is running and PARKBENCH_DB points at it",
        )
    first = str(getattr(error, "orig", None) or error).splitlines()[0] if str(error) else ""
    return DatabaseError(
        f"database error on {where}: {first}",
        hint="run `parkbench db upgrade`, or PARKBENCH_DEBUG=1 for details",
    )
