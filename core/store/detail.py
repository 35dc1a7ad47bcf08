"""One run in full: its row, lineage, newest events and notes, and what last happened to it.

The read behind ``show`` and the review app's detail pane (``Store.detail``), and the
one-line "what changed" that an action's conflict report gives for a run that moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import sqlalchemy as sa

from parkbench.core import contracts, inputs
from parkbench.core.errors import NotFoundError, ValidationError
from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import events, runs
from parkbench.core.records import LineageEntry, RunDetail
from parkbench.core.store.audit import MOVES_ONLY, event_record
from parkbench.core.store.notes import DETAIL_NOTES, notes_of
from parkbench.core.store.queries import _JOINED, _ROW_COLUMNS, to_row

#: A run's detail loads at most this many of its newest events by default (a run's trail
#: grows with every retry, release and requeue); ``events_total`` says how many there are.
DETAIL_EVENTS = 200


def last_change_summary(conn: sa.Connection, run_id: int) -> str:
    """What last happened to ``run_id`` (its newest move)."""
    return last_change_summaries(conn, [run_id])[run_id]


def last_change_summaries(conn: sa.Connection, run_ids: Sequence[int]) -> dict[int, str]:
    """What last happened to each of ``run_ids`` (its newest move: notes are not moves),
    in one read."""
    newest = (
        sa.select(sa.func.max(events.c.id))
        .where(events.c.run_id.in_(run_ids), MOVES_ONLY)
        .group_by(events.c.run_id)
    )
    summaries = dict.fromkeys(run_ids, "it has no recorded events")
    for row in conn.execute(
        sa.select(
            events.c.run_id,
            events.c.action,
            events.c.actor,
            events.c.actor_kind,
            events.c.to_status,
        ).where(events.c.id.in_(newest))
    ):
        summaries[row.run_id] = (
            f"{row.action} by {row.actor} ({row.actor_kind}); it is now {row.to_status}"
        )
    return summaries


def run_detail(
    conn: sa.Connection, run_id: int, *, events_limit: int | None = DETAIL_EVENTS
) -> RunDetail:
    """One run in full, with its newest ``events_limit`` events (None: every one)."""
    if events_limit is not None and events_limit < 0:
        raise ValidationError(
            f"the number of events to show must be 0 or more, got {events_limit}",
            hint="pass --events N (N >= 0), or --all-events",
        )
    raw = conn.execute(
        sa.select(*_ROW_COLUMNS).select_from(_JOINED).where(runs.c.id == run_id)
    ).first()
    if raw is None:
        raise NotFoundError(f"run {run_id} does not exist")
    row = to_row(raw)
    root_id = raw.root_run_id or raw.id
    lineage = tuple(
        LineageEntry(r.id, r.attempt, RunStatus(r.status), r.lineage_depth)
        for r in conn.execute(
            sa.select(runs.c.id, runs.c.attempt, runs.c.status, runs.c.lineage_depth)
            .where(
                runs.c.task_id == raw.task_id,
                sa.or_(runs.c.id == root_id, runs.c.root_run_id == root_id),
            )
            .order_by(runs.c.lineage_depth, runs.c.id)
        )
    )
    newest = sa.select(events).where(events.c.run_id == run_id).order_by(events.c.id.desc())
    if events_limit is not None:
        newest = newest.limit(events_limit)
    trail = tuple(event_record(e) for e in reversed(conn.execute(newest).all()))
    total = len(trail)
    if events_limit is not None and total >= events_limit:
        count = sa.select(sa.func.count()).select_from(events).where(events.c.run_id == run_id)
        total = int(conn.execute(count).scalar_one())
    return RunDetail(
        run=row,
        task_metadata=inputs.load_object(raw.task_metadata_json) or {},
        run_metadata=inputs.load_object(raw.metadata_json) or {},
        result=inputs.load(raw.result_json),
        lineage=lineage,
        events=trail,
        artifacts=(),
        events_total=total,
        notes=notes_of(conn, (run_id,), limit=DETAIL_NOTES),
    )


def with_artifacts(detail: RunDetail) -> RunDetail:
    """Check the contract's receipts on disk now (file-system I/O: call off the UI thread)."""
    checks = contracts.check_artifacts(detail.run.workspace_root, detail.run.contract.required)
    return replace(detail, artifacts=tuple(checks))
