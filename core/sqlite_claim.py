"""``claim_next`` on a SQLite file with nothing but the standard library.

Workers start a process per ``parkbench lease claim``, and importing SQLAlchemy alone costs
about half a second of CPU here: most of the command's budget. This path runs the store's own
statements - compiled from their SQLAlchemy definitions into :mod:`core.sqlite_compiled` by
:mod:`core.sqlite_codegen` - on a plain ``sqlite3`` connection with the engine's PRAGMAs, in
one IMMEDIATE transaction: the expiry sweep a fresh process would run first, then the claim,
each move with its audit event, exactly as :meth:`core.store.Store.claim_next` writes them.

It takes only the common case: an existing SQLite file in WAL mode at this code's schema
revision. Anything else - no file yet, a schema to upgrade or refuse, something that is not a
database, a URL with options, PostgreSQL - raises :class:`NotHandled` before anything is
written, and the caller opens the store, which creates, upgrades or explains.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from core import inputs, sqlite_compiled, tokens
from core.audit import claim_event, sweep_event
from core.dbinfo import (
    HEAD_REVISION,
    busy_timeout_ms,
    resolve_url,
    sqlite_session_pragmas,
    system_clock,
    translate,
)
from core.lifecycle import Action, RunStatus
from core.records import Claim

_URL_PREFIX = "sqlite:///"
Compiled = tuple[str, tuple[str, ...], Mapping[str, Any]]


class NotHandled(Exception):
    """This database needs the store (create, upgrade, refuse or explain); nothing written."""


def sqlite_file(url: str) -> Path | None:
    """The file a plain ``sqlite:///PATH`` URL names; None for anything else (memory,
    ``file:`` URIs, query options, escapes, other drivers and databases)."""
    if not url.startswith(_URL_PREFIX):
        return None
    database = url[len(_URL_PREFIX) :]
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if any(sign in database for sign in "?%#"):
        return None  # options or escapes: let SQLAlchemy's URL parser read them
    return Path(database).expanduser().absolute()


def claim_next(
    url: str | None,
    worker: str,
    *,
    lease_s: float | None = None,
    clock: Callable[[], int] = system_clock,
) -> Claim | None:
    """Sweep expired leases, then lease the best queued run to ``worker`` (None: nothing
    to claim). Raises :class:`NotHandled` when the store must do it instead."""
    who = inputs.name("worker", worker)
    lease_ms = inputs.lease_ms(lease_s, default_s=inputs.DEFAULT_LEASE_S, max_s=inputs.MAX_LEASE_S)
    resolved = resolve_url(url)
    path = sqlite_file(resolved)
    if path is None or not path.is_file():
        raise NotHandled(resolved)
    timeout_ms = busy_timeout_ms()
    conn = _connect(path, timeout_ms)
    try:
        try:
            conn.execute("BEGIN IMMEDIATE")
            claimed = _sweep_and_claim(conn, who, lease_ms, clock)
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise translate(error, resolved) from None
        return claimed
    finally:
        conn.close()


def _connect(path: Path, timeout_ms: int) -> sqlite3.Connection:
    """A connection set up as the engine sets up its own, if the file is ours and current."""
    try:
        conn = sqlite3.connect(path, timeout=timeout_ms / 1000, isolation_level=None)
    except sqlite3.Error:
        raise NotHandled(str(path)) from None
    try:
        for pragma in sqlite_session_pragmas(timeout_ms):
            conn.execute(pragma)
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except (sqlite3.Error, UnicodeDecodeError):
        # Not a database, corrupt, locked while reading the schema, or no alembic_version:
        # the store tells these apart and says what to do.
        conn.close()
        raise NotHandled(str(path)) from None
    if journal != "wal" or revision is None or revision[0] != HEAD_REVISION:
        conn.close()
        raise NotHandled(str(path))
    return conn


def _run(conn: sqlite3.Connection, compiled: Compiled, given: Mapping[str, Any]) -> list[Any]:
    sql, names, fixed = compiled
    return conn.execute(sql, [given[n] if n in given else fixed[n] for n in names]).fetchall()


def _sweep_and_claim(
    conn: sqlite3.Connection, worker: str, lease_ms: int, clock: Callable[[], int]
) -> Claim | None:
    # The sweep first, as a fresh process's Store.claim_next does (core.sweep's statements).
    at = clock()
    steps: Sequence[tuple[Compiled, str, str]] = sqlite_compiled.SWEEP
    for compiled, action, to_status in steps:
        for run_id, task_id, reason in _run(conn, compiled, {"p_now": at}):
            audit = sweep_event(
                run_id=run_id,
                task_id=task_id,
                action=Action(action),
                to_status=RunStatus(to_status),
                now=at,
                reason=reason,
            )
            _run(conn, sqlite_compiled.EVENT_INSERT, audit)
    raw = tokens.mint()
    token_hash = tokens.hash_token(raw)
    now = clock()
    params = {"p_now": now, "p_lease_ms": lease_ms, "p_worker": worker, "p_token_hash": token_hash}
    rows = _run(conn, sqlite_compiled.CLAIM, params)
    if not rows:
        return None
    run_id, task_id, attempt, lease_until = rows[0]
    audit = claim_event(
        worker=worker, token_hash=token_hash, now=now, run_id=run_id, task_id=task_id
    )
    _run(conn, sqlite_compiled.EVENT_INSERT, audit)
    return Claim(run_id, task_id, attempt, raw, lease_until)
