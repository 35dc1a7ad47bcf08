"""Database facts that need no SQLAlchemy: where the database is, how long a writer waits,
the clock leases are written in, and what a driver error means for the user.

Kept apart from :mod:`parkbench.core.db.engine` (engines, which import SQLAlchemy) so that a
CLI start that only resolves a URL or prints an error stays light;
:mod:`parkbench.core.db.engine` re-exports all of it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload
from urllib.parse import quote

from parkbench.core.errors import DatabaseError, ValidationError

ENV_DB = "PARKBENCH_DB"
#: The newest schema revision this code knows. Revisions are numbered so that a database
#: written by a newer Parkbench can be recognised (and left alone) without its scripts.
HEAD_REVISION = "0005"
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Overrides the busy timeout (milliseconds); tests use a short one instead of waiting 10 s.
ENV_BUSY_TIMEOUT = "PARKBENCH_BUSY_TIMEOUT_MS"

Clock = Callable[[], int]  # epoch milliseconds


def default_db_path() -> Path:
    import platformdirs  # imported lazily: only the no-URL path needs it

    return Path(platformdirs.user_data_dir("parkbench", appauthor=False)) / "parkbench.db"


def sqlite_path(database: str) -> Path:
    """The file a SQLite database name means: ``~`` expanded as a shell user expects, made
    absolute. The one place this is decided, for bare ``--db`` paths, ``sqlite:///`` URLs
    (:func:`resolve_url`) and the engine (:func:`parkbench.core.db.engine.make_engine`)."""
    return Path(database).expanduser().absolute()


#: Where a command that found no database sends the user next.
MISSING_DB_HINT = (
    "check --db / PARKBENCH_DB with `parkbench db path`; a new database is created by "
    "`parkbench enqueue ...` or `parkbench demo --workspace DIR`"
)


def db_from_env() -> str | None:
    """``PARKBENCH_DB``; None when it is unset.

    Set but blank (``PARKBENCH_DB=``, often ``PARKBENCH_DB=$UNSET_VAR`` in a script) is
    refused rather than read as unset: falling back to the default file would quietly give a
    worker or a reviewer a different database from the one they were configured for.
    """
    value = os.environ.get(ENV_DB)
    if value is not None and not value.strip():
        raise ValidationError(
            f"{ENV_DB} is set but empty",
            hint=f"set {ENV_DB} to a file path or URL, or `unset {ENV_DB}` to use the "
            "default database (`parkbench db path` shows which one a command uses)",
        )
    return value


def resolve_url(url: str | None = None, *, make_default_dir: bool = True) -> str:
    """``--db`` wins, then ``PARKBENCH_DB``, then the file in the user data directory.

    A bare path and a plain ``sqlite:///PATH`` URL both come back as ``sqlite:///`` and the
    absolute, ``~``-expanded path, so every command on ``--db ~/x.db`` or
    ``--db sqlite:///~/x.db`` names the same file in its messages and opens it.
    ``make_default_dir``: create the user data directory for the default file (only an
    open that may create the database should).
    """
    url = url if url and url.strip() else db_from_env()
    if url is None:
        path = default_db_path()
        if make_default_dir:
            path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    url = url.strip()
    if "://" not in url:
        # A bare path is friendlier than a URL for the embedded default.
        return f"sqlite:///{sqlite_path(url)}"
    file = sqlite_file(url)
    return url if file is None else f"sqlite:///{file}"


def busy_timeout_ms() -> int:
    """How long a write waits for another writer's lock before failing with ``database``.

    SQLite's busy timeout and PostgreSQL's ``lock_timeout`` both use it.
    """
    raw = os.environ.get(ENV_BUSY_TIMEOUT, "").strip()
    if not raw:
        return SQLITE_BUSY_TIMEOUT_MS
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationError(
            f"{ENV_BUSY_TIMEOUT} must be a positive number of milliseconds, got {raw!r}",
            hint=f"unset {ENV_BUSY_TIMEOUT} or set it to e.g. 10000",
        )
    return int(raw)


def redact_url(url: str) -> str:
    """``url`` without its password, fit to print."""
    if "@" not in url and url.startswith("sqlite"):
        return url  # no credentials to hide: no need to load SQLAlchemy's URL parser
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<malformed URL>"


#: Bytes of a read-only SQLite store's file mapped into memory (SQLite caps it at its own
#: compile-time limit; a smaller file is mapped whole).
READ_ONLY_MMAP_BYTES = 1 << 30


def sqlite_session_pragmas(timeout_ms: int, *, read_only: bool = False) -> list[str]:
    """What every SQLite connection runs first (the engine's and the claim fast path's)."""
    # WAL is not here: enable_wal() switches it on once the schema is known to be ours, so a
    # foreign or newer database is never rewritten.
    return [
        f"PRAGMA busy_timeout = {int(timeout_ms)}",
        # Read-only stores (the TUI's reads, `parkbench snapshot`) map the file into memory:
        # a list in blocked-time order visits rows all over the table, and through SQLite's
        # small page cache each page would be read from the OS many times over.
        *(
            ["PRAGMA query_only = ON", f"PRAGMA mmap_size = {READ_ONLY_MMAP_BYTES}"]
            if read_only
            else []
        ),
        "PRAGMA synchronous = NORMAL",
        "PRAGMA foreign_keys = ON",
    ]


def connect_sqlite_read_only(path: Path, timeout_ms: int, **options: Any) -> sqlite3.Connection:
    """Open ``path`` so that nothing can be written, even where nothing *may* be written.

    ``mode=ro`` reads a WAL database as long as its ``-shm`` index exists or can be created.
    In a read-only directory or mount with no ``-shm`` (so no process has it open in WAL
    mode) only ``immutable=1`` can read it: that reads the main file as last checkpointed.
    ``options`` go to :func:`sqlite3.connect`.
    """
    uri = f"file:{quote(str(path))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout_ms / 1000, **options)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
    return sqlite3.connect(uri + "&immutable=1", uri=True, timeout=timeout_ms / 1000, **options)


def sqlite_file(url: str) -> Path | None:
    """The file a plain ``sqlite:///PATH`` URL names; None for anything else (memory,
    ``file:`` URIs, query options, escapes, other drivers and databases): those are for
    SQLAlchemy's URL parser and the store."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    database = url[len(prefix) :]
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if any(sign in database for sign in "?%#"):
        return None  # options or escapes: let SQLAlchemy's URL parser read them
    return sqlite_path(database)


