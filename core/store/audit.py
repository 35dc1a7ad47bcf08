"""The audit event's row: one shape for every transition, whoever writes it.

Every store operation builds its event with :func:`event_row`, so the trail has one shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from parkbench.core import inputs, tokens
from parkbench.core.lifecycle import NON_MOVES, Action, ActorKind, RunStatus
from parkbench.core.models import events
from parkbench.core.records import EventRow
from parkbench.core.store.json_rows import json_rows, payload

#: The WHERE clause of "events that moved the run": every reader of a run's latest move
#: (the handoff, the parking action, a conflict's summary, the supervisor) skips notes,
#: which record a status without changing it.
MOVES_ONLY: sa.ColumnElement[bool] = events.c.action.not_in(sorted(a.value for a in NON_MOVES))


def event_row(
    *,
    run_id: int,
    task_id: int,
    actor_kind: ActorKind,
    actor: str,
    action: Action,
    from_status: RunStatus | None,
    to_status: RunStatus,
    now: int,
    reason: str | None = None,
    token_hash: str | None = None,
    details: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """One audit event's row (all but its id): the only shape events are written in."""
    return {
        "run_id": run_id,
        "task_id": task_id,
        "actor_kind": actor_kind.value,
        "actor": actor,
        "action": action.value,
        "from_status": from_status.value if from_status else None,
        "to_status": to_status.value,
        "reason": reason,
        "token_hash_prefix": tokens.hash_prefix(token_hash),
        "details_json": inputs.dump(dict(details)) if details else None,
        "created_at": now,
    }


#: The columns of an event row (all but its id), in the order :func:`insert_events` sends them.
EVENT_COLUMNS: tuple[str, ...] = tuple(c.name for c in events.c if c.name != "id")


def _events_insert(dialect: str) -> sa.Insert:
    source = json_rows("p_events", dialect)
    fields = [(name, events.c[name].type) for name in EVENT_COLUMNS]
    # In the order given: the trail's ids follow it (a successor's enqueue, then the requeue).
    picked = sa.select(*source.columns(fields)).select_from(source.elements)
    return events.insert().from_select(EVENT_COLUMNS, picked.order_by(source.order))


_EVENT_INSERTS = {dialect: _events_insert(dialect) for dialect in ("postgresql", "sqlite")}


def insert_events(conn: sa.Connection, rows: Iterable[Mapping[str, object]]) -> None:
    """Write many events (each an :func:`event_row`) in ONE statement, in order: one round
    trip and, on PostgreSQL, one run of the notify trigger for the lot. ``rows`` may be a
    generator: each row becomes its list of fields as it comes (the dicts are never all held
    at once)."""
    fields = [[row[name] for name in EVENT_COLUMNS] for row in rows]
    if fields:
        conn.execute(_EVENT_INSERTS[conn.dialect.name], {"p_events": payload(fields)})


def event_record(row: Any) -> EventRow:
    """An ``events`` row as read (every column) as the record the store hands out."""
    return EventRow(
        id=row.id,
        run_id=row.run_id,
        actor_kind=row.actor_kind,
        actor=row.actor,
        action=row.action,
        from_status=row.from_status,
        to_status=row.to_status,
        reason=row.reason,
        token_hash_prefix=row.token_hash_prefix,
        details=inputs.load_object(row.details_json),
        created_at_ms=row.created_at,
    )


def claim_event(
    *, worker: str, token_hash: str, now: int, run_id: int = 0, task_id: int = 0
) -> dict[str, object]:
    """The event of a claim (queued -> claimed by ``worker``)."""
    return event_row(
        run_id=run_id,
        task_id=task_id,
        actor_kind=ActorKind.WORKER,
        actor=worker,
        action=Action.CLAIM,
        from_status=RunStatus.QUEUED,
        to_status=RunStatus.CLAIMED,
        now=now,
        token_hash=token_hash,
    )


#: Who the expiry sweep's events name.
SWEEPER = "sweeper"


def sweep_event(
    *, run_id: int, task_id: int, action: Action, to_status: RunStatus, now: int, reason: str
) -> dict[str, object]:
    """The event of one run the expiry sweep moved (from claimed, by the system)."""
    return event_row(
        run_id=run_id,
        task_id=task_id,
        actor_kind=ActorKind.SYSTEM,
        actor=SWEEPER,
        action=action,
        from_status=RunStatus.CLAIMED,
        to_status=to_status,
        now=now,
        reason=reason,
    )
