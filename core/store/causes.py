"""The read side of causes: every parked run folded by cause in one bounded streaming pass.

Keyset pages of parked runs in the ``ix_runs_status_changed`` order (status, status
changed, id), a few narrow columns each (id, the time it was parked, the worker, the
reason), folded into :class:`parkbench.core.causes.CauseTally` as they come: memory holds
the groups and run ids, never the pages. The contract (task and run metadata) is only
fetched for a reason that reads like a missing-receipts reason (and searched, not parsed).
All pages are read in one transaction (SQLite's read snapshot; REPEATABLE READ on
PostgreSQL), so the groups are of one moment.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from parkbench.core.causes import MISSING_PREFIX, SHAPE_INPUT_CHARS, Causes, CauseTally
from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import runs, tasks
from parkbench.core.records import SortKey
from parkbench.core.store.queries import _beyond

#: Parked runs read per query.
PAGE = 5000


def _when_missing(column: sa.ColumnElement[str]) -> sa.ColumnElement[str | None]:
    """``column`` only for a row whose reason starts as a missing-receipts reason."""
    prefix = runs.c.block_reason.startswith(MISSING_PREFIX, autoescape=True)
    return sa.case((prefix, column), else_=None)


def _named_in(reason: str, metadata: str) -> tuple[str, ...]:
    """The paths a missing-receipts reason names that the run's metadata holds as JSON
    strings (where its contract lists them: :func:`parkbench.core.inputs.dump` writes
    metadata). A text search, not a parse of the contract: that costs a quarter of a
    millisecond a run, seconds at a hundred thousand."""
    named = reason[len(MISSING_PREFIX) :].split(", ")
    return tuple(path for path in named if json.dumps(path, ensure_ascii=False) in metadata)


def fold_parked(conn: sa.Connection, tally: CauseTally, *, page: int = PAGE) -> CauseTally:
    """Add every parked run to ``tally``, a keyset page at a time."""
    parked = RunStatus.NEEDS_ATTENTION.value
    prefix = runs.c.block_reason.startswith(MISSING_PREFIX, autoescape=True)
    columns: tuple[Any, ...] = (
        runs.c.status_changed_at,
        runs.c.id,
        # What masking and the example read of a reason (a traceback can be megabytes),
        # all of a missing-receipts reason (its paths).
        sa.case(
            (prefix, runs.c.block_reason),
            else_=sa.func.substr(runs.c.block_reason, 1, SHAPE_INPUT_CHARS),
        ),
        sa.func.coalesce(runs.c.blocked_at, runs.c.status_changed_at),
        runs.c.worker,
        _when_missing(tasks.c.metadata_json),
        _when_missing(runs.c.metadata_json),
    )
    base = (
        sa.select(*columns)
        .select_from(runs.join(tasks, tasks.c.id == runs.c.task_id))
        .where(runs.c.status == parked)
        .order_by(runs.c.status_changed_at, runs.c.id)
        .limit(page)
    )
    add = tally.add
    after: tuple[int, int] | None = None
    while True:
        query = base if after is None else base.where(_beyond(SortKey.BLOCKED, after, True))
        rows = conn.execute(query).all()
        for _, run_id, reason, blocked, worker, task_md, run_md in rows:
            if task_md is None and run_md is None:
                add(run_id, reason, blocked, worker)
            else:
                add(run_id, reason, blocked, worker, _named_in(reason, f"{task_md}\n{run_md}"))
        if len(rows) < page:
            return tally
        after = (int(rows[-1][0]), int(rows[-1][1]))


def parked_causes(conn: sa.Connection, *, limit: int | None = None, page: int = PAGE) -> Causes:
    """Every parked run's cause, largest groups first (the first ``limit``, or all).

    The first statement of its transaction (on PostgreSQL it sets the isolation level)."""
    if conn.dialect.name == "postgresql":
        # One snapshot for every page, as SQLite's read transaction gives.
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    return fold_parked(conn, CauseTally(), page=page).result(limit)
