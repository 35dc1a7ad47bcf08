"""One batch of a reviewer action (:mod:`parkbench.core.store.review`): ONE transaction.

A batch reads its runs, decides per run (gone, changed since the reviewer looked, not
allowed, live lease, lineage limit), then runs one ``UPDATE`` per source status whose WHERE
carries every run's precondition — its ``(id, version)`` as just read, its status, and for a
claimed run taken without force a lease already over — ``RETURNING`` the ids it moved. The
successors of a requeue are inserted in one ``INSERT ... SELECT`` from their sources and the
audit events in one more. A run the fence did not match gets its own failed result; it never
aborts the others, and a batch never half-applies.

Every list a statement takes (the batch's ids, the fence's ``(id, version)`` pairs, the
events) is ONE JSON parameter (:mod:`parkbench.core.store.json_rows`): the statements are the
same text for every batch, whatever its size, so psycopg keeps them prepared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from parkbench.core.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    ParkbenchError,
)
from parkbench.core.lifecycle import Action, ActorKind, RunStatus, find, invalid_transition
from parkbench.core.models import runs
from parkbench.core.records import ActionResult, Expectation
from parkbench.core.store import detail
from parkbench.core.store.audit import event_row, insert_events
from parkbench.core.store.base import CLEAR_CAUSE, CLEAR_LEASE, MAX_LINEAGE_DEPTH, run_values
from parkbench.core.store.json_rows import id_payload, ids_select, payload, rows_select

#: What a batch reads of each run: the fence's inputs and the successor's fields.
_READ = (
    runs.c.id,
    runs.c.task_id,
    runs.c.workspace_id,
    runs.c.status,
    runs.c.version,
    runs.c.worker,
    runs.c.lease_until,
    runs.c.claim_token_hash,
    runs.c.attempt,
    runs.c.max_attempts,
    runs.c.priority,
    runs.c.max_runtime_ms,
    runs.c.metadata_json,
    runs.c.root_run_id,
    runs.c.lineage_depth,
)
#: A fence's rows: each run's id and version as the batch read them.
_FENCE = (("id", sa.Integer()), ("version", sa.Integer()))


class Batch:
    """One batch of a reviewer action: what it was asked, and the transaction that does it."""

    def __init__(
        self,
        action: Action,
        ids: list[int],
        expected: Mapping[int, Expectation],
        why: str,
        who: str,
        actor_kind: ActorKind,
        force: bool,
        priority: int | None = None,
    ) -> None:
        self.action, self.ids, self.expected = action, ids, expected
        self.why, self.who, self.actor_kind, self.force = why, who, actor_kind, force
        #: A requeue's new attempts' priority (None: each keeps its source's).
        self.priority = priority

    def apply(self, conn: sa.Connection, now: int) -> list[ActionResult]:
        dialect = conn.dialect.name
        read = sa.select(*_READ).where(runs.c.id.in_(ids_select("p_ids", dialect)))
        found = {row.id: row for row in conn.execute(read, {"p_ids": id_payload(self.ids)})}
        errors: dict[int, ParkbenchError] = {}
        stale: list[int] = []
        chosen: list[Any] = []
        for run_id in self.ids:
            row = found.get(run_id)
            if row is None:
                errors[run_id] = NotFoundError(f"run {run_id} does not exist")
                continue
            seen = self.expected.get(run_id)
            if seen is not None and (
                row.status != seen.status.value
                or (seen.version is not None and row.version != seen.version)
            ):
                stale.append(run_id)
                continue
            refused = self.refusal(row, now)
            if refused is not None:
                errors[run_id] = refused
            else:
                chosen.append(row)
        if stale:
            summaries = detail.last_change_summaries(conn, stale)
            for run_id in stale:
                errors[run_id] = ConflictError(
                    f"run {run_id} changed since you looked: {summaries[run_id]}",
                    hint=f"refresh and review it again (`parkbench show {run_id}`)",
                    status=found[run_id].status,
                )
        moved = self.update(conn, chosen, now)
        done = [row for row in chosen if row.id in moved]
        for row in chosen:
            if row.id not in moved:
                errors[row.id] = ConflictError(
                    f"run {row.id} changed while you acted on it",
                    hint=f"refresh and review it again (`parkbench show {row.id}`)",
                )
        successors = self.requeue_successors(conn, done, now)
        insert_events(
            conn,
            (event for row in done for event in self.events_of(row, successors.get(row.id), now)),
        )
        results: list[ActionResult] = []
        for run_id in self.ids:
            error = errors.get(run_id)
            if error is not None:
                results.append(ActionResult(run_id, ok=False, error=error))
                continue
            target = self.target(RunStatus(found[run_id].status))
            results.append(
                ActionResult(run_id, ok=True, status=target, new_run_id=successors.get(run_id))
            )
        return results

    def target(self, status: RunStatus) -> RunStatus:
        transition = find(self.actor_kind, self.action, status)
        assert transition is not None  # checked by refusal() before the run was chosen
        return transition.target

    def live(self, row: Any, now: int) -> bool:
        """A claimed run whose worker's lease has not run out (a beat does not bump the
        version, so the UPDATE fences the lease itself)."""
        return row.lease_until is not None and row.lease_until > now

    def refusal(self, row: Any, now: int) -> ParkbenchError | None:
        """Why this run may not be acted on (as it was just read), or None."""
        run_id, status, action = row.id, RunStatus(row.status), self.action
        if find(self.actor_kind, action, status) is None:
            return invalid_transition(self.actor_kind, action, status, run_id)
        if status is RunStatus.CLAIMED and self.live(row, now) and not self.force:
            left = (row.lease_until - now) / 1000
            return InvalidTransitionError(
                f"cannot {action.value} run {run_id}: {row.worker or 'a worker'} holds a "
                f"live lease on it ({left:,.0f} s left)",
                hint=f"wait for the lease to run out (`parkbench recover`), or take it "
                f"anyway with `parkbench {action.value} {run_id} --force --reason ...`",
                status=status.value,
            )
        if action is Action.REQUEUE and row.lineage_depth + 1 >= MAX_LINEAGE_DEPTH:
            return InvalidTransitionError(
                f"run {run_id} has been requeued {row.lineage_depth} times; "
                f"the lineage limit is {MAX_LINEAGE_DEPTH}",
                hint=f"fail it (`parkbench fail {run_id} --reason ...`) and enqueue anew",
            )
        return None

    def values(self, now: int) -> dict[str, object]:
        """What the action writes on every run it moves (besides status and version)."""
        values: dict[str, object] = {"status_changed_at": now}
        if self.action is Action.REQUEUE:
            # The source run ends as it was parked: its block reason stays the record of why
            # (the fresh successor starts without one).
            values |= {"finished_at": now}
        elif self.action is Action.FAIL:
            # The reason shown is the current state's: the verdict replaces a block reason
            # (the events keep it).
            values |= {"failure_reason": self.why, "finished_at": now, **CLEAR_CAUSE}
            values |= CLEAR_LEASE
        elif self.action is Action.RELEASE:
            values |= {"queued_at": now, "worker": None, **CLEAR_LEASE}
            values |= {"failure_reason": None, **CLEAR_CAUSE}  # back to the queue
        return values

    def update(self, conn: sa.Connection, chosen: list[Any], now: int) -> set[int]:
        """The fenced UPDATEs (one per source status); the ids they moved."""
        by_status: dict[str, list[Any]] = {}
        for row in chosen:
            by_status.setdefault(row.status, []).append(row)
        moved: set[int] = set()
        dialect = conn.dialect.name
        for status, group in by_status.items():
            # Each run's (id, version) as read: one JSON parameter, whatever the batch's size.
            params = {"p_fence": payload([row.id, row.version] for row in group)}
            fence = [
                sa.tuple_(runs.c.id, runs.c.version).in_(rows_select("p_fence", _FENCE, dialect)),
                runs.c.status == status,
            ]
            if status == RunStatus.CLAIMED.value:
                # Taken without force only once the lease is over; forced: live as read.
                forced = [row.id for row in group if self.live(row, now)]
                expired = runs.c.lease_until <= now
                if forced:
                    params["p_forced"] = id_payload(forced)
                    fence.append(sa.or_(expired, runs.c.id.in_(ids_select("p_forced", dialect))))
                else:
                    fence.append(expired)
            target = self.target(RunStatus(status))
            statement = (
                runs.update()
                .where(*fence)
                .values(status=target.value, version=runs.c.version + 1, **self.values(now))
                .returning(runs.c.id)
            )
            moved.update(conn.execute(statement, params).scalars())
        return moved

    def requeue_successors(self, conn: sa.Connection, done: list[Any], now: int) -> dict[int, int]:
        """A requeue's fresh queued runs, one ``INSERT ... SELECT`` from their sources for the
        batch (the row is :func:`run_values`' shape, computed in SQL): source id -> new id."""
        if self.action is not Action.REQUEUE or not done:
            return {}
        c = runs.c
        # run_values takes plain values; here each is an expression over the source row.
        from_source: dict[str, Any] = {
            "task_id": c.task_id,
            "workspace_id": c.workspace_id,
            "attempt": c.attempt + 1,
            "max_attempts": c.max_attempts,
            "priority": c.priority if self.priority is None else self.priority,
            "max_runtime_ms": c.max_runtime_ms,
            "metadata_json": c.metadata_json,
            "previous_run_id": c.id,
            "root_run_id": sa.func.coalesce(c.root_run_id, c.id),
            "lineage_depth": c.lineage_depth + 1,
            "attempt_limit_overridden": c.attempt + 1 > c.max_attempts,
        }
        shape = run_values(now=now, **from_source)
        columns = list(shape)
        picked = sa.select(
            *(
                value if isinstance(value, sa.ColumnElement) else sa.literal(value, c[name].type)
                for name, value in shape.items()
            )
        ).where(c.id.in_(ids_select("p_done", conn.dialect.name)))
        # Each successor names its source, which maps the ids back in any RETURNING order.
        inserted = conn.execute(
            runs.insert().from_select(columns, picked).returning(c.previous_run_id, c.id),
            {"p_done": id_payload(row.id for row in done)},
        )
        return {source: new_id for source, new_id in inserted}

    def events_of(self, row: Any, new_run_id: int | None, now: int) -> list[dict[str, object]]:
        """The audit events of one moved run: a requeue's successor's enqueue, then the
        action itself (from the status the fence matched)."""
        status = RunStatus(row.status)
        details: dict[str, object] = {}
        rows: list[dict[str, object]] = []
        if status is RunStatus.CLAIMED and self.live(row, now):
            details["lease_forced"] = True
        if self.action is Action.FAIL:
            details["operator_forced"] = True
        if new_run_id is not None:
            overridden = row.attempt + 1 > row.max_attempts
            details |= {"new_run_id": new_run_id, "attempt_limit_overridden": overridden}
            enqueued: dict[str, object] = {
                "previous_run_id": row.id,
                "attempt_limit_overridden": overridden,
            }
            if self.priority is not None and self.priority != row.priority:
                # The reviewer re-prioritised the new attempt: both events say from what.
                details["priority"] = enqueued["priority"] = {
                    "from": row.priority,
                    "to": self.priority,
                }
            rows.append(
                event_row(
                    run_id=new_run_id,
                    task_id=row.task_id,
                    actor_kind=self.actor_kind,
                    actor=self.who,
                    action=Action.ENQUEUE,
                    from_status=None,
                    to_status=RunStatus.QUEUED,
                    now=now,
                    reason=self.why,
                    details=enqueued,
                )
            )
        rows.append(
            event_row(
                run_id=row.id,
                task_id=row.task_id,
                actor_kind=self.actor_kind,
                actor=self.who,
                action=self.action,
                from_status=status,
                to_status=self.target(status),
                now=now,
                reason=self.why,
                # A token is involved only when the reviewer ends a live lease.
                token_hash=row.claim_token_hash if status is RunStatus.CLAIMED else None,
                details=details or None,
            )
        )
        return rows
