"""The worker's hottest commands on a SQLite file with nothing but the standard library:
``claim_next`` and ``heartbeat``.

Workers start a process per ``parkbench lease claim`` and ``lease heartbeat``, and importing
SQLAlchemy alone costs about half a second of CPU here: most of a command's budget. This
path runs the store's own statements - compiled from their SQLAlchemy definitions into
:mod:`core.sqlite_compiled` by :mod:`core.sqlite_codegen` - on a plain ``sqlite3``
connection with the engine's PRAGMAs, in one IMMEDIATE transaction, deciding with the same
functions (:mod:`core.fence`, :mod:`core.audit`) and writing the same audit events as
:class:`core.store.Store`.

It takes only the common case: an existing SQLite file in WAL mode at this code's schema
revision. Anything else - no file yet, a schema to upgrade or refuse, something that is not a
database, a URL with options, PostgreSQL - raises :class:`NotHandled` before anything is
written, and the caller opens the store, which creates, upgrades or explains.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from core import fence, inputs, lifecycle, sqlite_compiled, tokens
from core.audit import claim_event, sweep_event
from core.dbinfo import (
    busy_timeout_ms,
    damaged_data,
    out_of_range,
    resolve_url,
    sqlite_file,
    sqlite_schema_is_current,
    sqlite_session_pragmas,
    system_clock,
    translate,
)
from core.errors import ConflictError
from core.lifecycle import Action, ActorKind, RunStatus
from core.records import Claim

Compiled = tuple[str, tuple[str, ...], Mapping[str, Any]]
Clock = Callable[[], int]


class NotHandled(Exception):
    """This database needs the store (create, upgrade, refuse or explain); nothing written."""


def claim_next(
    url: str | None, worker: str, *, lease_s: float | None = None, clock: Clock = system_clock
) -> Claim | None:
    """Sweep expired leases, then lease the best queued run to ``worker`` (None: nothing
    to claim), as a fresh process's ``Store.claim_next`` does."""
    who = inputs.name("worker", worker)
    lease_ms = _lease_ms(lease_s)
    with _transaction(url) as conn:
        _sweep(conn, clock())
        raw = tokens.mint()
        token_hash = tokens.hash_token(raw)
        now = clock()
        params = {"p_now": now, "p_lease_ms": lease_ms, "p_worker": who}
        claimed = _execute(conn, sqlite_compiled.CLAIM, params | {"p_token_hash": token_hash})
        rows = claimed.fetchall()  # to the end: no statement may be in progress at COMMIT
        if not rows:
            return None
        run_id, task_id, attempt, lease_until = rows[0]
        _execute(
            conn,
            sqlite_compiled.EVENT_INSERT,
            claim_event(worker=who, token_hash=token_hash, now=now, run_id=run_id, task_id=task_id),
        )
        return Claim(run_id, task_id, attempt, raw, lease_until)


def heartbeat(
    url: str | None,
    run_id: int,
    token: str,
    *,
    lease_s: float | None = None,
    clock: Clock = system_clock,
) -> int:
    """Extend the lease, as ``Store.heartbeat``; returns the new ``lease_until`` (epoch ms)."""
    lease_ms = _lease_ms(lease_s)
    with _transaction(url) as conn:
        now = clock()
        found = _execute(conn, sqlite_compiled.FENCED_ROW, {"p_run_id": run_id})
        row = fence.check(_named(found), run_id, token, Action.HEARTBEAT, now)
        target = lifecycle.target(ActorKind.WORKER, Action.HEARTBEAT, RunStatus.CLAIMED)
        values = {**fence.heartbeat_values(row, now, lease_ms), "status": target.value}
        params = fence.update_params(row, now, values)
        moved = _execute(conn, sqlite_compiled.HEARTBEAT_UPDATE, params)
        if moved.rowcount != 1:  # unreachable under the write lock; never write blind
            raise ConflictError(f"run {run_id} changed while heartbeat was applied")
        audit = fence.fenced_event(
            row,
            actor_kind=ActorKind.WORKER,
            action=Action.HEARTBEAT,
            to_status=target,
            now=now,
            reason=None,
        )
        _execute(conn, sqlite_compiled.EVENT_INSERT, audit)
        return int(values["lease_until"])


def _lease_ms(lease_s: float | None) -> int:
    return inputs.lease_ms(lease_s, default_s=inputs.DEFAULT_LEASE_S, max_s=inputs.MAX_LEASE_S)


@contextmanager
def _transaction(url: str | None) -> Iterator[sqlite3.Connection]:
    """One IMMEDIATE transaction on the file ``url`` names: committed if the body returns,
    rolled back if it raises; driver failures become the store's ``database`` errors."""
    resolved = resolve_url(url)
    path = sqlite_file(resolved)
    if path is None or not path.is_file():
        raise NotHandled(resolved)
    timeout_ms = busy_timeout_ms()
    conn = _connect(path, timeout_ms)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        conn.execute("COMMIT")
    except sqlite3.Error as error:
        _rollback(conn)
        raise translate(error, resolved) from None
    except OverflowError as error:  # as the store's: a number SQLite cannot bind
        _rollback(conn)
        raise out_of_range(error) from None
    except ValueError as error:  # as the store's: data no Parkbench wrote
        _rollback(conn)
        damaged = damaged_data(error, resolved)
        if damaged is None:
            raise
        raise damaged from None
    except BaseException:
        _rollback(conn)
        raise
    finally:
        conn.close()


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with suppress(sqlite3.Error):  # closing the connection rolls back what is left
            conn.execute("ROLLBACK")


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
    except (sqlite3.Error, UnicodeDecodeError):
        # Not a database, corrupt, locked while reading the schema: the store tells these
        # apart and says what to do.
        conn.close()
        raise NotHandled(str(path)) from None
    if journal != "wal" or not sqlite_schema_is_current(conn):
        conn.close()
        raise NotHandled(str(path))
    return conn


def _execute(
    conn: sqlite3.Connection, compiled: Compiled, given: Mapping[str, Any]
) -> sqlite3.Cursor:
    sql, names, fixed = compiled
    return conn.execute(sql, [given[n] if n in given else fixed[n] for n in names])


def _named(cursor: sqlite3.Cursor) -> Any:
    """The cursor's first row with its columns as attributes (as SQLAlchemy's rows have)."""
    rows = cursor.fetchall()
    if not rows:
        return None
    return namedtuple("Row", [column[0] for column in cursor.description])(*rows[0])


def _sweep(conn: sqlite3.Connection, at: int) -> None:
    """The expiry sweep (core.sweep's statements), with an event for every run it moves."""
    steps: Sequence[tuple[Compiled, str, str]] = sqlite_compiled.SWEEP
    for compiled, action, to_status in steps:
        for run_id, task_id, reason in _execute(conn, compiled, {"p_now": at}).fetchall():
            audit = sweep_event(
                run_id=run_id,
                task_id=task_id,
                action=Action(action),
                to_status=RunStatus(to_status),
                now=at,
                reason=reason,
            )
            _execute(conn, sqlite_compiled.EVENT_INSERT, audit)
