"""The audit event's row: one shape for every transition, whoever writes it.

Every store operation builds its event with :func:`event_row`, so the trail has one shape.
"""

from __future__ import annotations

from collections.abc import Mapping

from parkbench.core import inputs, tokens
from parkbench.core.lifecycle import Action, ActorKind, RunStatus


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
