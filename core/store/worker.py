"""Worker actions: claim the next run, then heartbeat, complete, fail, release or block.

Each token-fenced action reads the run, checks the spec's fence in its order (not_found,
invalid_token, invalid_transition, lease_expired) to pick the precise error, then writes an
``UPDATE ... WHERE`` carrying that same fence, so a lease that moved in between is never
overwritten. On PostgreSQL that UPDATE and its audit event are a single statement (see
:mod:`parkbench.core.store.worker_sql`), so claim is one round trip and each fenced move two.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from parkbench.core import contracts, inputs, lifecycle, tokens
from parkbench.core.causes import MISSING_PREFIX, run_cause_key
from parkbench.core.errors import (
    ConflictError,
    MissingArtifactsError,
)
from parkbench.core.lifecycle import Action, ActorKind, RunStatus
from parkbench.core.records import (
    Claim,
    Completion,
)
from parkbench.core.store import fence
from parkbench.core.store import worker_sql as sql
from parkbench.core.store.audit import claim_event
from parkbench.core.store.base import (
    CLEAR_LEASE,
    SWEEP_INTERVAL_MS,
    WORKER,
)
from parkbench.core.store.handoff import claimed_context
from parkbench.core.store.sweep import SweepOps

#: What a worker action decides for the fenced row: the final action, the columns it
#: writes, and the reason its event records.
Decision = tuple[Action, Mapping[str, object], str | None]


class _Moved(Exception):
    """The run's version moved between complete()'s receipt check and its write."""


class WorkerOps(SweepOps):
    def claim_next(self, worker: str, *, lease_s: float | None = None) -> Claim | None:
        """Lease the best queued run (highest priority, then oldest) to ``worker``."""
        who = inputs.name("worker", worker)
        lease_ms = self._lease_ms(lease_s)
        if self.clock() - self._last_sweep_ms >= SWEEP_INTERVAL_MS:
            self.recover_expired()
        raw = tokens.mint()
        token_hash = tokens.hash_token(raw)

        def body(conn: sa.Connection) -> Claim | None:
            now = self.clock()
            params: dict[str, object] = {"p_now": now, "p_lease_ms": lease_ms, "p_worker": who}
            params["p_token_hash"] = token_hash
            # run_id and task_id are filled in from the claimed row.
            audit = claim_event(worker=who, token_hash=token_hash, now=now)
            if self.one_statement_writes:
                params |= sql.event_params(audit)
            statement = sql.CLAIM_AUDITED if self.one_statement_writes else sql.CLAIM
            row = conn.execute(statement, params).first()
            # PostgreSQL, READ COMMITTED: None means every queued run this statement saw was
            # locked by a concurrent claim (SKIP LOCKED) or already taken. If queued runs are
            # still visible, a claim that locked one may have rolled back: look again, with
            # a fresh snapshot, a bounded number of times. (SQLite never gets here with
            # queued runs left: its write lock serialises claimers.)
            retries = sql.CLAIM_RETRIES
            while row is None and retries and conn.execute(sql.ANY_QUEUED).first() is not None:
                retries -= 1
                row = conn.execute(statement, params).first()
            if row is None:
                return None
            if not self.one_statement_writes:
                conn.execute(sql.EVENT_INSERT, audit | {"run_id": row.id, "task_id": row.task_id})
            task, contract, max_attempts, handoff = claimed_context(conn, row.id)
            return Claim(
                run_id=row.id,
                task_id=row.task_id,
                attempt=row.attempt,
                claim_token=raw,
                lease_until_ms=row.lease_until,
                max_attempts=max_attempts,
                task=task,
                contract=contract,
                handoff=handoff,
            )

        return self._write_statements(body)

    # -- worker: token-fenced transitions ---------------------------------------------

    def _fenced_row(
        self, conn: sa.Connection, run_id: int, token: str, action: Action, now: int
    ) -> Any:
        """Load the run and check the spec's fence in its order; return the row."""
        row = conn.execute(sql.FENCED_ROW, {"p_run_id": run_id}).first()
        return fence.check(row, run_id, token, action, now)

    def _fenced_update(
        self,
        conn: sa.Connection,
        row: Any,
        token: str,
        action: Action,
        now: int,
        values: Mapping[str, object],
        audit: Mapping[str, object] | None,
    ) -> None:
        """The conditional UPDATE (exactly the fence just checked) and its audit event, or
        a precise error. ``audit`` None: a heartbeat, which writes the lease only."""
        columns = tuple(sorted(values))
        params = fence.update_params(row, now, values)
        if audit is None:
            update = sql.fenced_update(columns, moves=False)
            moved = conn.execute(update, params).rowcount == 1
        elif self.one_statement_writes:
            params |= sql.event_params(audit) | {"e_task_id": audit["task_id"]}
            moved = conn.execute(sql.fenced_move(columns), params).first() is not None
        else:
            moved = conn.execute(sql.fenced_update(columns), params).rowcount == 1
        if not moved:
            # Changed under us (PostgreSQL only; SQLite holds the write lock): re-diagnose.
            self._fenced_row(conn, row.id, token, action, now)
            raise ConflictError(f"run {row.id} changed while {action.value} was applied")
        if audit is not None and not self.one_statement_writes:
            conn.execute(sql.EVENT_INSERT, dict(audit))

    def _fenced(
        self,
        run_id: int,
        token: str,
        action: Action,
        decide: Callable[[Any, int], Decision],
        actor_kind: ActorKind = WORKER,
    ) -> tuple[Action, RunStatus]:
        """Shared body of the worker actions. ``decide`` maps the row to the final move."""

        def body(conn: sa.Connection) -> tuple[Action, RunStatus]:
            now = self.clock()
            row = self._fenced_row(conn, run_id, token, action, now)
            final_action, values, reason = decide(row, now)
            # The table, not the caller, says where the move leads.
            target = lifecycle.target(actor_kind, final_action, RunStatus.CLAIMED)
            values = {**values, "status": target.value}
            # A heartbeat is no state change: no audit event (and no version bump).
            audit = (
                None
                if final_action is Action.HEARTBEAT
                else fence.fenced_event(
                    row,
                    actor_kind=actor_kind,
                    action=final_action,
                    to_status=target,
                    now=now,
                    reason=reason,
                )
            )
            self._fenced_update(conn, row, token, action, now, values, audit)
            return final_action, target

        # One read, then one statement that moves the run and audits it (PostgreSQL).
        return self._write_statements(body)

    def heartbeat(self, run_id: int, token: str, *, lease_s: float | None = None) -> int:
        """Extend the lease; returns the new ``lease_until`` (epoch ms)."""
        lease_ms = self._lease_ms(lease_s)
        extended: dict[str, int] = {}

        def decide(row: Any, now: int) -> Decision:
            values = fence.heartbeat_values(row, now, lease_ms)
            extended["until"] = values["lease_until"]
            return Action.HEARTBEAT, values, None

        self._fenced(run_id, token, Action.HEARTBEAT, decide)
        return extended["until"]

    def complete(self, run_id: int, token: str, *, result: object = None) -> Completion:
        """Complete if the contract is met; else refuse (reject) or park (park).

        The receipts are checked on disk OUTSIDE the write transaction (a slow or hung file
        system must never hold SQLite's write lock), between a read of the run and a write
        fenced on the version read. If the run moved in between, it is read and checked
        once more; a second move is a ``conflict``.
        """
        result_json = None if result is None else inputs.dump(inputs.json_value("result", result))
        for _ in range(2):
            seen = self.read(
                lambda conn: self._fenced_row(conn, run_id, token, Action.COMPLETE, self.clock())
            )
            contract = contracts.parse_contract(
                inputs.load_object(seen.task_metadata_json), inputs.load_object(seen.metadata_json)
            )
            checks = contracts.check_artifacts(seen.workspace_root, contract.required)
            missing = contracts.missing_paths(checks)
            if missing and contract.missing_policy is contracts.MissingPolicy.REJECT:
                raise MissingArtifactsError(
                    f"run {run_id} cannot complete: {len(missing)} required receipt(s) "
                    f"missing: {', '.join(missing)}",
                    hint=f"write them under {seen.workspace_root}, then complete again",
                    missing=list(missing),
                )
            try:
                return self._complete_checked(run_id, token, seen.version, missing, result_json)
            except _Moved:
                continue
        raise ConflictError(
            f"run {run_id} changed twice while its receipts were checked",
            hint=f"inspect it with `parkbench show {run_id}`, then complete again",
        )

    def _complete_checked(
        self, run_id: int, token: str, version: int, missing: list[str], result_json: str | None
    ) -> Completion:
        """The write of :meth:`complete`, for receipts checked at run ``version``."""

        def decide(row: Any, now: int) -> Decision:
            if row.version != version:
                raise _Moved
            if not missing:
                values = {
                    "result_json": result_json,
                    "finished_at": now,
                    "status_changed_at": now,
                    **CLEAR_LEASE,
                }
                return Action.COMPLETE, values, None
            reason = MISSING_PREFIX + ", ".join(missing)
            values = {
                "block_reason": reason,
                "cause_key": run_cause_key(reason, row.task_metadata_json, row.metadata_json),
                "result_json": result_json,
                "blocked_at": now,
                "status_changed_at": now,
                **CLEAR_LEASE,
            }
            return Action.PARK_MISSING, values, reason

        _, status = self._fenced(run_id, token, Action.COMPLETE, decide)
        return Completion(run_id, status, tuple(missing))

    def fail(self, run_id: int, token: str, *, reason: str) -> RunStatus:
        """Fail this attempt: back to the queue while attempts remain, else ``failed``."""
        why = inputs.reason(reason)

        def decide(row: Any, now: int) -> Decision:
            if row.attempt < row.max_attempts:
                values = {
                    "attempt": row.attempt + 1,
                    "failure_reason": why,
                    "queued_at": now,
                    "status_changed_at": now,
                    "worker": None,
                    **CLEAR_LEASE,
                }
                return Action.RETRY, values, why
            values = {
                "failure_reason": why,
                "finished_at": now,
                "status_changed_at": now,
                **CLEAR_LEASE,
            }
            return Action.FAIL, values, why

        return self._fenced(run_id, token, Action.FAIL, decide)[1]

    def release(self, run_id: int, token: str) -> RunStatus:
        """Give the work back without a verdict; the token dies, the attempt is kept."""

        def decide(row: Any, now: int) -> Decision:
            values = {
                "queued_at": now,
                "status_changed_at": now,
                "worker": None,
                **CLEAR_LEASE,
            }
            return Action.RELEASE, values, None

        return self._fenced(run_id, token, Action.RELEASE, decide)[1]

    def block(self, run_id: int, token: str, *, reason: str) -> RunStatus:
        """Park the run for a human with a reason; lease and token are cleared."""
        why = inputs.reason(reason)

        def decide(row: Any, now: int) -> Decision:
            values = {
                "block_reason": why,
                "cause_key": run_cause_key(why, row.task_metadata_json, row.metadata_json),
                "blocked_at": now,
                "status_changed_at": now,
                **CLEAR_LEASE,
            }
            return Action.BLOCK, values, why

        return self._fenced(run_id, token, Action.BLOCK, decide)[1]
