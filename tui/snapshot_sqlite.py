"""summary.json's parked runs on SQLite, read on the raw ``sqlite3`` connection.

The same statement and lines as the generic writer (:mod:`tui.snapshot_rows`), without
SQLAlchemy: its per-row processing cost more than formatting the line. (Letting SQLite
build each line with ``json_quote`` measured slower than formatting it in Python.) With
no SQLAlchemy import, ``parkbench snapshot``'s writer process starts at once, on a
connection of its own (:func:`connect_read_only`) that maps the file into memory: the
parked runs are read in blocked-time order, which is all over the table, and through
SQLite's small page cache each page would be read many times over.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import IO
from urllib.parse import quote

from core.contracts import CONTRACT_KEY
from core.dbinfo import HEAD_REVISION
from core.lifecycle import RunStatus
from tui.snapshot_summary import PARKED, Document, Lines, SummaryTotals

#: Each parked run, oldest blocked first: tui.snapshot_summary.COLUMNS, the metadata only
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
_COUNTS = "SELECT status, count(*) FROM runs GROUP BY status"
_ROOT = "SELECT root FROM workspaces WHERE id = ?"
#: Bytes of the file mapped into memory by connect_read_only.
MMAP_BYTES = 1 << 30


def write_sqlite(
    conn: sqlite3.Connection,
    out: IO[str],
    header: dict[str, object],
    *,
    limit: int | None,
    page: int,
) -> SummaryTotals:
    """The summary document, on a connection inside a read transaction (one snapshot for
    the counts and the list). Driver errors are raised as they come."""
    counts = {status.value: 0 for status in RunStatus}
    for status, count in conn.execute(_COUNTS):
        counts[status] = int(count)
    document = Document(out, header, counts)
    wanted = counts[PARKED] if limit is None else min(limit, counts[PARKED])
    if wanted > 0:
        lines = Lines(lambda workspace_id: str(conn.execute(_ROOT, (workspace_id,)).fetchone()[0]))
        cursor = conn.execute(
            _PARKED_ROWS, {"key": CONTRACT_KEY, "status": PARKED, "limit": wanted}
        )
        while rows := cursor.fetchmany(page):
            document.add(lines.text(rows), len(rows))
    return document.end(counts, limited=limit is not None)


def schema_is_current(conn: sqlite3.Connection) -> bool:
    """The schema is this code's (what the store checks on a read-only open; anything
    else, the caller leaves to the store and its errors)."""
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == HEAD_REVISION


def connect_read_only(path: Path, timeout_ms: int) -> sqlite3.Connection:
    """``path`` opened so that nothing can be written, as :mod:`core.db` opens a read-only
    store (``mode=ro``, else ``immutable=1`` where no ``-shm`` can be made), in autocommit
    (the caller begins the read transaction), with the file mapped into memory."""
    uri = f"file:{quote(str(path))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout_ms / 1000, isolation_level=None)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.OperationalError:
        conn.close()
        conn = sqlite3.connect(
            uri + "&immutable=1", uri=True, timeout=timeout_ms / 1000, isolation_level=None
        )
    conn.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
    conn.execute("PRAGMA query_only = ON")
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    return conn
