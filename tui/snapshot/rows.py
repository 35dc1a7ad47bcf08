"""summary.json's parked runs on any backend, through SQLAlchemy Core (PostgreSQL; SQLite
when :func:`parkbench.tui.snapshot.summary.write_summary` is asked for the generic writer).

Rows come by keyset page (``status, status_changed_at, id``: the parked list's own index
and order) with only the columns the summary prints, never as full ``RunRow`` records, and
metadata only where it mentions a contract (most runs have none: not decoding it at all is
the biggest saving per row). :class:`parkbench.tui.snapshot.summary.Lines` writes them.
"""

from __future__ import annotations

from typing import IO, Any

import sqlalchemy as sa
from parkbench.core.contracts import CONTRACT_KEY
from parkbench.core.models import runs, tasks, workspaces
from parkbench.core.store import queries
from parkbench.tui.snapshot.summary import PARKED, Document, Lines, SummaryTotals


def _if_contract(column: sa.ColumnElement[str]) -> sa.ColumnElement[str | None]:
    return sa.case((column.contains(CONTRACT_KEY, autoescape=True), column), else_=None)


#: parkbench.tui.snapshot.summary.COLUMNS
_COLUMNS = (
    runs.c.id,
    runs.c.task_id,
    tasks.c.title,
    runs.c.block_reason,
    runs.c.blocked_at,
    runs.c.attempt,
    runs.c.max_attempts,
    runs.c.worker,
    runs.c.workspace_id,
    _if_contract(tasks.c.metadata_json),
    _if_contract(runs.c.metadata_json),
    runs.c.status_changed_at,
)
_JOINED = runs.join(tasks, tasks.c.id == runs.c.task_id)


def parked_page(conn: sa.Connection, after: tuple[int, int] | None, limit: int) -> list[Any]:
    """One page of parked runs in blocked-time order, after the key ``(changed_at, id)``."""
    query = sa.select(*_COLUMNS).select_from(_JOINED).where(runs.c.status == PARKED)
    if after is not None:
        changed, run_id = after
        query = query.where(
            sa.or_(
                runs.c.status_changed_at > changed,
                sa.and_(runs.c.status_changed_at == changed, runs.c.id > run_id),
            )
        )
    query = query.order_by(runs.c.status_changed_at, runs.c.id).limit(limit)
    return list(conn.execute(query).all())


def write_rows(
    conn: sa.Connection, out: IO[str], header: dict[str, object], *, limit: int | None, page: int
) -> SummaryTotals:
    """The summary document, read in ``conn``'s transaction."""
    if conn.dialect.name == "postgresql":
        # One snapshot for the counts and every page, as SQLite's read transaction gives.
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    counts = queries.counts_by_status(conn)
    document = Document(out, header, counts)
    lines = Lines(lambda workspace_id: _workspace_root(conn, workspace_id))
    wanted = counts[PARKED] if limit is None else min(limit, counts[PARKED])
    after: tuple[int, int] | None = None
    while document.listed < wanted:
        rows = parked_page(conn, after, min(page, wanted - document.listed))
        if not rows:
            break
        document.add(lines.text(rows), len(rows))
        after = (rows[-1][-1], rows[-1][0])
    return document.end(counts, limited=limit is not None)


def _workspace_root(conn: sa.Connection, workspace_id: int) -> str:
    query = sa.select(workspaces.c.root).where(workspaces.c.id == workspace_id)
    return str(conn.execute(query).scalar_one())
