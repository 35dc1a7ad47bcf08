"""Plain, immutable records the store hands out. No ORM objects escape the core."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from parkbench.core.contracts import ArtifactCheck, Contract
from parkbench.core.db.info import to_datetime
from parkbench.core.errors import ParkbenchError
from parkbench.core.filters import Filter
from parkbench.core.lifecycle import RunStatus


@dataclass(frozen=True, slots=True)
class Enqueued:
    task_id: int
    run_id: int


def iso_ms(ms: int | None) -> str | None:
    """Epoch milliseconds as UTC ISO-8601 with a ``Z``, as every JSON document writes times."""
    value = to_datetime(ms)
    return value.isoformat().replace("+00:00", "Z") if value else None


@dataclass(frozen=True, slots=True)
class ClaimedTask:
    """What a worker needs to know about the task it claimed a run of."""

    id: int
    title: str
    workspace: str  # the workspace root, an absolute path
    priority: int
    metadata: dict[str, object]
    run_metadata: dict[str, object]


@dataclass(frozen=True, slots=True)
class HandoffStop:
    """Why the attempt before this one stopped."""

    #: blocked | missing_receipts | max_runtime | lease_expired | failed | released
    why: str
    reason: str | None  # the stored text (the agent's block reason, the failure, ...)
    by: str  # who stopped it: the worker, the sweeper, or the reviewer
    at_ms: int


@dataclass(frozen=True, slots=True)
class HandoffDecision:
    """The human decision that put the work back in the queue."""

    action: str  # requeue | release
    reviewer: str
    text: str | None  # the reviewer's reason: the answer handed to this attempt
    at_ms: int


@dataclass(frozen=True, slots=True)
class HandoffNote:
    """A reviewer's note left on the previous attempt (or on this run while it waited)."""

    run_id: int  # the run it was written on
    by: str  # the reviewer
    text: str  # as written: several lines stay several lines
    at_ms: int

    def to_dict(self) -> dict[str, object]:
        return {"run_id": self.run_id, "by": self.by, "text": self.text, "at": iso_ms(self.at_ms)}


@dataclass(frozen=True, slots=True)
class Handoff:
    """How a claimed run continues earlier work (see :mod:`parkbench.core.store.handoff`)."""

    previous_run_id: int  # the run itself for a retry or release, else the requeued source
    previous_attempt: int
    #: the status the previous attempt ended in: requeued (a human requeue's source run),
    #: needs_attention (released by a reviewer), failed, lease_expired or released
    previous_status: str
    stopped: HandoffStop | None
    decision: HandoffDecision | None
    #: Reviewers' notes since the previous attempt was claimed, oldest first (the newest
    #: :data:`parkbench.core.store.notes.HANDOFF_NOTES` of them).
    notes: tuple[HandoffNote, ...] = ()

    def to_dict(self) -> dict[str, object]:
        stopped = self.stopped
        decision = self.decision
        return {
            "previous_run": {
                "run_id": self.previous_run_id,
                "attempt": self.previous_attempt,
                "status": self.previous_status,
            },
            "stopped": None
            if stopped is None
            else {
                "why": stopped.why,
                "reason": stopped.reason,
                "by": stopped.by,
                "at": iso_ms(stopped.at_ms),
            },
            "decision": None
            if decision is None
            else {
                "action": decision.action,
                "reviewer": decision.reviewer,
                "text": decision.text,
                "at": iso_ms(decision.at_ms),
            },
            "notes": [note.to_dict() for note in self.notes],
        }


