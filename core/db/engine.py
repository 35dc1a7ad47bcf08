"""Connections: engine setup per dialect (URLs, timeouts and errors: :mod:`parkbench.core.db.info`).

This module and the claim statement in :mod:`parkbench.core.store` are the only places that know
which database is underneath. SQLite runs in WAL mode with a busy timeout, and write
transactions begin IMMEDIATE so two writers never deadlock on a lock upgrade. PostgreSQL
goes through psycopg 3 with a small pool and an ``application_name``.
"""

from __future__ import annotations

import importlib
import sqlite3
import time
from types import ModuleType
from typing import TypedDict

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError

from parkbench.core.db.info import (
    # re-exported: parkbench.core.db.engine is where callers look for them
    ENV_BUSY_TIMEOUT,
    ENV_DB,
    HEAD_REVISION,
    MISSING_DB_HINT,
    SQLITE_BUSY_TIMEOUT_MS,
    Clock,
    busy_timeout_ms,
    connect_sqlite_read_only,
    damaged_data,
    default_db_path,
    from_datetime,
    out_of_range,
    redact_url,
    resolve_url,
    sqlite_path,
    sqlite_session_pragmas,
    system_clock,
    to_datetime,
    translate,
)
from parkbench.core.errors import DatabaseError, NotFoundError, ValidationError

__all__ = [
    "ENV_BUSY_TIMEOUT",
    "ENV_DB",
    "HEAD_REVISION",
    "MISSING_DB_HINT",
    "POSTGRES_EXTRA_HINT",
    "SQLITE_BUSY_TIMEOUT_MS",
    "Clock",
    "busy_timeout_ms",
    "damaged_data",
    "database_clock",
    "default_db_path",
    "enable_wal",
    "from_datetime",
    "is_sqlite",
    "make_engine",
    "out_of_range",
    "redact_url",
    "require_psycopg",
    "resolve_url",
    "sqlite_path",
    "system_clock",
    "to_datetime",
    "translate",
]


def make_engine(
    url: str,
    *,
    application_name: str = "parkbench",
    read_only: bool = False,
    must_exist: bool = False,
) -> Engine:
    """An engine for ``url``. ``read_only`` opens it so that nothing can be written;
    ``must_exist`` refuses (``not_found``) a SQLite file that is not there yet, before
    connecting would create it."""
    try:
        parsed = sa.engine.make_url(url)
    except (ArgumentError, ValueError) as error:  # ValueError: e.g. a non-numeric port
        raise ValidationError(
            f"malformed database URL: {error}",
            hint="use e.g. sqlite:///path/to/parkbench.db or postgresql+psycopg://user@host/db",
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, read_only, must_exist)
    if backend in ("postgresql", "postgres"):
        return _postgres_engine(_psycopg_url(parsed), application_name, read_only)
    raise ValidationError(
        f"unsupported database {backend!r}",
        hint="use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB",
    )


