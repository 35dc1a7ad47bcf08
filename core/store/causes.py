"""The read side of causes: the database groups the parked runs, Python masks each distinct
reason once.

Two ``GROUP BY`` statements over the parked runs (``status = 'needs_attention'``): the
runs whose reason is not a missing-receipts reason, by (the reason's first
:data:`~parkbench.core.causes.SHAPE_INPUT_CHARS` characters — what masking reads —, worker),
without a join; and those whose reason starts as completion's missing-receipts reason does,
by (the whole reason, the task's and the run's metadata, worker), where the contract is
(whether it names every path the reason names decides the cause). Each row comes back with
its count, the earliest and latest time parked and the smallest run id, and is folded into
:class:`parkbench.core.causes.CauseTally`: one masking per distinct text, groups of the same
shape merged (counts summed, times and the example — the oldest — kept, workers united).
Memory holds the groups and the distinct texts, never a run: a group names its runs by
the texts it holds (:class:`~parkbench.core.causes.CauseSelector`), and :func:`runs_of`
finds them when a cause is opened. Both statements run in one transaction (SQLite's read
snapshot; REPEATABLE READ on PostgreSQL), so the groups are of one moment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from parkbench.core.causes import (
    MISSING_PREFIX,
    SHAPE_INPUT_CHARS,
    Causes,
    CauseSelector,
    CauseTally,
    fold_key,
)
from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import runs, tasks

#: Reason texts per ``IN (...)`` list when finding a cause's runs (well under SQLite's
#: 32,766 and PostgreSQL's 65,535 bound parameters).
TEXTS_PER_QUERY = 2000


def _is_missing() -> sa.ColumnElement[bool]:
    """The reason starts as a missing-receipts reason (exactly, case and all, as Python's
    ``startswith``: LIKE is case-blind on SQLite)."""
    prefix = sa.func.substr(runs.c.block_reason, 1, len(MISSING_PREFIX))
    return prefix == sa.literal(MISSING_PREFIX)


def _text() -> sa.ColumnElement[str | None]:
    """What the pass reads of a reason: all of a missing-receipts reason (its paths), the
    start of any other (a traceback can be megabytes; masking reads no more)."""
    return sa.case(
        (_is_missing(), runs.c.block_reason),
        else_=sa.func.substr(runs.c.block_reason, 1, SHAPE_INPUT_CHARS),
    )


def _when_missing(column: sa.ColumnElement[str]) -> sa.ColumnElement[str | None]:
    return sa.case((_is_missing(), column), else_=None)


def _blocked() -> sa.ColumnElement[int]:
    return sa.func.coalesce(runs.c.blocked_at, runs.c.status_changed_at)


def contract_names_all(reason: str | None, task_md: str | None, run_md: str | None) -> bool | None:
    """For a missing-receipts reason, whether the run's metadata (where its contract lists
    its paths, as JSON strings: :func:`parkbench.core.inputs.dump` writes it) holds every
    path the reason names; None for any other reason. A text search, not a parse of the
    contract (a parse costs a quarter of a millisecond)."""
    if reason is None or not reason.startswith(MISSING_PREFIX):
        return None
    metadata = f"{task_md}\n{run_md}"
    named = reason[len(MISSING_PREFIX) :].split(", ")
    return all(json.dumps(path, ensure_ascii=False) in metadata for path in named)


def _grouped(inner: sa.Subquery, *keys: str) -> sa.Select[Any]:
    """GROUP BY ``keys`` (and worker) of ``inner``, with what a group needs. Grouped from a
    subquery so PostgreSQL sees the same columns in SELECT and GROUP BY (not two renderings
    of one expression with their own bound parameters)."""
    by = [inner.c[key] for key in (*keys, "worker")]
    blocked = inner.c.blocked
    return sa.select(
        *by,
        sa.func.count(),
        sa.func.min(blocked),
        sa.func.max(blocked),
        sa.func.min(inner.c.id),
    ).group_by(*by)


def fold_parked(conn: sa.Connection, tally: CauseTally | None = None) -> CauseTally:
    """Add every parked run to ``tally`` (a new one by default), grouped by the database."""
    tally = tally if tally is not None else CauseTally()
    parked = runs.c.status == RunStatus.NEEDS_ATTENTION.value
    missing = _is_missing()
    columns = (
        runs.c.worker.label("worker"),
        _blocked().label("blocked"),
        runs.c.id.label("id"),
    )
    start = sa.func.substr(runs.c.block_reason, 1, SHAPE_INPUT_CHARS)  # = _text() for these
    plain = (
        sa.select(start.label("text"), *columns)
        .where(parked, sa.or_(runs.c.block_reason.is_(None), sa.not_(missing)))
        .subquery()
    )
    add = tally.add_many
    for text, worker, count, oldest, newest, first in conn.execute(_grouped(plain, "text")):
        add(text, None, worker, count, oldest, newest, first)
    receipts = (
        sa.select(
            runs.c.block_reason.label("text"),  # = _text() for these
            *columns,
            tasks.c.metadata_json.label("task_md"),
            runs.c.metadata_json.label("run_md"),
        )
        .select_from(runs.join(tasks, tasks.c.id == runs.c.task_id))
        .where(parked, missing)
        .subquery()
    )
    query = _grouped(receipts, "text", "task_md", "run_md")
    for text, task_md, run_md, worker, count, oldest, newest, first in conn.execute(query):
        names_all = contract_names_all(text, task_md, run_md)
        add(text, names_all, worker, count, oldest, newest, first)
    return tally


def parked_causes(conn: sa.Connection, *, limit: int | None = None) -> Causes:
    """Every parked run's cause, largest groups first (the first ``limit``, or all).

    The first statement of its transaction (on PostgreSQL it sets the isolation level)."""
    if conn.dialect.name == "postgresql":
        # One snapshot for both statements, as SQLite's read transaction gives.
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    return fold_parked(conn).result(limit)


def _chunks(texts: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(texts), TEXTS_PER_QUERY):
        yield texts[start : start + TEXTS_PER_QUERY]


def runs_of(conn: sa.Connection, selectors: Sequence[CauseSelector]) -> list[tuple[int, ...]]:
    """The ids of the parked runs each selector holds now (ascending): the parked runs whose
    reason text is one of theirs, ``IN`` lists of :data:`TEXTS_PER_QUERY` texts at a time
    (a missing-receipts reason's run also checked against its contract)."""
    owner: dict[tuple[str | None, bool | None], int] = {}
    texts: dict[str, None] = {}
    null = None
    for index, selector in enumerate(selectors):
        for text in selector.texts:
            owner.setdefault((text, None), index)
            texts[text] = None
        for text, names_all in selector.receipts:
            owner.setdefault((text, names_all), index)
            texts[text] = None
        if selector.null and null is None:
            null = index
    found: list[list[int]] = [[] for _ in selectors]
    parked = runs.c.status == RunStatus.NEEDS_ATTENTION.value
    read = _text()
    base = sa.select(
        runs.c.id,
        read,
        _when_missing(tasks.c.metadata_json),
        _when_missing(runs.c.metadata_json),
    ).select_from(runs.join(tasks, tasks.c.id == runs.c.task_id))
    wanted = list(texts)
    for chunk in _chunks(wanted):
        for run_id, reason, task_md, run_md in conn.execute(base.where(parked, read.in_(chunk))):
            held = owner.get(fold_key(reason, contract_names_all(reason, task_md, run_md)))
            if held is not None:
                found[held].append(run_id)
    if null is not None:
        query = sa.select(runs.c.id).where(parked, runs.c.block_reason.is_(None))
        found[null].extend(conn.execute(query).scalars())
    return [tuple(sorted(ids)) for ids in found]
