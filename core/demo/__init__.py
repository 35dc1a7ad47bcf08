"""A realistic, deterministic demo data set, fast enough for 100,000 runs.

Same seed and same ``now`` give the same rows, events, timestamps and receipt files: no
wall clock and no global randomness are read. Rows are written in bulk (statements compiled
by SQLAlchemy Core from the real tables, executed with the driver's ``executemany``, in one
write transaction) rather than through :class:`~parkbench.core.store.Store`, which would
spend one transaction per transition. Each run still comes from a *story*, the exact
sequence of transitions the store would have made, applied the way the store applies them:
see :mod:`parkbench.core.demo.stories`. Texts (see :mod:`parkbench.core.demo.text`) include
hostile strings.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.engine.default import DefaultDialect

from parkbench.core.demo import text as words
from parkbench.core.demo.stories import (
    Builder,
    Run,
    Task,
    new_task,
    pick_stories,
    task_metadata_json,
    tell,
)
from parkbench.core.errors import ValidationError
from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import events, tasks, workspaces
from parkbench.core.models import runs as runs_table

#: 2026-09-01T09:00:00Z: the default "now" of the demo world (``demo --now`` overrides it).
DEMO_NOW_MS = 1_788_253_200_000


@dataclass(frozen=True, slots=True)
class DemoSummary:
    runs: int
    tasks: int
    events: int
    seed: int
    now_ms: int
    workspaces: tuple[str, ...]
    by_status: dict[str, int]
    receipts_written: int
    receipts_missing: int

    def to_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__} | {
            "workspaces": list(self.workspaces)
        }


def generate(
    engine: Engine,
    *,
    runs: int,
    seed: int,
    workspace: str | os.PathLike[str],
    now_ms: int = DEMO_NOW_MS,
) -> DemoSummary:
    """Write ``runs`` demo runs, their tasks, events and receipt files, in one transaction."""
    if not 1 <= runs <= 10_000_000:
        raise ValidationError(f"--runs must be 1..10,000,000, got {runs}", hint="e.g. --runs 1000")
    base = Path(workspace).expanduser()
    roots: list[str] = []
    for project in words.PROJECTS:
        root = base / project
        for sub in ("reports", "out", "receipts"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        roots.append(os.path.realpath(root))
    rng = random.Random(seed)
    stories = pick_stories(rng, runs)
    with engine.connect() as conn:
        conn = conn.execution_options(parkbench_write=True)  # SQLite: BEGIN IMMEDIATE
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    "LOCK TABLE workspaces, tasks, runs, events IN SHARE ROW EXCLUSIVE MODE"
                )
            spaces = [(_workspace_id(conn, root, now_ms), root) for root in roots]
            first_task = _next_id(conn, tasks)
            builder_first_run = _next_id(conn, runs_table)
            builder = Builder(rng, now_ms, builder_first_run)
            built_tasks: list[Task] = []
            built_runs: list[Run] = []
            for offset, story in enumerate(stories):
                task = new_task(rng, builder.texts, story, first_task + offset, rng.choice(spaces))
                built_tasks.append(task)
                built_runs.extend(tell(builder, task))
            trail = sorted(
                (e for run in built_runs for e in run.events),
                key=lambda e: (e["created_at"], e["_seq"]),  # the store's order at equal times
            )
            for event in trail:
                del event["_seq"]
            _bulk_insert(
                conn,
                tasks,
                [
                    {
                        "id": t.id,
                        "title": t.title,
                        "workspace_id": t.workspace_id,
                        "priority": t.priority,
                        "max_attempts": t.max_attempts,
                        "max_runtime_ms": t.max_runtime_ms,
                        "metadata_json": task_metadata_json(t),
                        "created_at": first_event_at,
                    }
                    for t, first_event_at in _task_times(built_tasks, built_runs)
                ],
            )
            with _indexes_rebuilt_after(conn, first_run=builder_first_run):
                _bulk_insert(conn, runs_table, [run.row for run in built_runs])
                _bulk_insert(conn, events, trail)
            if conn.dialect.name == "postgresql":
                for table in ("workspaces", "tasks", "runs", "events"):
                    conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                    )
    by_status = {status.value: 0 for status in RunStatus}
    for run in built_runs:
        by_status[str(run["status"])] += 1
    return DemoSummary(
        runs=len(built_runs),
        tasks=len(built_tasks),
        events=len(trail),
        seed=seed,
        now_ms=now_ms,
        workspaces=tuple(roots),
        by_status=by_status,
        receipts_written=len(builder.written),
        receipts_missing=builder.missing,
    )


def _task_times(built_tasks: list[Task], built_runs: list[Run]) -> list[tuple[Task, int]]:
    first: dict[int, int] = {}
    for run in built_runs:
        first.setdefault(run.int("task_id"), run.int("queued_at"))
    return [(task, first[task.id]) for task in built_tasks]


def _bulk_insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, object]]) -> None:
    """INSERT many rows: the statement compiled once by SQLAlchemy, the rows handed to the
    driver's executemany as they are (SQLAlchemy's per-row processing costs ~10x more).

    Compiled with named parameters (``:name`` for sqlite3, ``%(name)s`` for psycopg) so the
    row dicts go straight to the driver; our bind names are the column names.
    """
    if not rows:
        return
    dialect = conn.dialect
    if dialect.positional:  # sqlite3 takes :name as well as ?, and dicts for it
        # Every SQLAlchemy dialect is a DefaultDialect, whose constructor takes paramstyle
        # (the Dialect interface that conn.dialect is typed as declares no constructor).
        dialect = cast("type[DefaultDialect]", type(dialect))(paramstyle="named")
    sql = str(table.insert().compile(dialect=dialect, column_keys=list(rows[0])))
    for start in range(0, len(rows), 50_000):
        conn.exec_driver_sql(sql, rows[start : start + 50_000])


@contextmanager
def _indexes_rebuilt_after(conn: sa.Connection, *, first_run: int) -> Iterator[None]:
    """Into an empty database, load first and build the secondary indexes once after.

    Sorting 100,000 keys once beats 100,000 ordered inserts into each of eight indexes
    (about twice as fast overall on SQLite). The indexes come back from the same
    definitions (parkbench.core.models, checked against the migrations), inside this transaction,
    and recreating the unique one re-checks one open run per task over the loaded rows.
    With rows already present (``--append``) they stay as they are.
    """
    if first_run != 1:
        yield
        return
    rebuilt = [index for table in (runs_table, events) for index in table.indexes]
    for index in rebuilt:
        index.drop(conn)
    yield
    for index in rebuilt:
        index.create(conn)


def _next_id(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0) + 1


def _workspace_id(conn: sa.Connection, root: str, now_ms: int) -> int:
    found = conn.execute(sa.select(workspaces.c.id).where(workspaces.c.root == root)).scalar()
    if found is not None:
        return int(found)
    return int(
        conn.execute(
            workspaces.insert().returning(workspaces.c.id),
            {"name": os.path.basename(root), "root": root, "created_at": now_ms},
        ).scalar_one()
    )


__all__ = ["DEMO_NOW_MS", "DemoSummary", "generate"]
