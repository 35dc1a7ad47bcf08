"""The worker's fence, as pure functions: which error a token-fenced action meets, what a
heartbeat writes, and the audit event of a fenced move.

No SQLAlchemy here: :mod:`parkbench.core.store.worker` reads the run, then decides with these
functions, which are pure so that the spec's order of errors is tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from parkbench.core import tokens
from parkbench.core.errors import InvalidTokenError, LeaseExpiredError, NotFoundError
from parkbench.core.lifecycle import Action, ActorKind, RunStatus, find, invalid_transition
from parkbench.core.store.audit import event_row

#: The columns a heartbeat's fenced UPDATE sets (``status`` stays claimed: the table says so).
HEARTBEAT_COLUMNS = ("heartbeat_at", "lease_until", "status")


def check(row: Any | None, run_id: int, token: str, action: Action, now: int) -> Any:
    """The spec's fence, in its order: not_found, invalid_token, invalid_transition,
    lease_expired. ``row`` is the run as ``worker_sql.FENCED_ROW`` reads it (or None)."""
    if row is None:
        raise NotFoundError(f"run {run_id} does not exist")
    if not tokens.verify(token or "", row.claim_token_hash):
        held = "" if row.claim_token_hash else f" (it is {row.status} and holds no lease)"
        raise InvalidTokenError(
            f"the token does not match run {run_id}'s lease{held}",
            hint="use the claim_token printed by `parkbench lease claim` for this run; "
            "a released, blocked or recovered run needs a new claim",
        )
    status = RunStatus(row.status)
    if find(ActorKind.WORKER, action, status) is None:
        raise invalid_transition(ActorKind.WORKER, action, status, run_id)
    if row.lease_until is None or row.lease_until <= now:
        raise LeaseExpiredError(
            f"run {run_id}'s lease expired {(now - (row.lease_until or now)) / 1000:.1f} s ago",
            hint="claim new work with `parkbench lease claim`; the sweep "
            "(`parkbench recover`) will requeue or park this run",
        )
    return row


def heartbeat_values(row: Any, now: int, lease_ms: int) -> dict[str, int]:
    """What a heartbeat writes: a new lease end, never past the run's max runtime."""
    until = now + lease_ms
    if row.runtime_deadline is not None:
        if row.runtime_deadline <= now:
            raise LeaseExpiredError(
                f"run {row.id} exceeded its max runtime",
                hint="the sweep (`parkbench recover`) parks it for a reviewer",
            )
        until = min(until, row.runtime_deadline)
    return {"lease_until": until, "heartbeat_at": now}


def update_params(row: Any, now: int, values: Mapping[str, object]) -> dict[str, object]:
    """Parameters of ``worker_sql.fenced_update``: the values, and the fence just checked."""
    params: dict[str, object] = {f"v_{column}": value for column, value in values.items()}
    fenced = {"p_id": row.id, "p_fence_hash": row.claim_token_hash, "p_version": row.version}
    return params | fenced | {"p_now": now}


def fenced_event(
    row: Any,
    *,
    actor_kind: ActorKind,
    action: Action,
    to_status: RunStatus,
    now: int,
    reason: str | None,
) -> dict[str, object]:
    """The audit event of a fenced move of ``row`` (from claimed)."""
    return event_row(
        run_id=row.id,
        task_id=row.task_id,
        actor_kind=actor_kind,
        actor=row.worker or "worker",
        action=action,
        from_status=RunStatus.CLAIMED,
        to_status=to_status,
        now=now,
        reason=reason,
        token_hash=row.claim_token_hash,
    )
