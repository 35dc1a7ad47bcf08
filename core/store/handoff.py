"""What a worker is told when it claims a run: the task, its contract, and the handoff.

The handoff says how this run continues earlier work: which attempt came before, why it
stopped, and the human decision that put the work back in the queue (the reviewer's text is
the answer to the agent's question). It is read from the audit trail, not from the run's
columns: those say where a run is now, the events say how it got there.

:func:`derive` is the pure rule; :func:`claimed_context` runs the few indexed reads it needs.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from parkbench.core import contracts, inputs
from parkbench.core.contracts import Contract
from parkbench.core.errors import DatabaseError
from parkbench.core.lifecycle import Action, ActorKind, RunStatus
from parkbench.core.models import events, runs, tasks, workspaces
from parkbench.core.records import (
    ClaimedTask,
    EventRow,
    Handoff,
    HandoffDecision,
    HandoffNote,
    HandoffStop,
)
from parkbench.core.store.audit import MOVES_ONLY
from parkbench.core.store.notes import HANDOFF_NOTES, notes_of

#: The moves that stop an attempt, and what the handoff calls each.
STOP_NAMES: dict[str, str] = {
    Action.BLOCK.value: "blocked",
    Action.PARK_MISSING.value: "missing_receipts",
    Action.RUNTIME_PARK.value: "max_runtime",
    Action.EXPIRE_PARK.value: "lease_expired",
    Action.EXPIRE_RETRY.value: "lease_expired",
    Action.RETRY.value: "failed",
    Action.RELEASE.value: "released",
}
#: A same-run continuation: the status its previous attempt ended in.
_ENDED_AS = {
    Action.RETRY.value: "failed",
    Action.EXPIRE_RETRY.value: "lease_expired",
    Action.RELEASE.value: "released",
}
_NEW_ATTEMPT = {Action.RETRY.value, Action.EXPIRE_RETRY.value}

_EVENT_COLUMNS = (
    events.c.id,
    events.c.actor_kind,
    events.c.actor,
    events.c.action,
    events.c.from_status,
    events.c.to_status,
    events.c.reason,
    events.c.created_at,
)


def _stop(event: Any) -> HandoffStop:
    return HandoffStop(
        why=STOP_NAMES.get(event.action, event.action),
        reason=event.reason,
        by=event.actor,
        at_ms=event.created_at,
    )


def _decision(event: Any, action: str | None = None) -> HandoffDecision | None:
    if event.actor_kind != ActorKind.HUMAN.value:
        return None
    return HandoffDecision(
        action=action or event.action,
        reviewer=event.actor,
        text=event.reason,
        at_ms=event.created_at,
    )


def _json_object(text: str | None) -> dict[str, object]:
    value = inputs.load(text)
    return value if isinstance(value, dict) else {}


def derive(
    *,
    run_id: int,
    attempt: int,
    queued_by: Any | None,
    parked_by: Any | None,
    previous: Any | None,
    notes: tuple[EventRow, ...] = (),
) -> Handoff | None:
    """The handoff of run ``run_id`` (now at ``attempt``), from three facts of its trail.

    ``queued_by``: the latest event that put this run in the queue (its ``enqueue``, or a
    retry, expiry or release that sent it back). ``parked_by``: the latest event before it
    that parked the previous attempt (on the requeued source run for a requeue). ``previous``:
    the requeued source run (``id``, ``attempt``, ``status``), if this run is its successor.
    ``notes``: the reviewers' notes to pass on (see :func:`_notes`). A first attempt of new
    work has no handoff.
    """
    handed = tuple(
        HandoffNote(run_id=n.run_id, by=n.actor, text=n.reason or "", at_ms=n.created_at_ms)
        for n in notes
    )
    if queued_by is None:
        return None
    if queued_by.action == Action.ENQUEUE.value:
        if previous is None:
            return None  # new work
        # A requeue's successor: the source run stopped (parked), a human requeued it, and
        # the requeue wrote the reviewer's text on this run's enqueue event too.
        return Handoff(
            previous_run_id=previous.id,
            previous_attempt=previous.attempt,
            previous_status=previous.status,
            stopped=None if parked_by is None else _stop(parked_by),
            decision=_decision(queued_by, Action.REQUEUE.value),
            notes=handed,
        )
    previous_attempt = attempt - 1 if queued_by.action in _NEW_ATTEMPT else attempt
    if queued_by.from_status == RunStatus.NEEDS_ATTENTION.value:
        # A reviewer released a parked run: it stopped when it parked.
        return Handoff(
            previous_run_id=run_id,
            previous_attempt=previous_attempt,
            previous_status=RunStatus.NEEDS_ATTENTION.value,
            stopped=None if parked_by is None else _stop(parked_by),
            decision=_decision(queued_by),
            notes=handed,
        )
    return Handoff(
        previous_run_id=run_id,
        previous_attempt=previous_attempt,
        previous_status=_ENDED_AS.get(queued_by.action, queued_by.action),
        stopped=_stop(queued_by),
        decision=_decision(queued_by),
        notes=handed,
    )


def _latest_event(
    conn: sa.Connection, run_id: int, to_status: RunStatus, before: int | None = None
) -> Any | None:
    query = sa.select(*_EVENT_COLUMNS).where(
        events.c.run_id == run_id,
        events.c.to_status == to_status.value,
        MOVES_ONLY,
        # An undone requeue parks the source again, but it did not stop the work: the
        # block before it is what the next attempt must hear about.
        events.c.action != Action.UNDO_REQUEUE.value,
    )
    if before is not None:
        query = query.where(events.c.id < before)
    # ix_events_run (run_id, id): a backwards walk over one run's events.
    return conn.execute(query.order_by(events.c.id.desc()).limit(1)).first()


def claimed_context(
    conn: sa.Connection, run_id: int
) -> tuple[ClaimedTask, Contract, int, Handoff | None]:
    """The task, contract, max attempts and handoff of a run just claimed (same transaction)."""
    row = conn.execute(
        sa.select(
            runs.c.attempt,
            runs.c.max_attempts,
            runs.c.priority,
            runs.c.previous_run_id,
            runs.c.metadata_json,
            tasks.c.id.label("task_id"),
            tasks.c.title,
            tasks.c.metadata_json.label("task_metadata_json"),
            workspaces.c.root,
        )
        .select_from(runs.join(tasks, tasks.c.id == runs.c.task_id))
        .join(workspaces, workspaces.c.id == runs.c.workspace_id)
        .where(runs.c.id == run_id)
    ).first()
    if row is None:  # the run was just claimed: only a damaged file loses its task or root
        raise DatabaseError(
            f"run {run_id} was claimed but its task or workspace row is missing: the "
            "database is damaged",
            hint="check it with `sqlite3 FILE 'PRAGMA integrity_check'` and restore it from a "
            "backup",
        )
    task_metadata = _json_object(row.task_metadata_json)
    run_metadata = _json_object(row.metadata_json)
    task = ClaimedTask(
        id=row.task_id,
        title=row.title,
        workspace=row.root,
        priority=row.priority,
        metadata=task_metadata,
        run_metadata=run_metadata,
    )
    contract = contracts.parse_contract(task_metadata, run_metadata)
    return task, contract, row.max_attempts, _handoff(conn, run_id, row)


def _handoff(conn: sa.Connection, run_id: int, row: Any) -> Handoff | None:
    queued_by = _latest_event(conn, run_id, RunStatus.QUEUED)
    previous = parked_by = None
    if queued_by is not None and queued_by.action == Action.ENQUEUE.value:
        if row.previous_run_id is not None:
            previous = conn.execute(
                sa.select(runs.c.id, runs.c.attempt, runs.c.status).where(
                    runs.c.id == row.previous_run_id
                )
            ).first()
            parked_by = _latest_event(conn, row.previous_run_id, RunStatus.NEEDS_ATTENTION)
    elif queued_by is not None and queued_by.from_status == RunStatus.NEEDS_ATTENTION.value:
        parked_by = _latest_event(conn, run_id, RunStatus.NEEDS_ATTENTION, before=queued_by.id)
    return derive(
        run_id=run_id,
        attempt=row.attempt,
        queued_by=queued_by,
        parked_by=parked_by,
        previous=previous,
        notes=_notes(conn, run_id, queued_by, previous),
    )


def _notes(
    conn: sa.Connection, run_id: int, queued_by: Any | None, previous: Any | None
) -> tuple[EventRow, ...]:
    """The notes a handoff passes on: written since the previous attempt was claimed (while
    it ran, once it stopped, and while this run waited in the queue), on the previous
    attempt's run and on this one. New work (no handoff) has none to pass on."""
    if queued_by is None or (queued_by.action == Action.ENQUEUE.value and previous is None):
        return ()
    source = previous.id if previous is not None else run_id
    claimed = sa.select(sa.func.max(events.c.id)).where(
        events.c.run_id == source, events.c.action == Action.CLAIM.value
    )
    if previous is None:  # the same run: the claim before it went back to the queue
        claimed = claimed.where(events.c.id < queued_by.id)
    since = conn.execute(claimed).scalar() or 0
    return notes_of(conn, (source, run_id), after_event_id=since, limit=HANDOFF_NOTES)
