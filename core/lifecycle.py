"""The run state machine: one transition table, the single source of truth.

Every public operation in :mod:`parkbench.core.store` looks its move up here before it writes, and
writes the table's source statuses into its ``UPDATE ... WHERE`` so the check and the write
are one atomic step. The TUI and the CLI ask :func:`allowed_actions` which moves to offer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from parkbench.core.errors import InvalidTransitionError


class RunStatus(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    NEEDS_ATTENTION = "needs_attention"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    # The source run of a human requeue: terminal, and its successor links back to it.
    REQUEUED = "requeued"


#: (A requeued source run stays terminal: no worker or sweep moves it; only a reviewer's
#: undo of its requeue, while the successor is untouched, parks it again.)
TERMINAL_STATUSES: frozenset[RunStatus] = frozenset(
    {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED, RunStatus.REQUEUED}
)
#: Statuses in which a task counts as having an "open" run (enqueue is refused then).
OPEN_STATUSES: frozenset[RunStatus] = frozenset(
    {RunStatus.QUEUED, RunStatus.CLAIMED, RunStatus.NEEDS_ATTENTION}
)


class ActorKind(StrEnum):
    WORKER = "worker"
    HUMAN = "human"
    SYSTEM = "system"


class Action(StrEnum):
    ENQUEUE = "enqueue"
    CLAIM = "claim"
    HEARTBEAT = "heartbeat"
    COMPLETE = "complete"
    # complete() with receipts missing under missing_policy=park
    PARK_MISSING = "park_missing"
    BLOCK = "block"
    RELEASE = "release"
    FAIL = "fail"
    # fail() while attempts remain: the same run goes back to the queue as a new attempt
    RETRY = "retry"
    EXPIRE_RETRY = "expire_retry"
    EXPIRE_PARK = "expire_park"
    RUNTIME_PARK = "runtime_park"
    REQUEUE = "requeue"
    # A reviewer's comment on a run in any status: an audit event that moves nothing
    # (from_status = to_status = the status it was written in), so it is no transition
    # and never appears in TRANSITIONS (see parkbench.core.store.notes).
    NOTE = "note"
    # A reviewer takes a requeue back while its successor is still untouched in the queue:
    # the successor is canceled and the source run parks again (both moves, one transaction).
    UNDO_REQUEUE = "undo_requeue"


#: Audit events that record no move: every reader of "the latest move" skips them.
NON_MOVES: frozenset[Action] = frozenset({Action.NOTE})


@dataclass(frozen=True, slots=True)
class Transition:
    actor: ActorKind
    action: Action
    source: RunStatus | None  # None: the run is created by this action
    target: RunStatus
    #: Made only together with the same action on another run, never asked for on this
    #: one (the successor's cancel in an undo of a requeue): not in :func:`allowed_actions`.
    companion: bool = False


_Q, _C, _N = RunStatus.QUEUED, RunStatus.CLAIMED, RunStatus.NEEDS_ATTENTION
_W, _H, _S = ActorKind.WORKER, ActorKind.HUMAN, ActorKind.SYSTEM

#: The whole lifecycle. Nothing else in the code base decides which move is legal.
TRANSITIONS: tuple[Transition, ...] = (
    Transition(_W, Action.ENQUEUE, None, _Q),
    Transition(_W, Action.CLAIM, _Q, _C),
    Transition(_W, Action.HEARTBEAT, _C, _C),
    Transition(_W, Action.COMPLETE, _C, RunStatus.COMPLETED),
    Transition(_W, Action.PARK_MISSING, _C, _N),
    Transition(_W, Action.BLOCK, _C, _N),
    Transition(_W, Action.RELEASE, _C, _Q),
    Transition(_W, Action.FAIL, _C, RunStatus.FAILED),
    Transition(_W, Action.RETRY, _C, _Q),
    Transition(_S, Action.EXPIRE_RETRY, _C, _Q),
    Transition(_S, Action.EXPIRE_PARK, _C, _N),
    Transition(_S, Action.RUNTIME_PARK, _C, _N),
    # A requeue ends the parked run and creates a fresh queued successor (see Action.ENQUEUE
    # for the successor's own creation event).
    Transition(_H, Action.REQUEUE, _N, RunStatus.REQUEUED),
    Transition(_S, Action.REQUEUE, _N, RunStatus.REQUEUED),
    Transition(_H, Action.FAIL, _N, RunStatus.FAILED),
    Transition(_H, Action.FAIL, _Q, RunStatus.FAILED),
    Transition(_H, Action.FAIL, _C, RunStatus.FAILED),
    Transition(_H, Action.RELEASE, _N, _Q),
    Transition(_H, Action.RELEASE, _C, _Q),
    # Undo a requeue (named by its source run): the source parks again, and its successor,
    # still queued and never claimed, is canceled with it.
    Transition(_H, Action.UNDO_REQUEUE, RunStatus.REQUEUED, _N),
    Transition(_H, Action.UNDO_REQUEUE, _Q, RunStatus.CANCELED, companion=True),
)

_TABLE: dict[tuple[ActorKind, Action, RunStatus | None], Transition] = {
    (t.actor, t.action, t.source): t for t in TRANSITIONS
}

#: The actions a reviewer can take, in the order the UI lists them.
REVIEWER_ACTIONS: tuple[Action, ...] = (Action.REQUEUE, Action.FAIL, Action.RELEASE)


def find(actor: ActorKind, action: Action, source: RunStatus | None) -> Transition | None:
    return _TABLE.get((actor, action, source))


def sources(actor: ActorKind, action: Action) -> tuple[RunStatus, ...]:
    """Every status from which ``actor`` may take ``action`` (what goes into the WHERE)."""
    return tuple(
        t.source for t in TRANSITIONS if t.actor == actor and t.action == action and t.source
    )


def target(actor: ActorKind, action: Action, source: RunStatus) -> RunStatus:
    """The status ``action`` leads to from ``source``, or :class:`InvalidTransitionError`."""
    transition = find(actor, action, source)
    if transition is None:
        raise invalid_transition(actor, action, source)
    return transition.target


def allowed_actions(actor: ActorKind, source: RunStatus) -> tuple[Action, ...]:
    """The actions ``actor`` may ask for on a run in ``source`` (companion moves excluded:
    they happen to a run only as part of an action on another)."""
    return tuple(
        t.action for t in TRANSITIONS if t.actor == actor and t.source == source and not t.companion
    )


def invalid_transition(
    actor: ActorKind, action: Action, source: RunStatus, run_id: int | None = None
) -> InvalidTransitionError:
    allowed = allowed_actions(actor, source)
    what = f"run {run_id}" if run_id is not None else "the run"
    listed = ", ".join(a.value for a in allowed) if allowed else "none"
    return InvalidTransitionError(
        f"cannot {action.value} {what}: it is {source.value} "
        f"(allowed {actor.value} actions: {listed})",
        hint=f"inspect it with `parkbench show {run_id if run_id is not None else 'RUN'}`",
        status=source.value,
        allowed_actions=[a.value for a in allowed],
    )


class TaskStatus(StrEnum):
    """A task's status, derived from its runs (never stored)."""

    BLOCKED = "blocked"
    IN_PROGRESS = "in_progress"
    READY = "ready"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


_VERDICTS = {
    RunStatus.COMPLETED: TaskStatus.COMPLETED,
    RunStatus.FAILED: TaskStatus.FAILED,
    RunStatus.CANCELED: TaskStatus.CANCELED,
}


def task_status(run_statuses: Iterable[RunStatus | str]) -> TaskStatus:
    """Derive a task's status from its runs' statuses, given oldest run first.

    The spec's precedence: any parked run makes the task ``blocked`` (even with a queued
    sibling), then a claimed run makes it ``in_progress``, then a queued one ``ready``.
    With every run terminal, the latest verdict wins; a requeued source run never decides
    (its successor does).
    """
    statuses = [RunStatus(s) for s in run_statuses]
    if RunStatus.NEEDS_ATTENTION in statuses:
        return TaskStatus.BLOCKED
    if RunStatus.CLAIMED in statuses:
        return TaskStatus.IN_PROGRESS
    if RunStatus.QUEUED in statuses:
        return TaskStatus.READY
    for status in reversed(statuses):
        if status in _VERDICTS:
            return _VERDICTS[status]
    raise ValueError(f"no run decides the task's status: {[s.value for s in statuses]}")