def _sqlite_engine(url: sa.URL, read_only: bool = False, must_exist: bool = False) -> Engine:
    database = url.database or ""
    timeout_ms = busy_timeout_ms()
    options: dict[str, object] = {}
    if database and database != ":memory:" and not database.startswith("file:"):
        path = sqlite_path(database)
        if must_exist and not path.is_file():
            raise NotFoundError(f"there is no database at {path}", hint=MISSING_DB_HINT)
        # The driver opens exactly the file checked here: sqlite3 itself never expands `~`.
        url = url.set(database=str(path))
        if not path.parent.is_dir():
            raise DatabaseError(
                f"database directory {path.parent} does not exist",
                hint=f"create it with `mkdir -p {path.parent}` or pass another --db",
            )
        if read_only:
            if not path.is_file():
                raise DatabaseError(
                    f"there is no database at {path} to open read-only",
                    hint="check --db / PARKBENCH_DB, or create it with `parkbench db upgrade`",
                )
            options["creator"] = lambda: connect_sqlite_read_only(
                path, timeout_ms, check_same_thread=False
            )
    engine = sa.create_engine(
        url,
        connect_args={"timeout": timeout_ms / 1000, "check_same_thread": False},
        poolclass=sa.pool.QueuePool if database not in ("", ":memory:") else sa.pool.StaticPool,
        **options,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's "begin" hook emit BEGIN itself (pysqlite's own is deferred only).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in sqlite_session_pragmas(timeout_ms, read_only=read_only):
                cursor.execute(pragma)
        except UnicodeDecodeError as error:
            # The first statement parses the schema; a garbled one makes even SQLite's error
            # message undecodable. Report it as the corruption it is (the `database` error).
            raise sqlite3.DatabaseError(f"database disk image is malformed ({error})") from None
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get("parkbench_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


#: A pooled PostgreSQL connection idle longer than this is pinged before it is handed out.
PG_PING_AFTER_IDLE_S = 5.0


class Keepalives(TypedDict):
    """libpq's TCP keepalive parameters (typed, so ``**PG_KEEPALIVES`` checks against
    psycopg.connect's own keyword parameters)."""

    keepalives: int
    keepalives_idle: int
    keepalives_interval: int
    keepalives_count: int


#: TCP keepalives: a long-lived TUI notices a vanished server in about a minute, not hours.
PG_KEEPALIVES: Keepalives = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


#: psycopg (with its bundled libpq) is the ``postgres`` extra, not a base dependency.
POSTGRES_EXTRA_HINT = "pip install 'parkbench[postgres]'"


def require_psycopg() -> ModuleType:
    """psycopg, or the ``database`` error that names the extra to install.

    A ``database`` error, not ``validation``: the URL is right and works once the extra is
    installed; what is missing is part of this installation, like an unreachable server.
    Only PostgreSQL users pay for the import (SQLite-only installs never load it).
    """
    try:
        return importlib.import_module("psycopg")
    except ImportError as error:
        raise DatabaseError(
            f"PostgreSQL needs the postgres extra: {POSTGRES_EXTRA_HINT}",
            hint=(
                f"install it with `{POSTGRES_EXTRA_HINT}` (a pipx or uv tool:"
                " `pipx install --force 'parkbench[postgres]'`,"
                " `uv tool install 'parkbench[postgres]'`), or use a sqlite:///FILE URL"
            ),
            kind="missing_driver",
            missing=error.name or "psycopg",
        ) from None


def _psycopg_url(url: sa.URL) -> sa.URL:
    """``postgresql://``, ``postgres://`` and ``postgresql+psycopg://`` all mean psycopg 3."""
    if url.drivername not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ValidationError(
            f"unsupported PostgreSQL driver {url.drivername!r}: Parkbench uses psycopg 3",
            hint="write the URL as postgresql+psycopg://USER@HOST/DB",
        )
    psycopg = require_psycopg()
    options = {k: v for k, v in url.query.items() if isinstance(v, str)}
    try:  # libpq's own check of the option names, before any connection attempt
        psycopg.conninfo.make_conninfo("", **options)
    except psycopg.ProgrammingError as error:
        raise ValidationError(
            f"malformed database URL: {str(error).strip()}",
            hint="remove the option, or use one libpq knows (sslmode, connect_timeout, ...)",
        ) from None
    return url.set(drivername="postgresql+psycopg")


def _ping_when_idle(engine: Engine) -> None:
    """Pre-ping only connections that sat idle in the pool.

    A worker's claim/complete loop reuses a connection within milliseconds and skips the
    extra round trip; a long-lived TUI whose pooled connection died with a server restart
    gets a fresh one transparently instead of one failed action.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: object, record: sa.pool.ConnectionPoolEntry) -> None:
        record.info["parkbench_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(
        dbapi_connection: DBAPIConnection, record: sa.pool.ConnectionPoolEntry, _proxy: object
    ) -> None:
        since = record.info.get("parkbench_idle_since")
        if since is None or time.monotonic() - since < PG_PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and checks out (or opens) another.
            raise sa.exc.DisconnectionError(str(error)) from error


def _postgres_engine(url: sa.URL, application_name: str, read_only: bool = False) -> Engine:
    query = dict(url.query)
    query.setdefault("application_name", application_name)
    query.setdefault("connect_timeout", "5")
    # A row lock held by a stuck transaction fails a write after the busy timeout, as on
    # SQLite, instead of hanging the worker forever.
    settings = f"-c lock_timeout={busy_timeout_ms()}"
    if read_only:
        settings += " -c default_transaction_read_only=on"
    query["options"] = f"{query['options']} {settings}" if query.get("options") else settings
    # A CLI process uses one connection; the TUI a few (its UI and background workers).
    engine = sa.create_engine(
        url.set(query=query),
        pool_size=2,
        max_overflow=4,
        pool_timeout=10,
        pool_recycle=1800,
        connect_args=dict(PG_KEEPALIVES),
    )
    _ping_when_idle(engine)
    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def enable_wal(engine: Engine) -> None:
    """Put a SQLite file in WAL mode (persistent in the file); a no-op elsewhere."""
    if not is_sqlite(engine):
        return
    with engine.connect() as conn:
        # dbapi_connection is typed Optional (None once detached); a connection just checked
        # out has one.
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] not in ("wal", "memory"):
                cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError:
            pass  # read-only file or directory: reads still work in its current mode
        finally:
            cursor.close()


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
