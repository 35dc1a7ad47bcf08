"""Enqueue's SQL: a whole chunk of tasks, their first runs and their audit events, from one
JSON parameter, built once at import (see :mod:`parkbench.core.store.worker_sql`).

The chunk's rows travel as ONE bound parameter, a JSON array of arrays (``ROW_FIELDS``), and
the database unpacks it (:mod:`parkbench.core.store.json_rows`): binding
10,000 rows x 15 columns one parameter at a time cost the client far more than the database
spent inserting them. Each row names its workspace by root, resolved in the statement. The
three ``INSERT ... SELECT`` statements are the same on both backends; only the row source
differs, by dialect:

- SQLite runs them one after the other inside its IMMEDIATE transaction. The write lock is
  held, so the ids are the next ones (``max(id) + 1 ...``, as SQLite itself assigns rowids),
  computed once per chunk; no RETURNING, whose order SQLite does not promise.
- PostgreSQL runs them as one statement, data-modifying CTEs over a materialised row source
  that draws each task's and run's id from its sequence, and returns the ids in input order:
  one round trip per chunk, atomic on its own (a single enqueue runs it in autocommit).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from parkbench.core.lifecycle import Action, ActorKind, RunStatus
from parkbench.core.models import events, runs, tasks, workspaces
from parkbench.core.store.audit import event_row
from parkbench.core.store.base import run_values
from parkbench.core.store.json_rows import json_rows

#: The fields of one row of the JSON parameter, in order.
ROW_FIELDS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("title", sa.Text()),
    ("root", sa.Text()),
    ("priority", sa.Integer()),
    ("max_attempts", sa.Integer()),
    ("max_runtime_ms", sa.BigInteger()),
    ("task_metadata_json", sa.Text()),
    ("run_metadata_json", sa.Text()),
)
#: The columns each table takes from the row source; every other column is a constant of
#: the chunk, bound as ``c_<table>_<column>`` (the values run_values / event_row give).
_TASK_FROM_ROW = {
    "id": "task_id",
    "title": "title",
    "workspace_id": "workspace_id",
    "priority": "priority",
    "max_attempts": "max_attempts",
    "max_runtime_ms": "max_runtime_ms",
    "metadata_json": "task_metadata_json",
}
_RUN_FROM_ROW = {
    "id": "run_id",
    "task_id": "task_id",
    "workspace_id": "workspace_id",
    "priority": "priority",
    "max_attempts": "max_attempts",
    "max_runtime_ms": "max_runtime_ms",
    "metadata_json": "run_metadata_json",
}
_EVENT_FROM_ROW = {"run_id": "run_id", "task_id": "task_id"}


def first_run(now: int) -> dict[str, object]:
    """A first run's row (run_values); its per-task columns come from the chunk's rows."""
    return run_values(
        task_id=0,
        workspace_id=0,
        attempt=1,
        max_attempts=1,
        priority=0,
        max_runtime_ms=None,
        metadata_json="{}",
        now=now,
    )


_TABLES = ((tasks, _TASK_FROM_ROW), (runs, _RUN_FROM_ROW), (events, _EVENT_FROM_ROW))
#: The columns each table's rows are written with: the shapes every other insert uses too
#: (run_values, event_row), so an enqueued run or event is the same row whoever writes it.
_SHAPES: dict[str, list[str]] = {
    "tasks": [*_TASK_FROM_ROW, "created_at"],
    "runs": ["id", *first_run(0)],
    "events": list(
        event_row(
            run_id=0,
            task_id=0,
            actor_kind=ActorKind.WORKER,
            actor="",
            action=Action.ENQUEUE,
            from_status=None,
            to_status=RunStatus.QUEUED,
            now=0,
        )
    ),
}


def constant_columns(table: sa.Table) -> list[str]:
    """The columns of ``table`` an enqueue writes as one value for the whole chunk."""
    taken = dict(_TABLES)[table]
    return [name for name in _SHAPES[table.name] if name not in taken]


def constant_params(table: sa.Table, row: dict[str, object]) -> dict[str, object]:
    """``row`` (a whole row of ``table`` as its shape function gives it) as the constant
    parameters of the chunk's INSERT."""
    return {f"c_{table.name}_{name}": row[name] for name in constant_columns(table)}


def _source(dialect: str) -> sa.CTE:
    rows = json_rows("p_rows", dialect)
    if dialect == "postgresql":

        def next_id(table: str) -> sa.ColumnElement[Any]:
            name = sa.func.pg_get_serial_sequence(
                sa.literal_column(f"'{table}'"), sa.literal_column("'id'")
            )
            return sa.func.nextval(sa.select(name).scalar_subquery())

        ids = [next_id("tasks").label("task_id"), next_id("runs").label("run_id")]
    else:
        # json_each's key: the row's index from 0, which numbers the chunk's ids.
        ids = [
            (sa.bindparam("p_task_base", type_=sa.BigInteger()) + rows.order + 1).label("task_id"),
            (sa.bindparam("p_run_base", type_=sa.BigInteger()) + rows.order + 1).label("run_id"),
        ]
    columns: list[sa.ColumnElement[Any]] = list(rows.columns(ROW_FIELDS))
    # The workspace by its root, in the statement (no lookup round trip before it): NULL, so
    # the NOT NULL column refuses the whole statement, when it does not exist yet.
    workspace_id = sa.select(workspaces.c.id).where(workspaces.c.root == columns[1])
    columns.append(workspace_id.scalar_subquery().label("workspace_id"))
    return sa.select(*ids, rows.order.label("ord"), *columns).select_from(rows.elements).cte("src")


def _insert(table: sa.Table, source: sa.CTE) -> sa.Insert:
    taken = dict(_TABLES)[table]
    names = [*taken, *constant_columns(table)]
    values = [source.c[taken[n]] for n in taken] + [
        sa.bindparam(f"c_{table.name}_{n}", type_=table.c[n].type) for n in constant_columns(table)
    ]
    return table.insert().from_select(names, sa.select(*values))


def _statements() -> tuple[list[sa.Insert], sa.Select[Any]]:
    sqlite_source = _source("sqlite")
    sqlite = [_insert(table, sqlite_source) for table, _ in _TABLES]
    pg_source = _source("postgresql")
    inserted = [_insert(table, pg_source).cte(f"new_{table.name}") for table, _ in _TABLES]
    pg = sa.select(pg_source.c.task_id, pg_source.c.run_id).order_by(pg_source.c.ord)
    for cte in inserted:
        pg = pg.add_cte(cte)
    return sqlite, pg


#: SQLite: the three INSERTs, run in this order inside the write transaction.
SQLITE_INSERTS, PG_INSERT = _statements()
#: SQLite: the largest task and run ids so far (the chunk's ids follow them).
MAX_IDS = sa.select(
    sa.select(sa.func.coalesce(sa.func.max(tasks.c.id), 0)).scalar_subquery(),
    sa.select(sa.func.coalesce(sa.func.max(runs.c.id), 0)).scalar_subquery(),
)
KNOWN_ROOTS = sa.select(workspaces.c.root).where(
    workspaces.c.root.in_(sa.bindparam("p_roots", expanding=True))
)
