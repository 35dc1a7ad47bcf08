"""The parked side of the read model: what the receipt watcher and the headless snapshot
read of the runs in needs_attention, page by page (keyset-paged, like every list in
:mod:`parkbench.core.store.queries`), and which moves parked or unparked runs since a marker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import sqlalchemy as sa

from parkbench.core import contracts
from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import events, runs, tasks, workspaces
from parkbench.core.records import RunFilter, SortKey
from parkbench.core.store.audit import MOVES_ONLY
from parkbench.core.store.queries import _JOINED, _ORDERS, _beyond, _where


def parked_moves_since(
    conn: sa.Connection, after_event_id: int, limit: int
) -> list[tuple[int, int]]:
    """``(event id, run id)`` of events after an id that moved a run into or out of the parked
    state, oldest first: the receipt watcher's cheap delta (a range scan of the primary key)."""
    parked = RunStatus.NEEDS_ATTENTION.value
    query = (
        sa.select(events.c.id, events.c.run_id)
        .where(
            events.c.id > after_event_id,
            sa.or_(events.c.to_status == parked, events.c.from_status == parked),
            MOVES_ONLY,
        )
        .order_by(events.c.id)
        .limit(limit)
    )
    return [(int(e), int(r)) for e, r in conn.execute(query)]


def parking_actions(conn: sa.Connection, run_ids: Sequence[int]) -> dict[int, str]:
    """Which action parked each run: its latest event into ``needs_attention`` (e.g.
    ``park_missing`` when completion found receipts missing, ``block`` for a worker's block)."""
    if not run_ids:
        return {}
    latest = (
        sa.select(sa.func.max(events.c.id))
        .where(
            events.c.run_id.in_(run_ids),
            events.c.to_status == RunStatus.NEEDS_ATTENTION.value,
            MOVES_ONLY,
        )
        .group_by(events.c.run_id)
    )
    query = sa.select(events.c.run_id, events.c.action).where(events.c.id.in_(latest))
    return {int(r): str(a) for r, a in conn.execute(query)}


def parked_versions(
    conn: sa.Connection, after: tuple[int, int] | None, limit: int
) -> list[tuple[int, int, int]]:
    """``(status_changed_at, id, version)`` of parked runs, keyset-paged on the
    ``ix_runs_status_changed`` order: a cheap full pass to reconcile a cached parked set."""
    query = sa.select(runs.c.status_changed_at, runs.c.id, runs.c.version).where(
        runs.c.status == RunStatus.NEEDS_ATTENTION.value
    )
    if after is not None:
        query = query.where(_beyond(SortKey.BLOCKED, after, forward=True))
    query = query.order_by(runs.c.status_changed_at, runs.c.id).limit(limit)
    return [(int(t), int(i), int(v)) for t, i, v in conn.execute(query)]


class ParkedRun(NamedTuple):
    """A parked run as a report lists it (``parkbench snapshot``'s summary.json): the fields
    it prints, the contract read as :func:`to_row` reads it, and its keyset key."""

    id: int
    task_id: int
    title: str
    block_reason: str | None
    blocked_at_ms: int | None
    worker: str | None
    attempt: int
    max_attempts: int
    workspace_root: str
    contract: contracts.Contract
    status_changed_at_ms: int

    @property
    def key(self) -> tuple[int, int]:
        """The ``after`` that pages past this run."""
        return (self.status_changed_at_ms, self.id)


def _if_contract(column: sa.ColumnElement[str]) -> sa.ColumnElement[str | None]:
    """The metadata only where it mentions a contract (most runs have none, and a metadata
    text that is never fetched is never decoded);
    :func:`~parkbench.core.contracts.stored_contract` decides the rest."""
    return sa.case((column.contains(contracts.CONTRACT_KEY, autoescape=True), column), else_=None)


_PARKED_RUN_COLUMNS = (
    runs.c.id,
    runs.c.task_id,
    tasks.c.title,
    runs.c.block_reason,
    runs.c.blocked_at,
    runs.c.worker,
    runs.c.attempt,
    runs.c.max_attempts,
    workspaces.c.root,
    _if_contract(tasks.c.metadata_json),
    _if_contract(runs.c.metadata_json),
    runs.c.status_changed_at,
)