def sqlite_schema_is_current(conn: sqlite3.Connection) -> bool:
    """The file on ``conn`` is at this code's schema revision (anything else - no
    ``alembic_version``, an older or newer revision, a read error - is for the store to
    upgrade, refuse or explain)."""
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == HEAD_REVISION


def system_clock() -> int:
    return time.time_ns() // 1_000_000


@overload
def to_datetime(ms: int) -> datetime: ...
@overload
def to_datetime(ms: None) -> None: ...
@overload
def to_datetime(ms: int | None) -> datetime | None: ...
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
    if type(getattr(error, "orig", None) or error).__module__.startswith("psycopg"):
        from parkbench.core.db.pg_errors import postgres_problem  # only PostgreSQL failures need it

        known = postgres_problem(str(getattr(error, "orig", None) or error), url)
        if known is not None:
            return known
    if "locked" in text or "busy" in text or "lock timeout" in text:
        holder = (
            "look for a long transaction in pg_stat_activity"
            if url.startswith("postgresql")
            else "find the process holding it (`fuser` on the .db file)"
        )
        return DatabaseError(
            f"database is locked: another writer held it longer than {busy_timeout_ms():,} ms",
            hint=f"{holder} and retry",
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
    if "disk i/o error" in text:
        # What SQLite reports when a full disk (or a failing one) refuses the WAL or its index
        # rather than a page: nothing was committed.
        return DatabaseError(
            f"disk I/O error on {where}: the disk may be full or failing; nothing was written",
            hint="check free space (`df`) and the disk, then run the command again",
        )
    if any(sign in text for sign in ("not a database", "malformed", "corrupt", "could not decode")):
        return DatabaseError(
            f"database {where} is corrupt or not a SQLite database",
            hint="restore it from a backup or point --db at another file",
        )
    if "unable to open" in text:
        return DatabaseError(
            f"cannot open database {where}",
            hint="check that the directory exists and is writable (`parkbench db path`); "
            "on read-only media browse it with `parkbench --read-only`",
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


def out_of_range(error: BaseException) -> ValidationError:
    """A number too large for the database (SQLite binds at most 64-bit integers)."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ValidationError(
        f"a number is out of range for the database ({first})",
        hint="run ids, task ids and times must be ordinary integers; check the arguments",
    )


def damaged_data(error: ValueError, url: str) -> DatabaseError | None:
    """The ``database`` error for text, JSON or a status no Parkbench wrote (undecodable
    bytes, broken JSON, an unknown enum value): a damaged file whose pages SQLite could
    still read. None for any other ValueError (a bug, not the data)."""
    damaged = isinstance(error, UnicodeDecodeError | json.JSONDecodeError)
    if not (damaged or " is not a valid " in str(error)):
        return None
    return DatabaseError(
        f"database {redact_url(url)} holds damaged data "
        f"({type(error).__name__}: {str(error)[:80]})",
        hint="check it with `sqlite3 FILE 'PRAGMA integrity_check'` and restore it from a backup",
    )
