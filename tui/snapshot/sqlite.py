"""summary.json's parked runs on SQLite, read on the raw ``sqlite3`` connection.

The same statement and lines as the generic writer (:mod:`parkbench.tui.snapshot.rows`), without
SQLAlchemy: its per-row processing cost more than formatting the line. (Letting SQLite
build each line with ``json_quote`` measured slower than formatting it in Python.) With
no SQLAlchemy import, ``parkbench snapshot``'s writer process starts at once, on a
connection of its own (:func:`connect_read_only`) that maps the file into memory: the
parked runs are read in blocked-time order, which is all over the table, and through
SQLite's small page cache each page would be read many times over.

That process also shares the list with a helper it forks (:func:`write_file`): the two
halves are written side by side, on the core the screens' process leaves free and, once
the screens are done, on both.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from parkbench.core.contracts import CONTRACT_KEY
from parkbench.core.db.info import (
    busy_timeout_ms,
    connect_sqlite_read_only,
    sqlite_schema_is_current,
)
from parkbench.core.lifecycle import RunStatus
from parkbench.tui.snapshot.summary import PAGE, PARKED, Document, Lines, SummaryTotals

#: Each parked run, oldest blocked first: parkbench.tui.snapshot.summary.COLUMNS, the metadata only
#: where it may carry a contract (instr, as the generic writer's LIKE: parse_contract
#: decides). The parked list's index (status, status_changed_at, id) gives the order.
_PARKED_ROWS = """
SELECT r.id, r.task_id, t.title, r.block_reason, r.blocked_at, r.attempt, r.max_attempts,
       r.worker, r.workspace_id,
       CASE WHEN instr(t.metadata_json, :key) THEN t.metadata_json END,
       CASE WHEN instr(r.metadata_json, :key) THEN r.metadata_json END,
       r.status_changed_at
