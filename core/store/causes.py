"""The read side of causes: the parked runs grouped by their stored cause key.

Every write that parks a run stores its cause key (``runs.cause_key``:
:func:`parkbench.core.causes.cause_key`, computed from the reason in the same UPDATE), so
grouping is one ``GROUP BY cause_key, worker`` over the parked runs
(``status = 'needs_attention'``), read from ``ix_runs_status_cause`` alone: each row a
(key, worker) bucket with its count and its earliest and latest parked time. Python folds
the buckets into causes (:class:`parkbench.core.causes.CauseTally`: a few per cause, never a
run), then reads each listed cause's example — its oldest run's reason — with one indexed
look-up per cause (the bucket and the instant that hold it). Both run in one transaction
(SQLite's read snapshot; REPEATABLE READ on PostgreSQL), so a cause and its example are of
one moment. A cause names its runs by its keys (:class:`~parkbench.core.causes.CauseSelector`)
and :func:`runs_of` finds them, again by the index.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from parkbench.core.causes import Bucket, Causes, CauseSelector, CauseTally
from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import runs

#: Cause keys per ``IN (...)`` list when finding causes' runs (well under SQLite's 32,766
#: and PostgreSQL's 65,535 bound parameters).
KEYS_PER_QUERY = 2000

_PARKED = runs.c.status == RunStatus.NEEDS_ATTENTION.value
_BLOCKED = sa.func.coalesce(runs.c.blocked_at, runs.c.status_changed_at)
#: The (cause key, worker) buckets of the parked runs.
BUCKETS = (
    sa.select(
        runs.c.cause_key,
        runs.c.worker,
        sa.func.count(),
        sa.func.min(_BLOCKED),
        sa.func.max(_BLOCKED),
    )
    .where(_PARKED)
    .group_by(runs.c.cause_key, runs.c.worker)
)
_AT = sa.bindparam("p_at", type_=sa.BigInteger)


def _oldest_statement(null_key: bool, null_worker: bool) -> sa.Select[Any]:
    """The parked runs of one bucket parked at ``p_at`` (the smallest id first): a seek in
    ``ix_runs_status_cause`` on (status, key, worker, blocked_at), or on blocked_at NULL
    and status_changed_at for a run parked before blocked_at was written. A NULL key or
    worker is its own statement (``IS NULL`` is what the index can seek on both backends;
    ``IS NOT DISTINCT FROM`` is not, on PostgreSQL)."""
    key = runs.c.cause_key.is_(None) if null_key else runs.c.cause_key == sa.bindparam("p_key")
    worker = runs.c.worker.is_(None) if null_worker else runs.c.worker == sa.bindparam("p_worker")
    bucket = (_PARKED, key, worker)
    stamped = sa.select(runs.c.id, runs.c.cause_key, runs.c.block_reason).where(
        *bucket, runs.c.blocked_at == _AT
    )
    unstamped = sa.select(runs.c.id, runs.c.cause_key, runs.c.block_reason).where(
        *bucket, runs.c.blocked_at.is_(None), runs.c.status_changed_at == _AT
    )
    union = sa.union_all(stamped, unstamped).subquery()
    return (
        sa.select(union.c.id, union.c.cause_key, union.c.block_reason).order_by(union.c.id).limit(1)
    )


_OLDEST = {
    (null_key, null_worker): _oldest_statement(null_key, null_worker)
    for null_key in (False, True)
    for null_worker in (False, True)
}


def _oldest_reason(
    conn: sa.Connection, at: int, buckets: Sequence[Bucket]
) -> tuple[str | None, str | None] | None:
    """The run parked first (at ``at``, in one of ``buckets``; the smallest id among
    equals): its cause key and its reason."""
    best: tuple[int, str | None, str | None] | None = None
    for key, worker in buckets:
        params: dict[str, object] = {"p_at": at}
        if key is not None:
            params["p_key"] = key
        if worker is not None:
            params["p_worker"] = worker
        row = conn.execute(_OLDEST[(key is None, worker is None)], params).first()
        if row is not None and (best is None or row[0] < best[0]):
            best = (row[0], row[1], row[2])
    return None if best is None else (best[1], best[2])


def fold_parked(conn: sa.Connection, *, limit: int | None = None) -> Causes:
    """Every parked run's cause, largest groups first (the first ``limit``, or all), read in
    ``conn``'s transaction as it is (see :func:`parked_causes`)."""
    tally = CauseTally()
    for key, worker, count, oldest, newest in conn.execute(BUCKETS):
        tally.add(key, worker, count, oldest, newest)
    return tally.result(limit, lambda at, buckets: _oldest_reason(conn, at, buckets))


def parked_causes(conn: sa.Connection, *, limit: int | None = None) -> Causes:
    """:func:`fold_parked` as the first statements of their transaction (on PostgreSQL it
    sets the isolation level: the groups and their examples in one snapshot)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    return fold_parked(conn, limit=limit)


def _chunks(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), KEYS_PER_QUERY):
        yield keys[start : start + KEYS_PER_QUERY]


def runs_of(conn: sa.Connection, selectors: Sequence[CauseSelector]) -> list[tuple[int, ...]]:
    """The ids of the parked runs each selector holds now (ascending): the parked runs whose
    cause key is one of its keys (``IN`` lists of :data:`KEYS_PER_QUERY` keys at a time),
    and those without a key for a selector that holds them."""
    owner: dict[str, int] = {}
    null = None
    for index, selector in enumerate(selectors):
        for key in selector.keys:
            owner.setdefault(key, index)
        if selector.null and null is None:
            null = index
    found: list[list[int]] = [[] for _ in selectors]
    base = sa.select(runs.c.id, runs.c.cause_key).where(_PARKED)
    for chunk in _chunks(list(owner)):
        for run_id, key in conn.execute(base.where(runs.c.cause_key.in_(chunk))):
            found[owner[key]].append(run_id)
    if null is not None:
        query = sa.select(runs.c.id).where(_PARKED, runs.c.cause_key.is_(None))
        found[null].extend(conn.execute(query).scalars())
    return [tuple(sorted(ids)) for ids in found]