@dataclass(frozen=True, slots=True)
class Claim:
    """A fresh lease: the one time the raw token is handed out, with everything the worker
    needs to do the work (the task, its contract, and how it continues earlier work)."""

    run_id: int
    task_id: int
    attempt: int
    claim_token: str = field(repr=False)  # the raw token: returned once, never stored
    lease_until_ms: int
    max_attempts: int
    task: ClaimedTask
    contract: Contract
    handoff: Handoff | None

    @property
    def lease_until(self) -> datetime:
        return to_datetime(self.lease_until_ms)

    def to_dict(self) -> dict[str, object]:
        """The claim document (``lease claim --json``, ``PARKBENCH_CLAIM``): stable names."""
        task = self.task
        return {
            "run_id": self.run_id,
            "task_id": self.task_id,
            "attempt": self.attempt,
            "max_attempts": self.max_attempts,
            "claim_token": self.claim_token,
            "lease_until": iso_ms(self.lease_until_ms),
            "task": {
                "id": task.id,
                "title": task.title,
                "workspace": task.workspace,
                "priority": task.priority,
                "metadata": task.metadata,
                "run_metadata": task.run_metadata,
            },
            "contract": {
                "required_paths": list(self.contract.required),
                "missing_policy": self.contract.missing_policy.value,
            },
            "handoff": None if self.handoff is None else self.handoff.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Completion:
    run_id: int
    status: RunStatus
    missing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a reviewer saw: the action only applies if the run is still like this."""

    status: RunStatus
    version: int | None = None


@dataclass(frozen=True, slots=True)
class ActionResult:
    run_id: int
    ok: bool
    status: RunStatus | None = None  # the run's status after the action (when ok)
    new_run_id: int | None = None  # requeue: the fresh queued run
    error: ParkbenchError | None = None

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"run_id": self.run_id, "ok": self.ok}
        if self.status is not None:
            body["status"] = self.status.value
        if self.new_run_id is not None:
            body["new_run_id"] = self.new_run_id
        if self.error is not None:
            body["error"] = {
                "code": self.error.code,
                "message": self.error.message,
                "hint": self.error.hint,
            }
        return body


@dataclass(frozen=True, slots=True)
class RequeueUndone:
    """An undone requeue: the source run parked again, its successor canceled."""

    run_id: int  # the source run, needs_attention again
    canceled_run_id: int  # the successor that never ran

    def to_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "status": RunStatus.NEEDS_ATTENTION.value,
            "canceled_run_id": self.canceled_run_id,
            "canceled_status": RunStatus.CANCELED.value,
        }


@dataclass(frozen=True, slots=True)
class Recovered:
    requeued: tuple[int, ...] = ()
    parked: tuple[int, ...] = ()
    runtime_parked: tuple[int, ...] = ()

    @property
    def total(self) -> int:
        return len(self.requeued) + len(self.parked) + len(self.runtime_parked)


class SortKey(StrEnum):
    BLOCKED = "blocked"  # when the run entered its status (blocked_at for parked runs)
    PRIORITY = "priority"
    TASK = "task"


@dataclass(frozen=True, slots=True)
class RunFilter:
    status: RunStatus | None = RunStatus.NEEDS_ATTENTION  # None: every status
    task_id: int | None = None
    workspace: str | None = None  # a root path (resolved) or a workspace name
    worker: str | None = None
    search: str | None = None  # substring of title, reason, worker or workspace root
    run_ids: tuple[int, ...] | None = None
    #: A review filter's terms (:func:`parkbench.core.filters.parse_filter`); a status it
    #: names replaces ``status``.
    matching: Filter | None = None


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    task_id: int
    title: str
    workspace_id: int
    workspace_name: str
    workspace_root: str
    status: RunStatus
    attempt: int
    max_attempts: int
    priority: int
    worker: str | None
    block_reason: str | None
    failure_reason: str | None
    previous_run_id: int | None
    lineage_depth: int
    version: int
    queued_at_ms: int
    claimed_at_ms: int | None
    blocked_at_ms: int | None
    finished_at_ms: int | None
    lease_until_ms: int | None
    status_changed_at_ms: int
    attempt_limit_overridden: bool
    contract: Contract
    #: The last heartbeat (or the claim): heartbeats write no event, so this shows them.
    heartbeat_at_ms: int | None = None

    @property
    def blocked_at(self) -> datetime | None:
        return to_datetime(self.blocked_at_ms)

    @property
    def reason(self) -> str | None:
        """The text a reviewer most needs: why it is parked, else why it failed."""
        return self.block_reason or self.failure_reason

    def to_dict(self) -> dict[str, object]:
        def iso(ms: int | None) -> str | None:
            value = to_datetime(ms)
            return value.isoformat().replace("+00:00", "Z") if value else None

        return {
            "id": self.id,
            "task_id": self.task_id,
            "title": self.title,
            "workspace": self.workspace_root,
            "status": self.status.value,
            "attempt": self.attempt,
            "max_attempts": self.max_attempts,
            "priority": self.priority,
            "worker": self.worker,
            "block_reason": self.block_reason,
            "failure_reason": self.failure_reason,
            "previous_run_id": self.previous_run_id,
            "version": self.version,
            "queued_at": iso(self.queued_at_ms),
            "claimed_at": iso(self.claimed_at_ms),
            "blocked_at": iso(self.blocked_at_ms),
            "finished_at": iso(self.finished_at_ms),
            "lease_until": iso(self.lease_until_ms),
            "heartbeat_at": iso(self.heartbeat_at_ms),
            "required_artifacts": list(self.contract.required),
            "missing_policy": self.contract.missing_policy.value,
        }


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    run_id: int
    actor_kind: str
    actor: str
    action: str
    from_status: str | None
    to_status: str
    reason: str | None
    token_hash_prefix: str | None
    details: dict[str, object] | None
    created_at_ms: int

    def to_dict(self) -> dict[str, object]:
        created = to_datetime(self.created_at_ms)
        return {
            "id": self.id,
            "run_id": self.run_id,
            "actor_kind": self.actor_kind,
            "actor": self.actor,
            "action": self.action,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "reason": self.reason,
            "token_hash_prefix": self.token_hash_prefix,
            "details": self.details,
            "created_at": created.isoformat().replace("+00:00", "Z") if created else None,
        }


@dataclass(frozen=True, slots=True)
class LineageEntry:
    run_id: int
    attempt: int
    status: RunStatus
    lineage_depth: int


@dataclass(frozen=True, slots=True)
class RunDetail:
    run: RunRow
    task_metadata: dict[str, object]
    run_metadata: dict[str, object]
    result: object
    lineage: tuple[LineageEntry, ...]
    #: The newest events (as many as asked for), oldest first; ``events_total`` counts all.
    events: tuple[EventRow, ...]
    artifacts: tuple[ArtifactCheck, ...]
    events_total: int = 0
    #: Reviewers' notes on this run (``note`` events), the newest few, oldest first: also
    #: among ``events`` when recent, listed apart so a long trail never hides them.
    notes: tuple[EventRow, ...] = ()

    def to_dict(self) -> dict[str, object]:
        body = self.run.to_dict()
        body.update(
            {
                "task_metadata": self.task_metadata,
                "metadata": self.run_metadata,
                "result": self.result,
                "lineage": [
                    {"run_id": e.run_id, "attempt": e.attempt, "status": e.status.value}
                    for e in self.lineage
                ],
                "events": [e.to_dict() for e in self.events],
                "events_total": self.events_total,
                "notes": [
                    {
                        "event_id": n.id,
                        "by": n.actor,
                        "status": n.to_status,
                        "text": n.reason,
                        "at": iso_ms(n.created_at_ms),
                    }
                    for n in self.notes
                ],
                "artifacts": [a.to_dict() for a in self.artifacts],
            }
        )
        return body


@dataclass(frozen=True, slots=True)
class Page:
    rows: tuple[RunRow, ...]
    next_cursor: str | None
    prev_cursor: str | None = None