FROM runs AS r JOIN tasks AS t ON t.id = r.task_id
WHERE r.status = :status
ORDER BY r.status_changed_at, r.id
LIMIT :limit
"""
#: The helper's half: the same, from the key of its first run on.
_PARKED_FROM = _PARKED_ROWS.replace(
    "WHERE r.status = :status",
    "WHERE r.status = :status AND (r.status_changed_at, r.id) >= (:changed, :id)",
)
#: The key of the run at a position of the parked list (from the index alone).
_KEY_AT = """
SELECT status_changed_at, id FROM runs WHERE status = :status
ORDER BY status_changed_at, id LIMIT 1 OFFSET :offset
"""
#: The last audit event: with the counts, what identifies the database a reader saw.
_MARKER = "SELECT max(id) FROM events"
_COUNTS = "SELECT status, count(*) FROM runs GROUP BY status"
_ROOT = "SELECT root FROM workspaces WHERE id = ?"
#: Bytes of the file mapped into memory by connect_read_only.
MMAP_BYTES = 1 << 30
#: Niceness the writer and its helper take: the screens' process keeps its core.
SHARED_NICE = 5
#: Fewer runs than this are listed by the writer alone: a helper would not pay.
SHARED_MIN = 20_000


def write_sqlite(
    conn: sqlite3.Connection,
    out: IO[str],
    header: dict[str, object],
    *,
    limit: int | None,
    page: int = PAGE,
) -> SummaryTotals:
    """The summary document, on a connection inside a read transaction (one snapshot for
    the counts and the list). Driver errors are raised as they come."""
    return _write(conn, out, header, limit, page, None)


def write_file(
    db: Path, path: Path, header: dict[str, object], *, limit: int | None, share: bool
) -> SummaryTotals | None:
    """The summary document from the file ``db`` into a new file at ``path``, on
    connections of its own; None (nothing written) when the schema is not this code's.

    ``share`` (from a process with one thread, beside the screens' process): the second
    half of the list is written by a helper process forked before any connection is
    opened (an open SQLite connection must never cross a fork). The helper reads in a
    read transaction of its own, so its half is used only if it saw the same database:
    the same counts by status and the same last audit event (core writes an audit event
    with every change to a run, and never changes a task or a workspace); otherwise, or
    if the helper fails, this process writes that half too, from its own snapshot.
    """
    timeout_ms = busy_timeout_ms()
    helper = _Helper.start(db, timeout_ms, limit) if share and _can_fork() else None
    try:
        conn = connect_read_only(db, timeout_ms)
        try:
            conn.execute("BEGIN")  # one snapshot: counts and list agree
            if not sqlite_schema_is_current(conn):
                return None  # the store decides: upgrade needed, foreign file, ...
            with path.open("w", encoding="utf-8", newline="\n") as out:
                return _write(conn, out, header, limit, PAGE, helper)
        finally:
            conn.close()  # a read transaction: nothing to commit
    finally:
        if helper is not None:
            helper.reap()


def _write(
    conn: sqlite3.Connection,
    out: IO[str],
    header: dict[str, object],
    limit: int | None,
    page: int,
    helper: _Helper | None,
) -> SummaryTotals:
    counts = _counts(conn)
    document = Document(out, header, counts)
    wanted = _wanted(counts, limit)
    if wanted > 0:
        lines = _lines(conn)
        cursor = conn.execute(
            _PARKED_ROWS, {"key": CONTRACT_KEY, "status": PARKED, "limit": wanted}
        )
        mine = wanted if helper is None else _own_share(wanted)
        while document.listed < mine:
            rows = cursor.fetchmany(min(page, mine - document.listed))
            if not rows:
                break
            document.add(lines.text(rows), len(rows))
        if helper is not None and mine < wanted:
            fingerprint = [counts, _marker(conn)]
            if not helper.hand_over(document, fingerprint, start=mine):
                while rows := cursor.fetchmany(page):  # the helper saw another database
                    document.add(lines.text(rows), len(rows))
    return document.end(counts, limited=limit is not None)


def _own_share(wanted: int) -> int:
    """How many of ``wanted`` runs the writer lists itself when a helper shares them."""
    return wanted if wanted < SHARED_MIN else wanted // 2


class _Helper:
    """The forked process writing the second half of the list (see :func:`write_file`)."""

    def __init__(self, pid: int, report: int, spill: IO[bytes]) -> None:
        self.pid, self._report, self._spill = pid, report, spill

    @classmethod
    def start(cls, db: Path, timeout_ms: int, limit: int | None) -> _Helper:
        read_end, write_end = os.pipe()
        # One open file, shared: the helper writes it, the writer reads it; reap closes it.
        spill = tempfile.TemporaryFile()  # noqa: SIM115
        pid = os.fork()
        _yield_core()
        if pid == 0:
            os.close(read_end)
            code = 1
            try:
                report = _helper_half(db, timeout_ms, limit, spill)
                with os.fdopen(write_end, "w", encoding="utf-8") as pipe:
                    pipe.write(json.dumps(report))
                code = 0
            finally:
                os._exit(code)  # nothing of the writer's (its files, its streams) is touched
        os.close(write_end)
        return cls(pid, read_end, spill)

    def hand_over(self, document: Document, fingerprint: list[object], *, start: int) -> bool:
        """Append the helper's half if it read the same database from ``start``."""
        with os.fdopen(self._report, encoding="utf-8") as pipe:
            text = pipe.read()
        self._report = -1
        report = json.loads(text) if text else {}
        if report.get("fingerprint") != fingerprint or report.get("start") != start:
            return False
        self._spill.seek(0)
        document.add_file(self._spill, int(report["listed"]))
        return True

    def reap(self) -> None:
        if self._report >= 0:
            os.close(self._report)  # unread: the helper's write fails, and it ends
        os.waitpid(self.pid, 0)
        self._spill.close()


def _helper_half(db: Path, timeout_ms: int, limit: int | None, spill: IO[bytes]) -> dict[str, Any]:
    """In the helper: the second half of the list into ``spill``, and what it read."""
    conn = connect_read_only(db, timeout_ms)
    try:
        conn.execute("BEGIN")
        counts = _counts(conn)
        wanted = _wanted(counts, limit)
        start = _own_share(wanted)
        report: dict[str, Any] = {"fingerprint": [counts, _marker(conn)], "start": start}
        if start >= wanted:
            return report  # too few to share: the writer lists them all
        key = conn.execute(_KEY_AT, {"status": PARKED, "offset": start}).fetchone()
        rows = conn.execute(
            _PARKED_FROM,
            {
                "key": CONTRACT_KEY,
                "status": PARKED,
                "changed": key[0],
                "id": key[1],
                "limit": wanted - start,
            },
        )
        lines = _lines(conn)
        listed = 0
        while page := rows.fetchmany(PAGE):
            spill.write((",\n" if listed else "").encode("ascii"))
            spill.write(lines.text(page).encode("ascii"))
            listed += len(page)
        spill.flush()
        return {**report, "listed": listed}
    finally:
        conn.close()


def _yield_core() -> None:
    """Both processes of the pair step back a little, so that the screens' process,
    still rendering, keeps a core to itself."""
    with contextlib.suppress(OSError):
        os.nice(SHARED_NICE)


def _can_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    counts = {status.value: 0 for status in RunStatus}
    for status, count in conn.execute(_COUNTS):
        counts[status] = int(count)
    return counts


def _wanted(counts: dict[str, int], limit: int | None) -> int:
    return counts[PARKED] if limit is None else min(limit, counts[PARKED])


def _marker(conn: sqlite3.Connection) -> int:
    return int(conn.execute(_MARKER).fetchone()[0] or 0)


def _lines(conn: sqlite3.Connection) -> Lines:
    return Lines(lambda workspace_id: str(conn.execute(_ROOT, (workspace_id,)).fetchone()[0]))


def connect_read_only(path: Path, timeout_ms: int) -> sqlite3.Connection:
    """``path`` opened so that nothing can be written, as :mod:`parkbench.core.db.engine` opens a read-only
    store (``mode=ro``, else ``immutable=1`` where no ``-shm`` can be made), in autocommit
    (the caller begins the read transaction), with the file mapped into memory."""
    conn = connect_sqlite_read_only(path, timeout_ms, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
    conn.execute("PRAGMA query_only = ON")
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    return conn
