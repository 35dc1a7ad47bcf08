"""Reviewer actions: requeue, fail and release parked (or stuck) runs, one or many.

Each run gets its own transaction, conditional on the status and version the reviewer saw,
so one stale or missing run never aborts the rest of a bulk action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import sqlalchemy as sa

from parkbench.core import inputs
from parkbench.core.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    ParkbenchError,
    ValidationError,
)
from parkbench.core.lifecycle import (
    REVIEWER_ACTIONS,
    Action,
    ActorKind,
    RunStatus,
    find,
    invalid_transition,
    sources,
)
from parkbench.core.models import runs
from parkbench.core.records import (
    ActionResult,
    Expectation,
)
from parkbench.core.store import queries
from parkbench.core.store.base import (
    CLEAR_LEASE,
    HUMAN,
    MAX_LINEAGE_DEPTH,
    StoreBase,
    default_actor,
    insert_run,
)


class ReviewOps(StoreBase):
    def requeue(
        self,
        run_ids: Sequence[int],
        *,
        reason: str,
        actor: str | None = None,
        expected: Mapping[int, Expectation] | None = None,
        priority: int | None = None,
    ) -> list[ActionResult]:
        return self.review(
            Action.REQUEUE,
            run_ids,
            reason=reason,
            actor=actor,
            expected=expected,
            priority=priority,
        )

    def force_fail(
        self,
        run_ids: Sequence[int],
        *,
        reason: str,
        actor: str | None = None,
        expected: Mapping[int, Expectation] | None = None,
        force: bool = False,
    ) -> list[ActionResult]:
        return self.review(
            Action.FAIL, run_ids, reason=reason, actor=actor, expected=expected, force=force
        )

    def force_release(
        self,
        run_ids: Sequence[int],
        *,
        reason: str,
        actor: str | None = None,
        expected: Mapping[int, Expectation] | None = None,
        force: bool = False,
    ) -> list[ActionResult]:
        return self.review(
            Action.RELEASE, run_ids, reason=reason, actor=actor, expected=expected, force=force
        )

    def review(
        self,
        action: Action,
        run_ids: Sequence[int],
        *,
        reason: str,
        actor: str | None = None,
        expected: Mapping[int, Expectation] | None = None,
        actor_kind: ActorKind = HUMAN,
        force: bool = False,
        priority: int | None = None,
    ) -> list[ActionResult]:
        """Apply a reviewer action to each run in its own transaction; one result per run.

        ``priority`` (requeue only): the new attempt's priority instead of the source's (the
        events record both).

        A bad run (gone, wrong state, changed since the reviewer looked) yields a failed
        result and never aborts the others. A claimed run whose lease is still live belongs
        to a worker that may be alive: failing or releasing it is refused unless ``force``
        (and the event then says it was forced); an expired lease may be taken without it.
        """
        # Only the reviewer moves: review() must never become a token-free way to claim,
        # complete or sweep a run.
        if (
            action not in REVIEWER_ACTIONS
            or actor_kind is ActorKind.WORKER
            or not sources(actor_kind, action)
        ):
            raise ValidationError(f"{action.value} is not a reviewer action")
        why = inputs.reason(reason)
        who = inputs.name("actor", actor or default_actor())
        if priority is not None:
            if action is not Action.REQUEUE:
                raise ValidationError(
                    f"a priority applies to a requeue's new attempt, not to {action.value}",
                    hint=f"drop --priority, or requeue instead of {action.value}",
                )
            inputs.priority(priority)
        results: list[ActionResult] = []
        for run_id in dict.fromkeys(run_ids):  # de-duplicated, order kept
            seen = (expected or {}).get(run_id)
            try:
                results.append(
                    self._write(
                        partial(
                            self._review_one,
                            action=action,
                            run_id=run_id,
                            why=why,
                            who=who,
                            seen=seen,
                            actor_kind=actor_kind,
                            force=force,
                            priority=priority,
                        )
                    )
                )
            except ParkbenchError as error:
                if error.code == "database":
                    raise
                results.append(ActionResult(run_id, ok=False, error=error))
        return results

    def _review_one(
        self,
        conn: sa.Connection,
        action: Action,
        run_id: int,
        why: str,
        who: str,
        seen: Expectation | None,
        actor_kind: ActorKind,
        force: bool,
        priority: int | None = None,
    ) -> ActionResult:
        now = self.clock()
        row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
        if row is None:
            raise NotFoundError(f"run {run_id} does not exist")
        status = RunStatus(row.status)
        if seen is not None and (
            status is not seen.status or (seen.version is not None and row.version != seen.version)
        ):
            raise ConflictError(
                f"run {run_id} changed since you looked: "
                f"{queries.last_change_summary(conn, run_id)}",
                hint=f"refresh and review it again (`parkbench show {run_id}`)",
                status=status.value,
            )
        transition = find(actor_kind, action, status)
        if transition is None:
            raise invalid_transition(actor_kind, action, status, run_id)
        values: dict[str, object] = {"status_changed_at": now}
        details: dict[str, object] = {}
        # The fence of the UPDATE below: the status and version just read, and for a claimed
        # run taken without force, a lease still over (a beat would not bump the version).
        fence = [runs.c.id == run_id, runs.c.status == row.status, runs.c.version == row.version]
        if status is RunStatus.CLAIMED:
            live = row.lease_until is not None and row.lease_until > now
            if live and not force:
                left = (row.lease_until - now) / 1000
                raise InvalidTransitionError(
                    f"cannot {action.value} run {run_id}: {row.worker or 'a worker'} holds a "
                    f"live lease on it ({left:,.0f} s left)",
                    hint=f"wait for the lease to run out (`parkbench recover`), or take it "
                    f"anyway with `parkbench {action.value} {run_id} --force --reason ...`",
                    status=status.value,
                )
            if live:
                details["lease_forced"] = True
            else:
                fence.append(runs.c.lease_until <= now)
        if action is Action.REQUEUE:
            if row.lineage_depth + 1 >= MAX_LINEAGE_DEPTH:
                raise InvalidTransitionError(
                    f"run {run_id} has been requeued {row.lineage_depth} times; "
                    f"the lineage limit is {MAX_LINEAGE_DEPTH}",
                    hint=f"fail it (`parkbench fail {run_id} --reason ...`) and enqueue anew",
                )
            # The source run ends as it was parked: its block reason stays the record of why
            # (the fresh successor starts without one).
            values |= {"finished_at": now}
        elif action is Action.FAIL:
            # The reason shown is the current state's: the verdict replaces a block reason
            # (the events keep it).
            values |= {"failure_reason": why, "block_reason": None, "finished_at": now}
            values |= CLEAR_LEASE
            details["operator_forced"] = True
        elif action is Action.RELEASE:
            values |= {"queued_at": now, "worker": None, **CLEAR_LEASE}
            values |= {"block_reason": None, "failure_reason": None}  # back to the queue
        result = conn.execute(
            runs.update()
            .where(*fence)
            .values(status=transition.target.value, version=runs.c.version + 1, **values)
        )
        if result.rowcount != 1:
            raise ConflictError(
                f"run {run_id} changed while you acted on it",
                hint=f"refresh and review it again (`parkbench show {run_id}`)",
            )
        new_run_id = None
        if action is Action.REQUEUE:
            overridden = row.attempt + 1 > row.max_attempts
            new_priority = row.priority if priority is None else priority
            enqueued: dict[str, object] = {
                "previous_run_id": run_id,
                "attempt_limit_overridden": overridden,
            }
            if new_priority != row.priority:
                # The reviewer re-prioritised the new attempt: both events say from what.
                details["priority"] = enqueued["priority"] = {
                    "from": row.priority,
                    "to": new_priority,
                }
            new_run_id = insert_run(
                conn,
                task_id=row.task_id,
                workspace_id=row.workspace_id,
                attempt=row.attempt + 1,
                max_attempts=row.max_attempts,
                priority=new_priority,
                max_runtime_ms=row.max_runtime_ms,
                metadata_json=row.metadata_json,
                now=now,
                previous_run_id=run_id,
                root_run_id=row.root_run_id or run_id,
                lineage_depth=row.lineage_depth + 1,
                attempt_limit_overridden=overridden,
            )
            details |= {"new_run_id": new_run_id, "attempt_limit_overridden": overridden}
            self._event(
                conn,
                run_id=new_run_id,
                task_id=row.task_id,
                actor_kind=actor_kind,
                actor=who,
                action=Action.ENQUEUE,
                from_status=None,
                to_status=RunStatus.QUEUED,
                now=now,
                reason=why,
                details=enqueued,
            )
        self._event(
            conn,
            run_id=run_id,
            task_id=row.task_id,
            actor_kind=actor_kind,
            actor=who,
            action=action,
            from_status=status,
            to_status=transition.target,
            now=now,
            reason=why,
            # A token is involved only when the reviewer ends a live lease.
            token_hash=row.claim_token_hash if status is RunStatus.CLAIMED else None,
            details=details or None,
        )
        return ActionResult(run_id, ok=True, status=transition.target, new_run_id=new_run_id)