def parked_runs(conn: sa.Connection, after: tuple[int, int] | None, limit: int) -> list[ParkedRun]:
    """One keyset page of parked runs in the list's default order (:attr:`SortKey.BLOCKED`,
    oldest first), after the key ``(status_changed_at, id)`` of the last run seen: the
    read side of a report over every parked run, with only the columns it prints (not
    whole :class:`RunRow` records: at 100,000 runs they cost seconds)."""
    query = (
        sa.select(*_PARKED_RUN_COLUMNS)
        .select_from(_JOINED)
        .where(*_where(RunFilter(status=RunStatus.NEEDS_ATTENTION)))
    )
    if after is not None:
        query = query.where(_beyond(SortKey.BLOCKED, after, forward=True))
    query = query.order_by(*(column for column, _ in _ORDERS[SortKey.BLOCKED])).limit(limit)
    return [
        ParkedRun(
            run_id,
            task_id,
            title,
            reason,
            blocked_at,
            worker,
            attempt,
            max_attempts,
            root,
            contracts.stored_contract(task_md or "{}", run_md or "{}"),
            changed_at,
        )
        for (
            run_id,
            task_id,
            title,
            reason,
            blocked_at,
            worker,
            attempt,
            max_attempts,
            root,
            task_md,
            run_md,
            changed_at,
        ) in conn.execute(query)
    ]


class WatchedRun(NamedTuple):
    """A parked run as the receipt watcher needs it: one row of :func:`watched_runs`."""

    id: int
    version: int
    workspace_root: str
    contract: contracts.Contract  # empty: nothing to watch
    parked_by: str | None  # the action of its latest move into needs_attention
    status_changed_at_ms: int

    @property
    def key(self) -> tuple[int, int]:
        """The ``after`` that pages past this run."""
        return (self.status_changed_at_ms, self.id)


#: The action that parked the run: its newest event into needs_attention (``ix_events_run``).
_PARKED_BY = (
    sa.select(events.c.action)
    .where(
        events.c.run_id == runs.c.id,
        events.c.to_status == RunStatus.NEEDS_ATTENTION.value,
    )
    .order_by(events.c.id.desc())
    .limit(1)
    .correlate(runs)
    .scalar_subquery()
)


def watched_runs(
    conn: sa.Connection,
    *,
    after: tuple[int, int] | None = None,
    run_ids: Sequence[int] | None = None,
    limit: int,
) -> list[WatchedRun]:
    """One keyset page of parked runs (oldest first, after the key ``(status_changed_at,
    id)`` of the last run seen), or the parked ones among ``run_ids``: each with its
    contract and the action that parked it, in one query (no :class:`RunRow`, no second
    read for the events)."""
    query = (
        sa.select(
            runs.c.id,
            runs.c.version,
            workspaces.c.root,
            _if_contract(tasks.c.metadata_json),
            _if_contract(runs.c.metadata_json),
            _PARKED_BY,
            runs.c.status_changed_at,
        )
        .select_from(_JOINED)
        .where(runs.c.status == RunStatus.NEEDS_ATTENTION.value)
    )
    if run_ids is not None:
        query = query.where(runs.c.id.in_(run_ids))
    if after is not None:
        query = query.where(_beyond(SortKey.BLOCKED, after, forward=True))
    query = query.order_by(*(column for column, _ in _ORDERS[SortKey.BLOCKED])).limit(limit)
    return [
        WatchedRun(
            run_id,
            version,
            root,
            contracts.stored_contract(task_md, run_md),
            parked_by,
            changed_at,
        )
        for run_id, version, root, task_md, run_md, parked_by, changed_at in conn.execute(query)
    ]


def parked_roots(conn: sa.Connection) -> dict[str, int]:
    """Workspace root -> how many runs are parked there (one grouped read of the parked set)."""
    query = (
        sa.select(workspaces.c.root, sa.func.count())
        .select_from(runs.join(workspaces, workspaces.c.id == runs.c.workspace_id))
        .where(runs.c.status == RunStatus.NEEDS_ATTENTION.value)
        .group_by(workspaces.c.root)
    )
    return {str(root): int(count) for root, count in conn.execute(query)}
