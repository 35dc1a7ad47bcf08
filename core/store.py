"""The lease store: every state change, each one transaction with its precondition in SQL.

Shape of every write: read the row, check the transition table and the token (to pick the
precise error), then ``UPDATE ... WHERE`` the very conditions just checked, verify the row
count, and write the audit event — all in one transaction. On SQLite write transactions
begin IMMEDIATE, so nothing can interleave; on PostgreSQL the conditional UPDATE is the
fence, and claim-next locks its candidate with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from core import contracts, inputs, lifecycle, queries, tokens
from core.db import database_clock, make_engine, resolve_url, translate
from core.errors import (
    ConflictError,
    InvalidTokenError,
    InvalidTransitionError,
    LeaseExpiredError,
    MissingArtifactsError,
    NotFoundError,
    ParkbenchError,
    ValidationError,
)
from core.lifecycle import Action, ActorKind, RunStatus, find, invalid_transition, sources
from core.models import events, runs, tasks, workspaces
from core.records import (
    ActionResult,
    Claim,
    Completion,
    Enqueued,
    Expectation,
    Page,
    Recovered,
    RunDetail,
    RunFilter,
    SortKey,
)
from core.schema import ensure_schema

T = TypeVar("T")

DEFAULT_LEASE_S = 300
MAX_LEASE_S = 24 * 3600
MAX_LINEAGE_DEPTH = 10
#: claim_next sweeps expired leases itself at most this often per process.
SWEEP_INTERVAL_MS = 5_000

_W, _H, _S = ActorKind.WORKER, ActorKind.HUMAN, ActorKind.SYSTEM
_CLEAR_LEASE = {"claim_token_hash": None, "lease_until": None, "runtime_deadline": None}


def default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): fall back to the environment
        return os.environ.get("USER") or "reviewer"


class Store:
    """One database, many processes. Thread-safe: each call checks out its own connection."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], int] | None = None,
        default_lease_s: int = DEFAULT_LEASE_S,
        max_lease_s: int = MAX_LEASE_S,
    ) -> None:
        self.engine = engine
        self.url = str(engine.url)
        self.clock = clock or database_clock(engine)
        self.default_lease_s = default_lease_s
        self.max_lease_s = max_lease_s
        self._last_sweep_ms = 0

    @classmethod
    def open(cls, url: str | None = None, *, create: bool = True, **options: Any) -> Store:
        resolved = resolve_url(url)
        engine = make_engine(resolved)
        try:
            ensure_schema(engine, create=create)
            return cls(engine, **options)
        except ParkbenchError:
            engine.dispose()
            raise
        except DBAPIError as error:
            engine.dispose()
            raise translate(error, resolved) from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as error:
            raise translate(error, self.url) from None

    def _write(self, body: Callable[[sa.Connection], T]) -> T:
        """Run ``body`` in one write transaction; driver failures become ``database``."""
        with self._translated(), self.engine.connect() as conn:
            conn = conn.execution_options(parkbench_write=True)
            with conn.begin():
                return body(conn)

    def read(self, body: Callable[[sa.Connection], T]) -> T:
        with self._translated(), self.engine.connect() as conn, conn.begin():
            return body(conn)

    def _lease_ms(self, lease_s: float | None) -> int:
        lease = self.default_lease_s if lease_s is None else lease_s
        if not 0 < lease <= self.max_lease_s:
            raise ValidationError(
                f"lease must be between 1 and {self.max_lease_s} seconds, got {lease:g}",
                hint=f"pass --lease SECONDS up to {self.max_lease_s}",
            )
        return int(lease * 1000)

    @staticmethod
    def _event(
        conn: sa.Connection,
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
    ) -> None:
        conn.execute(
            events.insert(),
            {
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
            },
        )

    # -- enqueue ----------------------------------------------------------------------

    def enqueue(
        self,
        title: str,
        workspace: str | os.PathLike[str],
        *,
        priority: int = 0,
        max_attempts: int = 3,
        metadata: Mapping[str, object] | str | None = None,
        run_metadata: Mapping[str, object] | str | None = None,
        max_runtime_s: float | None = None,
        actor: str | None = None,
    ) -> Enqueued:
        """Create a task and its first queued run."""
        clean_title = inputs.title(title)
        root = _workspace_root(workspace)
        task_md = inputs.json_object("metadata", metadata)
        run_md = inputs.json_object("run metadata", run_metadata)
        contract = contracts.parse_contract(task_md, run_md)
        contracts.validate_for_enqueue(root, contract)
        if max_attempts < 1:
            raise ValidationError(
                f"max attempts must be at least 1, got {max_attempts}",
                hint="pass --max-attempts 1 or more",
            )
        if max_runtime_s is not None and max_runtime_s <= 0:
            raise ValidationError(
                f"max runtime must be positive, got {max_runtime_s:g}",
                hint="pass a positive number of seconds",
            )
        who = inputs.name("actor", actor or default_actor())
        max_runtime_ms = None if max_runtime_s is None else int(max_runtime_s * 1000)

        def body(conn: sa.Connection) -> Enqueued:
            now = self.clock()
            workspace_id = _ensure_workspace(conn, root, now)
            task_id = conn.execute(
                tasks.insert().returning(tasks.c.id),
                {
                    "title": clean_title,
                    "workspace_id": workspace_id,
                    "priority": priority,
                    "max_attempts": max_attempts,
                    "max_runtime_ms": max_runtime_ms,
                    "metadata_json": inputs.dump(task_md),
                    "created_at": now,
                },
            ).scalar_one()
            run_id = _insert_run(
                conn,
                task_id=task_id,
                workspace_id=workspace_id,
                attempt=1,
                max_attempts=max_attempts,
                priority=priority,
                max_runtime_ms=max_runtime_ms,
                metadata_json=inputs.dump(run_md),
                now=now,
            )
            self._event(
                conn,
                run_id=run_id,
                task_id=task_id,
                actor_kind=_W,
                actor=who,
                action=Action.ENQUEUE,
                from_status=None,
                to_status=RunStatus.QUEUED,
                now=now,
            )
            return Enqueued(task_id=task_id, run_id=run_id)

        return self._write(body)

    def enqueue_again(self, task_id: int, *, actor: str | None = None) -> Enqueued:
        """A fresh first run for an existing task; refused while it has an open run."""
        who = inputs.name("actor", actor or default_actor())

        def body(conn: sa.Connection) -> Enqueued:
            now = self.clock()
            task = conn.execute(sa.select(tasks).where(tasks.c.id == task_id)).first()
            if task is None:
                raise NotFoundError(f"task {task_id} does not exist")
            try:
                with conn.begin_nested():
                    run_id = _insert_run(
                        conn,
                        task_id=task_id,
                        workspace_id=task.workspace_id,
                        attempt=1,
                        max_attempts=task.max_attempts,
                        priority=task.priority,
                        max_runtime_ms=task.max_runtime_ms,
                        metadata_json="{}",
                        now=now,
                    )
            except IntegrityError:
                open_run = queries.open_run_id(conn, task_id)
                raise InvalidTransitionError(
                    f"task {task_id} already has an open run ({open_run})",
                    hint=f"inspect it with `parkbench show {open_run}`",
                ) from None
            self._event(
                conn,
                run_id=run_id,
                task_id=task_id,
                actor_kind=_W,
                actor=who,
                action=Action.ENQUEUE,
                from_status=None,
                to_status=RunStatus.QUEUED,
                now=now,
            )
            return Enqueued(task_id=task_id, run_id=run_id)

        return self._write(body)

    # -- worker: claim ------------------------------------------------------------------

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
            candidate = (
                sa.select(runs.c.id)
                .where(runs.c.status == RunStatus.QUEUED.value)
                .order_by(runs.c.priority.desc(), runs.c.queued_at, runs.c.id)
                .limit(1)
                # PostgreSQL: concurrent claimers skip each other's candidate instead of
                # queueing behind it. SQLite ignores this; its IMMEDIATE write lock
                # already serialises claimers.
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            bounded = sa.and_(runs.c.max_runtime_ms.is_not(None), runs.c.max_runtime_ms < lease_ms)
            row = conn.execute(
                runs.update()
                .where(runs.c.id == candidate, runs.c.status == RunStatus.QUEUED.value)
                .values(
                    status=RunStatus.CLAIMED.value,
                    worker=who,
                    claim_token_hash=token_hash,
                    claimed_at=now,
                    heartbeat_at=now,
                    status_changed_at=now,
                    runtime_deadline=now + runs.c.max_runtime_ms,
                    lease_until=sa.case(
                        (bounded, now + runs.c.max_runtime_ms), else_=now + lease_ms
                    ),
                    version=runs.c.version + 1,
                )
                .returning(runs.c.id, runs.c.task_id, runs.c.attempt, runs.c.lease_until)
            ).first()
            if row is None:
                return None
            self._event(
                conn,
                run_id=row.id,
                task_id=row.task_id,
                actor_kind=_W,
                actor=who,
                action=Action.CLAIM,
                from_status=RunStatus.QUEUED,
                to_status=RunStatus.CLAIMED,
                now=now,
                token_hash=token_hash,
            )
            return Claim(row.id, row.task_id, row.attempt, raw, row.lease_until)

        return self._write(body)

    # -- worker: token-fenced transitions ---------------------------------------------

    def _fenced_row(self, conn: sa.Connection, run_id: int, token: str, action: Action, now: int):
        """Load the run and check the spec's fence in its order; return the row."""
        row = conn.execute(queries.run_with_task(run_id)).first()
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
        if find(_W, action, status) is None:
            raise invalid_transition(_W, action, status, run_id)
        if row.lease_until is None or row.lease_until <= now:
            raise LeaseExpiredError(
                f"run {run_id}'s lease expired {(now - (row.lease_until or now)) / 1000:.1f} s ago",
                hint="claim new work with `parkbench lease claim`; the sweep "
                "(`parkbench recover`) will requeue or park this run",
            )
        return row

    def _fenced_update(
        self,
        conn: sa.Connection,
        row: Any,
        token: str,
        action: Action,
        now: int,
        values: Mapping[str, object],
    ) -> None:
        """The conditional UPDATE: exactly the fence just checked, or a precise error."""
        result = conn.execute(
            runs.update()
            .where(
                runs.c.id == row.id,
                runs.c.status == RunStatus.CLAIMED.value,
                runs.c.claim_token_hash == row.claim_token_hash,
                runs.c.lease_until > now,
            )
            .values(version=runs.c.version + 1, **values)
        )
        if result.rowcount != 1:
            # Changed under us (PostgreSQL only; SQLite holds the write lock): re-diagnose.
            self._fenced_row(conn, row.id, token, action, now)
            raise ConflictError(f"run {row.id} changed while {action.value} was applied")

    def _fenced(
        self,
        run_id: int,
        token: str,
        action: Action,
        decide: Callable[[Any, int], tuple[Action, dict[str, object], str | None]],
        actor_kind: ActorKind = _W,
    ) -> tuple[Action, RunStatus]:
        """Shared body of the worker actions. ``decide`` maps the row to the final move."""

        def body(conn: sa.Connection) -> tuple[Action, RunStatus]:
            now = self.clock()
            row = self._fenced_row(conn, run_id, token, action, now)
            final_action, values, reason = decide(row, now)
            # The table, not the caller, says where the move leads.
            target = lifecycle.target(actor_kind, final_action, RunStatus.CLAIMED)
            values = {**values, "status": target.value}
            self._fenced_update(conn, row, token, action, now, values)
            self._event(
                conn,
                run_id=row.id,
                task_id=row.task_id,
                actor_kind=actor_kind,
                actor=row.worker or "worker",
                action=final_action,
                from_status=RunStatus.CLAIMED,
                to_status=target,
                now=now,
                reason=reason,
                token_hash=row.claim_token_hash,
            )
            return final_action, target

        return self._write(body)

    def heartbeat(self, run_id: int, token: str, *, lease_s: float | None = None) -> int:
        """Extend the lease; returns the new ``lease_until`` (epoch ms)."""
        lease_ms = self._lease_ms(lease_s)
        extended: dict[str, int] = {}

        def decide(row: Any, now: int):
            until = now + lease_ms
            if row.runtime_deadline is not None:
                if row.runtime_deadline <= now:
                    raise LeaseExpiredError(
                        f"run {run_id} exceeded its max runtime",
                        hint="the sweep (`parkbench recover`) parks it for a reviewer",
                    )
                until = min(until, row.runtime_deadline)
            extended["until"] = until
            values = {"lease_until": until, "heartbeat_at": now}
            return Action.HEARTBEAT, values, None

        self._fenced(run_id, token, Action.HEARTBEAT, decide)
        return extended["until"]

    def complete(self, run_id: int, token: str, *, result: object = None) -> Completion:
        """Complete if the contract is met; else refuse (reject) or park (park)."""
        result_json = None if result is None else inputs.dump(inputs.json_value("result", result))
        missing: list[str] = []

        def decide(row: Any, now: int):
            contract = contracts.parse_contract(
                inputs.load(row.task_metadata_json), inputs.load(row.metadata_json)
            )
            checks = contracts.check_artifacts(row.workspace_root, contract.required)
            missing.extend(contracts.missing_paths(checks))
            if not missing:
                values = {
                    "result_json": result_json,
                    "finished_at": now,
                    "status_changed_at": now,
                    **_CLEAR_LEASE,
                }
                return Action.COMPLETE, values, None
            if contract.missing_policy is contracts.MissingPolicy.REJECT:
                raise MissingArtifactsError(
                    f"run {run_id} cannot complete: {len(missing)} required receipt(s) "
                    f"missing: {', '.join(missing)}",
                    hint=f"write them under {row.workspace_root}, then complete again",
                    missing=list(missing),
                )
            reason = "missing receipts: " + ", ".join(missing)
            values = {
                "block_reason": reason,
                "result_json": result_json,
                "blocked_at": now,
                "status_changed_at": now,
                **_CLEAR_LEASE,
            }
            return Action.PARK_MISSING, values, reason

        _, status = self._fenced(run_id, token, Action.COMPLETE, decide)
        return Completion(run_id, status, tuple(missing))

    def fail(self, run_id: int, token: str, *, reason: str) -> RunStatus:
        """Fail this attempt: back to the queue while attempts remain, else ``failed``."""
        why = inputs.reason(reason)

        def decide(row: Any, now: int):
            if row.attempt < row.max_attempts:
                values = {
                    "attempt": row.attempt + 1,
                    "failure_reason": why,
                    "queued_at": now,
                    "status_changed_at": now,
                    "worker": None,
                    **_CLEAR_LEASE,
                }
                return Action.RETRY, values, why
            values = {
                "failure_reason": why,
                "finished_at": now,
                "status_changed_at": now,
                **_CLEAR_LEASE,
            }
            return Action.FAIL, values, why

        return self._fenced(run_id, token, Action.FAIL, decide)[1]

    def release(self, run_id: int, token: str) -> RunStatus:
        """Give the work back without a verdict; the token dies, the attempt is kept."""

        def decide(row: Any, now: int):
            values = {
                "queued_at": now,
                "status_changed_at": now,
                "worker": None,
                **_CLEAR_LEASE,
            }
            return Action.RELEASE, values, None

        return self._fenced(run_id, token, Action.RELEASE, decide)[1]

    def block(self, run_id: int, token: str, *, reason: str) -> RunStatus:
        """Park the run for a human with a reason; lease and token are cleared."""
        why = inputs.reason(reason)

        def decide(row: Any, now: int):
            values = {
                "block_reason": why,
                "blocked_at": now,
                "status_changed_at": now,
                **_CLEAR_LEASE,
            }
            return Action.BLOCK, values, why

        return self._fenced(run_id, token, Action.BLOCK, decide)[1]

    # -- reviewer -----------------------------------------------------------------------

    def requeue(
        self,
        run_ids: Sequence[int],
        *,
        reason: str,
        actor: str | None = None,
        expected: Mapping[int, Expectation] | None = None,
    ) -> list[ActionResult]:
        return self.review(Action.REQUEUE, run_ids, reason=reason, actor=actor, expected=expected)

    def force_fail(
        self,
        run_ids: Sequence[int],
        *,
        reason: str,
        actor: str | None = None,
        expected: Mapping[int, Expectation] | None = None,
    ) -> list[ActionResult]:
        return self.review(Action.FAIL, run_ids, reason=reason, actor=actor, expected=expected)

    def force_release(
        self,
        run_ids: Sequence[int],
        *,
        reason: str,
        actor: str | None = None,
        expected: Mapping[int, Expectation] | None = None,
    ) -> list[ActionResult]:
        return self.review(Action.RELEASE, run_ids, reason=reason, actor=actor, expected=expected)

    def review(
        self,
        action: Action,
        run_ids: Sequence[int],
        *,
        reason: str,
        actor: str | None = None,
        expected: Mapping[int, Expectation] | None = None,
        actor_kind: ActorKind = _H,
    ) -> list[ActionResult]:
        """Apply a reviewer action to each run in its own transaction; one result per run.

        A bad run (gone, wrong state, changed since the reviewer looked) yields a failed
        result and never aborts the others.
        """
        if not sources(actor_kind, action):
            raise ValidationError(f"{action.value} is not a reviewer action")
        why = inputs.reason(reason)
        who = inputs.name("actor", actor or default_actor())
        results: list[ActionResult] = []
        for run_id in dict.fromkeys(run_ids):  # de-duplicated, order kept
            seen = (expected or {}).get(run_id)
            try:
                results.append(
                    self._write(
                        lambda conn, rid=run_id, exp=seen: self._review_one(
                            conn, action, rid, why, who, exp, actor_kind
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
        if action is Action.REQUEUE:
            if row.lineage_depth + 1 >= MAX_LINEAGE_DEPTH:
                raise InvalidTransitionError(
                    f"run {run_id} has been requeued {row.lineage_depth} times; "
                    f"the lineage limit is {MAX_LINEAGE_DEPTH}",
                    hint=f"fail it (`parkbench fail {run_id} --reason ...`) and enqueue anew",
                )
            values |= {"finished_at": now}
        elif action is Action.FAIL:
            values |= {"failure_reason": why, "finished_at": now, **_CLEAR_LEASE}
            details["operator_forced"] = True
        elif action is Action.RELEASE:
            values |= {"queued_at": now, "worker": None, **_CLEAR_LEASE}
        result = conn.execute(
            runs.update()
            .where(runs.c.id == run_id, runs.c.status == row.status, runs.c.version == row.version)
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
            new_run_id = _insert_run(
                conn,
                task_id=row.task_id,
                workspace_id=row.workspace_id,
                attempt=row.attempt + 1,
                max_attempts=row.max_attempts,
                priority=row.priority,
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
                details={"previous_run_id": run_id, "attempt_limit_overridden": overridden},
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
            token_hash=row.claim_token_hash,
            details=details or None,
        )
        return ActionResult(run_id, ok=True, status=transition.target, new_run_id=new_run_id)

    # -- system -------------------------------------------------------------------------

    def recover_expired(self, *, now: int | None = None) -> Recovered:
        """The expiry sweep: each step a conditional UPDATE on leases still past *now*."""

        def body(conn: sa.Connection) -> Recovered:
            at = self.clock() if now is None else now
            claimed = runs.c.status == RunStatus.CLAIMED.value
            to = {
                action: lifecycle.target(_S, action, RunStatus.CLAIMED)
                for action in (Action.RUNTIME_PARK, Action.EXPIRE_RETRY, Action.EXPIRE_PARK)
            }
            over_runtime = conn.execute(
                runs.update()
                .where(claimed, runs.c.runtime_deadline.is_not(None), runs.c.runtime_deadline <= at)
                .values(
                    status=to[Action.RUNTIME_PARK].value,
                    block_reason="exceeded max runtime ("
                    + sa.cast(runs.c.max_runtime_ms / 1000, sa.Text)
                    + " s); the worker kept heartbeating past it",
                    blocked_at=at,
                    status_changed_at=at,
                    version=runs.c.version + 1,
                    **_CLEAR_LEASE,
                )
                .returning(runs.c.id, runs.c.task_id, runs.c.block_reason)
            ).all()
            expired = sa.and_(claimed, runs.c.lease_until <= at)
            retried = conn.execute(
                runs.update()
                .where(expired, runs.c.attempt < runs.c.max_attempts)
                .values(
                    status=to[Action.EXPIRE_RETRY].value,
                    attempt=runs.c.attempt + 1,
                    worker=None,
                    failure_reason="lease expired: the worker stopped heartbeating",
                    queued_at=at,
                    status_changed_at=at,
                    version=runs.c.version + 1,
                    **_CLEAR_LEASE,
                )
                .returning(runs.c.id, runs.c.task_id, runs.c.failure_reason)
            ).all()
            parked = conn.execute(
                runs.update()
                .where(expired, runs.c.attempt >= runs.c.max_attempts)
                .values(
                    status=to[Action.EXPIRE_PARK].value,
                    block_reason="lease expired on the last attempt ("
                    + sa.cast(runs.c.attempt, sa.Text)
                    + " of "
                    + sa.cast(runs.c.max_attempts, sa.Text)
                    + "); no attempts left to retry",
                    blocked_at=at,
                    status_changed_at=at,
                    version=runs.c.version + 1,
                    **_CLEAR_LEASE,
                )
                .returning(runs.c.id, runs.c.task_id, runs.c.block_reason)
            ).all()
            for rows, action in (
                (over_runtime, Action.RUNTIME_PARK),
                (retried, Action.EXPIRE_RETRY),
                (parked, Action.EXPIRE_PARK),
            ):
                for row in rows:
                    self._event(
                        conn,
                        run_id=row[0],
                        task_id=row[1],
                        actor_kind=_S,
                        actor="sweeper",
                        action=action,
                        from_status=RunStatus.CLAIMED,
                        to_status=to[action],
                        now=at,
                        reason=row[2],
                    )
            return Recovered(
                requeued=tuple(r[0] for r in retried),
                parked=tuple(r[0] for r in parked),
                runtime_parked=tuple(r[0] for r in over_runtime),
            )

        recovered = self._write(body)
        self._last_sweep_ms = self.clock() if now is None else now
        return recovered

    # -- read side ----------------------------------------------------------------------

    def list_runs(
        self,
        run_filter: RunFilter | None = None,
        *,
        sort: SortKey = SortKey.BLOCKED,
        limit: int = 50,
        after: str | None = None,
        before: str | None = None,
        from_end: bool = False,
    ) -> Page:
        return self.read(
            lambda conn: queries.list_runs(
                conn,
                run_filter or RunFilter(),
                sort=sort,
                limit=limit,
                after=after,
                before=before,
                from_end=from_end,
            )
        )

    def count_runs(self, run_filter: RunFilter | None = None) -> int:
        return self.read(lambda conn: queries.count_runs(conn, run_filter or RunFilter()))

    def counts_by_status(self) -> dict[str, int]:
        return self.read(queries.counts_by_status)

    def get_run(self, run_id: int, *, check_disk: bool = True) -> RunDetail:
        detail = self.read(lambda conn: queries.run_detail(conn, run_id))
        return queries.with_artifacts(detail) if check_disk else detail

    def change_marker(self) -> int:
        """Grows with every transition (each writes an event): a cheap 'anything new?'."""
        return self.read(queries.change_marker)


def _workspace_root(workspace: str | os.PathLike[str]) -> str:
    text = os.fspath(workspace)
    if not text.strip():
        raise ValidationError("workspace is required", hint="pass --workspace DIR")
    inputs._check_encodable("workspace", text)
    root = os.path.realpath(os.path.expanduser(text))
    if not os.path.isdir(root):
        raise ValidationError(
            f"workspace {text!r} is not a directory",
            hint=f"create it first (`mkdir -p {text}`) or pass an existing --workspace",
        )
    return root


def _ensure_workspace(conn: sa.Connection, root: str, now: int) -> int:
    query = sa.select(workspaces.c.id).where(workspaces.c.root == root)
    existing = conn.execute(query).scalar()
    if existing is not None:
        return existing
    try:
        with conn.begin_nested():
            return conn.execute(
                workspaces.insert().returning(workspaces.c.id),
                {"name": os.path.basename(root) or root, "root": root, "created_at": now},
            ).scalar_one()
    except IntegrityError:  # another process created it first (PostgreSQL)
        return conn.execute(query).scalar_one()


def _insert_run(
    conn: sa.Connection,
    *,
    task_id: int,
    workspace_id: int,
    attempt: int,
    max_attempts: int,
    priority: int,
    max_runtime_ms: int | None,
    metadata_json: str,
    now: int,
    previous_run_id: int | None = None,
    root_run_id: int | None = None,
    lineage_depth: int = 0,
    attempt_limit_overridden: bool = False,
) -> int:
    return conn.execute(
        runs.insert().returning(runs.c.id),
        {
            "task_id": task_id,
            "workspace_id": workspace_id,
            "attempt": attempt,
            "max_attempts": max_attempts,
            "priority": priority,
            "status": RunStatus.QUEUED.value,
            "previous_run_id": previous_run_id,
            "root_run_id": root_run_id,
            "lineage_depth": lineage_depth,
            "max_runtime_ms": max_runtime_ms,
            "metadata_json": metadata_json,
            "attempt_limit_overridden": attempt_limit_overridden,
            "version": 1,
            "queued_at": now,
            "status_changed_at": now,
        },
    ).scalar_one()
