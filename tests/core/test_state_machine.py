"""Random worker, reviewer, sweep and clock operations against a plain model of the rules.

The model below is written from the spec, not from the store: a list of runs with their
status, attempt, version, lease and last token. Every rule predicts the outcome (including
the exact error code) and then compares it with the real Store; after every step the whole
database is compared with the model and the invariants are checked:

- the database holds exactly the model's runs, each in the model's status, attempt, version
  and lease (so no run is ever in two states, or in a state the model did not reach);
- at most one active lease per run and per task, at most one open run per task;
- no raw token and no token-like text anywhere in any table;
- attempts never exceed max_attempts except through a recorded human requeue;
- every transition wrote exactly one event (a heartbeat none), and each run's events chain
  from -> to.

SQLite (a file per example) runs by default; PostgreSQL runs the same machine with fewer
examples when PARKBENCH_TEST_PG_URL is set.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from coretest_support import stored_texts
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from testkit import T0_MS, FakeClock, create_pg_database, drop_pg_database, pg_admin_url_or_skip

from parkbench.core import tokens
from parkbench.core.causes import run_cause_key
from parkbench.core.errors import (
    ConflictError,
    InvalidTokenError,
    InvalidTransitionError,
    LeaseExpiredError,
    MissingArtifactsError,
    ParkbenchError,
)
from parkbench.core.lifecycle import OPEN_STATUSES, RunStatus
from parkbench.core.models import events, runs, tasks
from parkbench.core.records import Expectation
from parkbench.core.store import Store
from parkbench.core.store.base import DEFAULT_LEASE_S, MAX_LINEAGE_DEPTH, SWEEP_INTERVAL_MS

Q, C, N = RunStatus.QUEUED, RunStatus.CLAIMED, RunStatus.NEEDS_ATTENTION
ERRORS: dict[str, type[ParkbenchError]] = {
    "invalid_token": InvalidTokenError,
    "invalid_transition": InvalidTransitionError,
    "lease_expired": LeaseExpiredError,
    "missing_artifacts": MissingArtifactsError,
    "conflict": ConflictError,
}


TARGETS = st.sampled_from(["live", "live", "live", "any"])
WHICH = st.sampled_from(["own", "own", "own", "other", "garbage"])
REVIEW_TARGETS = st.sampled_from(["parked", "parked", "claimed", "any"])
SEEN = st.sampled_from(["none", "exact", "exact", "status", "stale-version", "wrong-status"])


@dataclass
class ModelTask:
    id: int
    priority: int
    max_attempts: int
    max_runtime_ms: int | None
    receipt: str | None  # the one required receipt, if the task has a contract
    policy: str | None


@dataclass
class ModelRun:
    id: int
    task: ModelTask
    attempt: int
    queued_at: int
    status: RunStatus = Q
    version: int = 1
    lease_until: int | None = None
    deadline: int | None = None
    token: str | None = None  # the last claim's token (its hash stays on the row)
    claimed_at: int | None = None
    heartbeat_at: int | None = None
    events: int = 1
    depth: int = 0
    overridden: bool = False
    block_reason: str | None = None
    previous: int | None = None  # the requeued source this run continues


@dataclass
class Backend:
    """How each example gets an empty database: ``fresh()`` returns its URL."""

    fresh: Callable[[], str]
    cleanup: Callable[[], None] = lambda: None
    workspaces: list[Path] = field(default_factory=list)


class LeaseMachine(RuleBasedStateMachine):
    backend: ClassVar[Backend]

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(T0_MS)
        self.store = Store.open(self.backend.fresh(), clock=self.clock)
        self.workspace = Path(tempfile.mkdtemp(prefix="pkb-machine-"))
        self.tasks: dict[int, ModelTask] = {}
        self.runs: dict[int, ModelRun] = {}
        self.last_sweep = 0
        self.minted: list[str] = []
        self.receipts: set[str] = set()
        self.receipt_names = itertools.count(1)

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.workspace, ignore_errors=True)

    # -- the model's rules ------------------------------------------------------------------

    def _open_run(self, task: ModelTask) -> ModelRun | None:
        return next(
            (r for r in self.runs.values() if r.task is task and r.status in OPEN_STATUSES), None
        )

    def _sweep(self, now: int) -> tuple[set[int], set[int], set[int]]:
        retried, parked, runtime = set(), set(), set()
        for run in self.runs.values():
            if run.status is not C:
                continue
            assert run.lease_until is not None
            # The max runtime parks only a run still heartbeating at the limit: a beat after
            # the claim stretched its lease to the deadline. Any other lease simply ran out.
            if (
                run.deadline is not None
                and run.deadline <= now
                and run.lease_until >= run.deadline
                and run.heartbeat_at is not None
                and run.claimed_at is not None
                and run.heartbeat_at > run.claimed_at
            ):
                run.status, run.block_reason = N, "runtime"
                runtime.add(run.id)
            elif run.lease_until <= now and run.attempt < run.task.max_attempts:
                run.status, run.attempt, run.queued_at = Q, run.attempt + 1, now
                retried.add(run.id)
            elif run.lease_until <= now:
                run.status, run.block_reason = N, "expired"
                parked.add(run.id)
            else:
                continue
            run.lease_until = run.deadline = None
            run.version += 1
            run.events += 1
        self.last_sweep = now
        return retried, parked, runtime

    def _fence(self, run: ModelRun, token: str) -> str:
        """The spec's check order for a token-fenced action."""
        if token != run.token:
            return "invalid_token"
        if run.status is not C:
            return "invalid_transition"
        assert run.lease_until is not None
        if run.lease_until <= self.clock():
            return "lease_expired"
        return "ok"

    def _call(self, expected: str, action: Callable[[], Any]) -> Any:
        event(f"worker action: {expected}")  # shown by --hypothesis-show-statistics
        if expected == "ok":
            return action()
        with pytest.raises(ERRORS[expected]):
            action()
        return None

    def _pick(self, pick: int, pool: list[ModelRun]) -> ModelRun:
        return pool[pick % len(pool)]

    def _worker_target(self, pick: int, aim: str) -> ModelRun:
        """Mostly a run that is claimed right now; sometimes any run that ever was."""
        live = [r for r in self._claimed_ever() if r.status is C]
        return self._pick(pick, live if aim == "live" and live else self._claimed_ever())

    def _token_for(self, run: ModelRun, which: str) -> str:
        if which == "own" and run.token is not None:
            return run.token
        others = [r.token for r in self.runs.values() if r.token and r.token != run.token]
        if which == "other" and others:
            return others[0]
        return "pkb_claim_" + "x" * 43

    def _leave_lease(self, run: ModelRun, status: RunStatus) -> None:
        run.status = status
        run.lease_until = run.deadline = None
        run.version += 1
        run.events += 1

    def _claimed_ever(self) -> list[ModelRun]:
        return [r for r in self.runs.values() if r.token is not None]

    # -- rules: enqueue ------------------------------------------------------------------

    @initialize(
        priority=st.integers(0, 2),
        max_attempts=st.integers(1, 3),
        runtime_s=st.sampled_from([None, 20, 120]),
        policy=st.sampled_from([None, "reject", "park"]),
    )
    def first_task(
        self, priority: int, max_attempts: int, runtime_s: int | None, policy: str | None
    ) -> None:
        self.enqueue(priority, max_attempts, runtime_s, policy)

    @initialize(max_attempts=st.integers(1, 2))
    def second_task(self, max_attempts: int) -> None:
        self.enqueue(1, max_attempts, None, None)

    @precondition(lambda self: len(self.runs) < 14)
    @rule(
        priority=st.integers(0, 2),
        max_attempts=st.integers(1, 3),
        runtime_s=st.sampled_from([None, 20, 120]),
        policy=st.sampled_from([None, "reject", "park"]),
    )
    def enqueue(
        self, priority: int, max_attempts: int, runtime_s: int | None, policy: str | None
    ) -> None:
        receipt = f"receipts/r{next(self.receipt_names)}.txt" if policy else None
        metadata = (
            {"completion_contract": {"required_paths": [receipt], "missing_policy": policy}}
            if policy
            else None
        )
        enqueued = self.store.enqueue(
            "task",
            self.workspace,
            priority=priority,
            max_attempts=max_attempts,
            max_runtime_s=runtime_s,
            metadata=metadata,
            actor="producer",
        )
        task = ModelTask(
            enqueued.task_id,
            priority,
            max_attempts,
            None if runtime_s is None else runtime_s * 1000,
            receipt,
            policy,
        )
        assert enqueued.task_id not in self.tasks and enqueued.run_id not in self.runs
        self.tasks[task.id] = task
        self.runs[enqueued.run_id] = ModelRun(enqueued.run_id, task, 1, self.clock())

    @precondition(lambda self: self.tasks and len(self.runs) < 14)
    @rule(pick=st.integers(0, 1000))
    def enqueue_again(self, pick: int) -> None:
        task = self.tasks[sorted(self.tasks)[pick % len(self.tasks)]]
        if self._open_run(task) is not None:
            with pytest.raises(InvalidTransitionError):
                self.store.enqueue_again(task.id, actor="producer")
            return
        enqueued = self.store.enqueue_again(task.id, actor="producer")
        assert enqueued.run_id not in self.runs
        self.runs[enqueued.run_id] = ModelRun(enqueued.run_id, task, 1, self.clock())

    @precondition(lambda self: any(t.receipt for t in self.tasks.values()))
    @rule(pick=st.integers(0, 1000))
    def write_receipt(self, pick: int) -> None:
        pending = sorted(t.receipt for t in self.tasks.values() if t.receipt)
        receipt = pending[pick % len(pending)]
        path = self.workspace / receipt
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("ok")
        self.receipts.add(receipt)

    # -- rules: worker ---------------------------------------------------------------------

    @rule(worker=st.sampled_from(["w1", "w2"]), lease_s=st.sampled_from([None, 1, 10, 60, 600]))
    def claim(self, worker: str, lease_s: int | None) -> None:
        now = self.clock()
        if now - self.last_sweep >= SWEEP_INTERVAL_MS:
            self._sweep(now)
        queued = [r for r in self.runs.values() if r.status is Q]
        queued.sort(key=lambda r: (-r.task.priority, r.queued_at, r.id))
        claim = self.store.claim_next(worker, lease_s=lease_s)
        if not queued:
            assert claim is None
            return
        run = queued[0]
        assert claim is not None and (claim.run_id, claim.attempt) == (run.id, run.attempt)
        lease_ms = (DEFAULT_LEASE_S if lease_s is None else lease_s) * 1000
        runtime = run.task.max_runtime_ms
        bounded = runtime is not None and runtime < lease_ms
        run.status, run.token = C, claim.claim_token
        run.claimed_at = run.heartbeat_at = now
        run.lease_until = now + (runtime if bounded else lease_ms)  # type: ignore[operator]
        run.deadline = None if runtime is None else now + runtime
        run.version += 1
        run.events += 1
        assert claim.lease_until_ms == run.lease_until
        self.minted.append(claim.claim_token)

    @precondition(lambda self: self._claimed_ever())
    @rule(
        pick=st.integers(0, 1000),
        aim=TARGETS,
        which=WHICH,
        lease_s=st.sampled_from([None, 1, 10, 600]),
    )
    def heartbeat(self, pick: int, aim: str, which: str, lease_s: int | None) -> None:
        run = self._worker_target(pick, aim)
        token = self._token_for(run, which)
        expected = self._fence(run, token)
        until = self._call(expected, lambda: self.store.heartbeat(run.id, token, lease_s=lease_s))
        if expected == "ok":
            now = self.clock()
            lease_ms = (DEFAULT_LEASE_S if lease_s is None else lease_s) * 1000
            new = now + lease_ms if run.deadline is None else min(now + lease_ms, run.deadline)
            assert until == new
            # The lease only: a heartbeat writes no event and keeps the version.
            run.lease_until = new
            run.heartbeat_at = now

    @precondition(lambda self: self._claimed_ever())
    @rule(pick=st.integers(0, 1000), aim=TARGETS, which=WHICH)
    def complete(self, pick: int, aim: str, which: str) -> None:
        run = self._worker_target(pick, aim)
        token = self._token_for(run, which)
        expected = self._fence(run, token)
        missing = run.task.receipt is not None and run.task.receipt not in self.receipts
        if expected == "ok" and missing and run.task.policy == "reject":
            expected = "missing_artifacts"
        done = self._call(expected, lambda: self.store.complete(run.id, token))
        if expected == "ok":
            target = N if missing else RunStatus.COMPLETED
            assert done.status is target
            if missing:
                run.block_reason = f"missing receipts: {run.task.receipt}"
            self._leave_lease(run, target)

    @precondition(lambda self: self._claimed_ever())
    @rule(pick=st.integers(0, 1000), aim=TARGETS, which=WHICH)
    def fail(self, pick: int, aim: str, which: str) -> None:
        run = self._worker_target(pick, aim)
        token = self._token_for(run, which)
        expected = self._fence(run, token)
        status = self._call(expected, lambda: self.store.fail(run.id, token, reason="broke"))
        if expected == "ok":
            if run.attempt < run.task.max_attempts:
                run.attempt += 1
                run.queued_at = self.clock()
                target = Q
            else:
                target = RunStatus.FAILED
            assert status is target
            self._leave_lease(run, target)

    @precondition(lambda self: self._claimed_ever())
    @rule(pick=st.integers(0, 1000), aim=TARGETS, which=WHICH)
    def release(self, pick: int, aim: str, which: str) -> None:
        run = self._worker_target(pick, aim)
        token = self._token_for(run, which)
        expected = self._fence(run, token)
        status = self._call(expected, lambda: self.store.release(run.id, token))
        if expected == "ok":
            assert status is Q
            run.queued_at = self.clock()
            self._leave_lease(run, Q)

    @precondition(lambda self: self._claimed_ever())
    @rule(
        pick=st.integers(0, 1000),
        aim=TARGETS,
        which=WHICH,
        leak=st.booleans(),
    )
    def block(self, pick: int, aim: str, which: str, leak: bool) -> None:
        run = self._worker_target(pick, aim)
        token = self._token_for(run, which)
        expected = self._fence(run, token)
        # Sometimes the agent pastes its own token into the reason: it must be redacted.
        reason = f"  stuck, token {token}  " if leak else "  stuck  "
        status = self._call(expected, lambda: self.store.block(run.id, token, reason=reason))
        if expected == "ok":
            assert status is N
            run.block_reason = reason.strip().replace(token, tokens.REDACTED)
            self._leave_lease(run, N)

    @rule(reason=st.sampled_from(["needs a key", "  ambiguous spec  "]))
    def claim_and_block(self, reason: str) -> None:
        """The pattern Parkbench exists for: a worker takes a run and parks it at once."""
        minted = len(self.minted)
        self.claim("w3", None)
        if len(self.minted) > minted:
            [run] = [r for r in self.runs.values() if r.token == self.minted[-1]]
            assert self.store.block(run.id, self.minted[-1], reason=reason) is N
            run.block_reason = reason.strip()
            self._leave_lease(run, N)

    # -- rules: reviewer -------------------------------------------------------------------

    def _expectation(self, run: ModelRun, seen: str) -> dict[int, Expectation] | None:
        if seen == "none":
            return None
        if seen == "exact":
            return {run.id: Expectation(run.status, run.version)}
        if seen == "status":
            return {run.id: Expectation(run.status)}
        if seen == "stale-version":
            return {run.id: Expectation(run.status, run.version - 1)}
        return {run.id: Expectation(C if run.status is not C else Q)}  # "wrong-status"

    def _review(self, action: str, pick: int, aim: str, seen: str, force: bool = False) -> None:
        every = [self.runs[i] for i in sorted(self.runs)]
        wanted = {"parked": N, "claimed": C}.get(aim)
        pool = [r for r in every if r.status is wanted] or every
        run = self._pick(pick, pool)
        expected_map = self._expectation(run, seen)
        sources = {
            "requeue": {N},
            "fail": {N, Q, C},
            "release": {N, C},
        }[action]
        too_deep = action == "requeue" and run.depth + 1 >= MAX_LINEAGE_DEPTH
        if seen in ("stale-version", "wrong-status"):
            outcome = "conflict"
        elif run.status not in sources or too_deep:
            outcome = "invalid_transition"
        elif run.status is C and run.lease_until > self.clock() and not force:  # type: ignore[operator]
            outcome = "invalid_transition"  # a live lease is taken only with force
        else:
            outcome = "ok"
        call = {
            "requeue": self.store.requeue,
            "fail": self.store.force_fail,
            "release": self.store.force_release,
        }[action]
        options = {} if action == "requeue" else {"force": force}
        [result] = call(
            [run.id], reason=" reviewed ", actor="rita", expected=expected_map, **options
        )
        event(f"review {action}: {outcome}")
        if outcome == "ok" and action == "requeue" and run.attempt + 1 > run.task.max_attempts:
            event("review requeue: attempt limit overridden")
        if outcome != "ok":
            assert not result.ok and result.error is not None
            assert result.error.code == outcome, (result.error, run)
            return
        assert result.ok, result.error
        now = self.clock()
        if action == "requeue":
            self._leave_lease(run, RunStatus.REQUEUED)
            assert result.new_run_id is not None and result.new_run_id not in self.runs
            successor = ModelRun(
                result.new_run_id,
                run.task,
                run.attempt + 1,
                now,
                depth=run.depth + 1,
                overridden=run.attempt + 1 > run.task.max_attempts,
                previous=run.id,
            )
            self.runs[successor.id] = successor
        elif action == "fail":
            self._leave_lease(run, RunStatus.FAILED)
        else:
            run.queued_at = now
            self._leave_lease(run, Q)
        assert result.status is run.status

    @rule(pick=st.integers(0, 1000), aim=REVIEW_TARGETS, seen=SEEN)
    def requeue(self, pick: int, aim: str, seen: str) -> None:
        self._review("requeue", pick, aim, seen)

    @rule(pick=st.integers(0, 1000), aim=REVIEW_TARGETS, seen=SEEN, force=st.booleans())
    def force_fail(self, pick: int, aim: str, seen: str, force: bool) -> None:
        self._review("fail", pick, aim, seen, force)

    @rule(pick=st.integers(0, 1000), aim=REVIEW_TARGETS, seen=SEEN, force=st.booleans())
    def force_release(self, pick: int, aim: str, seen: str, force: bool) -> None:
        self._review("release", pick, aim, seen, force)

    @precondition(lambda self: any(r.status is N for r in self.runs.values()))
    @rule(pick=st.integers(0, 1000), seen=SEEN)
    def requeue_parked(self, pick: int, seen: str) -> None:
        """Requeue is the reviewer's main move: exercise it on parked runs specifically."""
        self._review("requeue", pick, "parked", seen)

    @rule(pick=st.integers(0, 1000), text=st.sampled_from(["looking at this", "a\n  b "]))
    def note(self, pick: int, text: str) -> None:
        """A reviewer's note, in any status: one more event (from = to = the status), and
        nothing else about the run moves (status, version, lease: the invariant checks)."""
        run = self._pick(pick, list(self.runs.values()))
        event = self.store.add_note(run.id, text=text, actor="rev")
        assert (event.from_status, event.to_status) == (run.status.value, run.status.value)
        assert event.reason == text.strip()
        run.events += 1

    def _untouched_successor(self, source: ModelRun) -> ModelRun | None:
        successors = [r for r in self.runs.values() if r.previous == source.id]
        new = max(successors, key=lambda r: r.id) if successors else None
        return new if new is not None and new.status is Q and new.claimed_at is None else None

    @precondition(lambda self: any(r.status is RunStatus.REQUEUED for r in self.runs.values()))
    @rule(
        pick=st.integers(0, 1000),
        aim=st.sampled_from(["undoable", "undoable", "requeued", "any"]),
        seen=SEEN,
    )
    def undo_requeue(self, pick: int, aim: str, seen: str) -> None:
        """Take a requeue back: allowed only while the successor is queued and never claimed
        (then it is canceled and the source parks again); else refused, nothing changed."""
        every = [self.runs[i] for i in sorted(self.runs)]
        requeued = [r for r in every if r.status is RunStatus.REQUEUED]
        undoable = [r for r in requeued if self._untouched_successor(r) is not None]
        pool = {"undoable": undoable, "requeued": requeued}.get(aim) or every
        source = self._pick(pick, pool)
        successors = [r for r in every if r.previous == source.id]
        new = successors[-1] if successors else None
        expected = None
        if new is not None and seen != "none":
            expected = (self._expectation(new, seen) or {}).get(new.id)
        if source.status is not RunStatus.REQUEUED or new is None:
            outcome = "invalid_transition"
        elif (
            new.status is not Q
            or new.claimed_at is not None  # claimed (and maybe given back): answer read
            or seen in ("stale-version", "wrong-status")
        ):
            outcome = "conflict"
        else:
            outcome = "ok"
        event(f"undo requeue: {outcome}")
        call = lambda: self.store.undo_requeue(  # noqa: E731
            source.id, reason=" undone ", actor="rita", expected=expected
        )
        if outcome != "ok":
            with pytest.raises(ParkbenchError) as refused:
                call()
            assert refused.value.code == outcome, (refused.value, source, new)
            return
        assert new is not None
        undone = call()
        assert (undone.run_id, undone.canceled_run_id) == (source.id, new.id)
        self._leave_lease(new, RunStatus.CANCELED)
        self._leave_lease(source, N)  # its block reason is kept

    precondition_runs = precondition(lambda self: bool(self.runs))
    note = precondition_runs(note)
    requeue = precondition_runs(requeue)
    force_fail = precondition_runs(force_fail)
    force_release = precondition_runs(force_release)

    # -- rules: system and time --------------------------------------------------------------

    @rule()
    def recover(self) -> None:
        retried, parked, runtime = self._sweep(self.clock())
        recovered = self.store.recover_expired()
        assert set(recovered.requeued) == retried
        assert set(recovered.parked) == parked
        assert set(recovered.runtime_parked) == runtime

    @rule(seconds=st.sampled_from([0.001, 1, 1, 5, 5, 10, 19, 20, 59, 60, 61, 120, 300, 3600]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def database_matches_model(self) -> None:
        with self.store.engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(sa.select(runs))}
            task_md = dict(conn.execute(sa.select(tasks.c.id, tasks.c.metadata_json)).all())
            trail = conn.execute(sa.select(events).order_by(events.c.id)).all()
            texts = list(stored_texts(conn))
        assert set(rows) == set(self.runs)
        by_run: dict[int, list[Any]] = {run_id: [] for run_id in rows}
        for row in trail:
            by_run[row.run_id].append(row)
        claimed_per_task: dict[int, int] = {}
        open_per_task: dict[int, int] = {}
        for run_id, row in rows.items():
            model = self.runs[run_id]
            status = RunStatus(row.status)
            assert status is model.status, (run_id, status, model)
            assert (row.attempt, row.version, row.task_id) == (
                model.attempt,
                model.version,
                model.task.id,
            )
            assert row.lease_until == model.lease_until
            assert row.runtime_deadline == model.deadline
            assert row.lineage_depth == model.depth
            assert bool(row.attempt_limit_overridden) == model.overridden
            # One status, and the columns agree with it.
            if status is C:
                assert row.lease_until is not None and row.worker is not None
                assert row.claim_token_hash == tokens.hash_token(model.token or "")
                assert (row.claimed_at, row.heartbeat_at) == (model.claimed_at, model.heartbeat_at)
                claimed_per_task[row.task_id] = claimed_per_task.get(row.task_id, 0) + 1
            else:
                assert row.lease_until is None and row.runtime_deadline is None
            if status is Q:
                assert row.worker is None
            if status is N:
                assert row.block_reason and row.blocked_at is not None
                if model.block_reason not in (None, "runtime", "expired"):
                    assert row.block_reason == model.block_reason
            elif status is not RunStatus.REQUEUED:  # a requeued run keeps why it was parked
                # The reason shown is the current state's: no block reason off the block.
                assert row.block_reason is None, (run_id, status, row.block_reason)
            # Whichever move wrote the reason keyed it as every park does (and a move that
            # dropped it dropped its key): the causes view groups by this column.
            key = run_cause_key(row.block_reason, task_md[row.task_id], row.metadata_json)
            assert row.cause_key == key, (run_id, status, row.block_reason, row.cause_key)
            if status in (C, RunStatus.COMPLETED, RunStatus.REQUEUED):
                assert row.failure_reason is None, (run_id, status, row.failure_reason)
            if status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.REQUEUED):
                assert row.finished_at is not None
            if status is RunStatus.CANCELED:  # an undone requeue's successor, never claimed
                assert row.finished_at is not None and row.claimed_at is None
                assert row.previous_run_id == model.previous is not None
            if status is N:
                assert row.finished_at is None  # (an undone requeue's source is open again)
            if status in OPEN_STATUSES:
                open_per_task[row.task_id] = open_per_task.get(row.task_id, 0) + 1
            # Attempts beyond the limit only through a recorded human requeue.
            if row.attempt > row.max_attempts:
                assert row.attempt_limit_overridden
                first = by_run[run_id][0]
                assert (first.action, first.actor_kind) == ("enqueue", "human")
                assert '"attempt_limit_overridden":true' in (first.details_json or "")
            # Exactly one event per transition, chained from -> to.
            chain = by_run[run_id]
            assert len(chain) == model.events, (run_id, [e.action for e in chain], model)
            assert chain[0].from_status is None and chain[0].to_status == "queued"
            for before, after in itertools.pairwise(chain):
                assert after.from_status == before.to_status, (run_id, before, after)
            assert chain[-1].to_status == status.value
        assert all(count <= 1 for count in claimed_per_task.values())
        assert all(count <= 1 for count in open_per_task.values())
        for table, column, row_id, value in texts:
            assert not tokens.contains_token(value), (table, column, row_id)
            for raw in self.minted:
                assert raw not in value, (table, column, row_id)


# -- the tests -----------------------------------------------------------------------------


def _run(backend: Backend, *, max_examples: int, steps: int) -> None:
    machine = type("Machine", (LeaseMachine,), {"backend": backend})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=steps,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_lease_rules_hold_under_random_operations_sqlite(tmp_path: Path) -> None:
    template = tmp_path / "template.db"
    Store.open(f"sqlite:///{template}").close()  # schema created once, copied per example
    counter = itertools.count()

    def fresh() -> str:
        path = tmp_path / f"example-{next(counter)}.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"

    _run(Backend(fresh), max_examples=60, steps=40)


def test_lease_rules_hold_under_random_operations_postgres() -> None:
    pg_admin_url = pg_admin_url_or_skip()  # fails under CI=true instead of skipping
    url = create_pg_database(pg_admin_url)
    try:
        Store.open(url).close()
        engine = sa.create_engine(url)

        def fresh() -> str:
            with engine.begin() as conn:
                conn.execute(
                    sa.text("TRUNCATE events, runs, tasks, workspaces RESTART IDENTITY CASCADE")
                )
            return url

        try:
            _run(Backend(fresh), max_examples=15, steps=30)
        finally:
            engine.dispose()
    finally:
        drop_pg_database(pg_admin_url, url)
