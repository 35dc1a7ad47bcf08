"""The transition table, exhaustively, through the real Store API on each backend.

Every (actor, action, status) triple is either driven through the Store — allowed moves
must land in the table's target with exactly one audit event, refused ones must raise
``invalid_transition`` naming the status and the allowed actions and change nothing — or is
shown to be absent from both the table and the API.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import sqlalchemy as sa

from parkbench.core import lifecycle
from parkbench.core.contracts import parse_contract
from parkbench.core.errors import (
    InvalidTokenError,
    InvalidTransitionError,
    LeaseExpiredError,
    NotFoundError,
    ValidationError,
)
from parkbench.core.lifecycle import (
    OPEN_STATUSES,
    TRANSITIONS,
    Action,
    ActorKind,
    RunStatus,
    TaskStatus,
    allowed_actions,
    find,
    task_status,
)
from parkbench.core.models import runs
from parkbench.core.records import Expectation, RunDetail
from parkbench.core.store import Store
from parkbench.core.store.base import MAX_LINEAGE_DEPTH

W, H, S = ActorKind.WORKER, ActorKind.HUMAN, ActorKind.SYSTEM
Q, C, N = RunStatus.QUEUED, RunStatus.CLAIMED, RunStatus.NEEDS_ATTENTION

#: The worker moves a token-fenced call can make (retry and park_missing are outcomes of
#: fail and complete); the sweep's moves; the reviewer API's moves.
WORKER_FENCED = (
    Action.HEARTBEAT,
    Action.COMPLETE,
    Action.PARK_MISSING,
    Action.BLOCK,
    Action.RELEASE,
    Action.FAIL,
    Action.RETRY,
)
SWEEP = (Action.EXPIRE_RETRY, Action.EXPIRE_PARK, Action.RUNTIME_PARK)
REVIEW = ((H, Action.REQUEUE), (H, Action.FAIL), (H, Action.RELEASE), (S, Action.REQUEUE))
#: Store.undo_requeue: both of its moves (the source parks again, the successor is canceled).
UNDO = ((H, Action.UNDO_REQUEUE),)
#: Every (actor, action) pair some Store call performs. Enqueue creates a run (source None).
API_PAIRS = frozenset(
    {(W, Action.ENQUEUE), (W, Action.CLAIM)}
    | {(W, a) for a in WORKER_FENCED}
    | {(S, a) for a in SWEEP}
    | set(REVIEW)
    | set(UNDO)
)
PARK_CONTRACT = {"completion_contract": {"required_paths": ["receipts/never.txt"],
                                         "missing_policy": "park"}}  # fmt: skip


class RunMaker:
    """Puts a fresh run into any status through the public API, keeping its last token.

    Each run gets a higher priority than every run before it, so ``claim_next`` always
    takes the run just enqueued. ``canceled`` is reached only by the undone requeue's
    successor (a companion move), so for a run of its own it is set directly in SQL.
    """

    def __init__(self, store: Store, workspace: Path) -> None:
        self.store = store
        self.workspace = workspace
        self.priority = itertools.count(1)

    def make(
        self,
        status: RunStatus,
        *,
        max_attempts: int = 3,
        metadata: dict[str, object] | None = None,
        max_runtime_s: float | None = None,
        lease_s: float | None = None,
    ) -> tuple[int, str]:
        store = self.store
        enqueued = store.enqueue(
            f"task headed for {status.value}",
            self.workspace,
            priority=next(self.priority),
            max_attempts=max_attempts,
            metadata=metadata,
            max_runtime_s=max_runtime_s,
            actor="tester",
        )
        run_id = enqueued.run_id
        claim = store.claim_next("worker-1", lease_s=lease_s)
        assert claim is not None and claim.run_id == run_id
        token = claim.claim_token
        if status is Q:
            store.release(run_id, token)
        elif status is N:
            store.block(run_id, token, reason="stuck")
        elif status is RunStatus.COMPLETED:
            receipts = [self.workspace / p for p in parse_contract(metadata).required]
            for receipt in receipts:
                receipt.parent.mkdir(parents=True, exist_ok=True)
                receipt.write_text("ok")
            assert store.complete(run_id, token).status is RunStatus.COMPLETED
            for receipt in receipts:
                receipt.unlink()
        elif status is RunStatus.FAILED:
            assert store.force_fail([run_id], reason="setup", actor="setup", force=True)[0].ok
        elif status is RunStatus.REQUEUED:
            store.block(run_id, token, reason="stuck")
            [requeued] = store.requeue([run_id], reason="setup", actor="setup")
            # Keep the queue to the runs under test: the successor is not one of them.
            assert store.force_fail([requeued.new_run_id], reason="setup", actor="setup")[0].ok
        elif status is RunStatus.CANCELED:
            store.release(run_id, token)
            with store.engine.begin() as conn:
                conn.execute(runs.update().where(runs.c.id == run_id).values(status="canceled"))
        assert status_of(store, run_id) is status
        return run_id, token


def detail(store: Store, run_id: int) -> RunDetail:
    return store.get_run(run_id, check_disk=False)


def status_of(store: Store, run_id: int) -> RunStatus:
    return detail(store, run_id).run.status


def assert_refused(error: InvalidTransitionError, actor: ActorKind, status: RunStatus) -> None:
    allowed = [a.value for a in allowed_actions(actor, status)]
    assert error.code == "invalid_transition"
    assert error.details["status"] == status.value
    assert error.details["allowed_actions"] == allowed
    assert f"it is {status.value}" in error.message
    assert (", ".join(allowed) or "none") in error.message


def assert_one_event(
    store: Store,
    run_id: int,
    before: int,
    *,
    actor: ActorKind,
    action: Action,
    source: RunStatus,
    target: RunStatus,
) -> None:
    trail = detail(store, run_id).events
    assert len(trail) == before + 1, [e.action for e in trail]
    last = trail[-1]
    assert (last.actor_kind, last.action) == (actor.value, action.value)
    assert (last.from_status, last.to_status) == (source.value, target.value)


# -- the table itself ---------------------------------------------------------------------


def test_every_table_entry_is_reachable_through_the_api() -> None:
    assert {(t.actor, t.action) for t in TRANSITIONS} <= API_PAIRS
    # And nothing the API does is missing from the table.
    for actor, action in API_PAIRS:
        assert any(t.actor == actor and t.action == action for t in TRANSITIONS), (actor, action)


@pytest.mark.parametrize(
    ("actor", "action"),
    [p for p in itertools.product(ActorKind, Action) if p not in API_PAIRS],
    ids=lambda v: v.value,
)
def test_pairs_without_an_api_have_no_transitions(actor: ActorKind, action: Action) -> None:
    for source in (None, *RunStatus):
        assert find(actor, action, source) is None


def test_the_table_is_a_function_and_terminal_statuses_are_dead_ends() -> None:
    keys = [(t.actor, t.action, t.source) for t in TRANSITIONS]
    assert len(keys) == len(set(keys))
    # A terminal run stays put; the one way back is a reviewer's undo of a requeue (the
    # source parks again while its successor is untouched).
    for status in lifecycle.TERMINAL_STATUSES:
        expected = (Action.UNDO_REQUEUE,) if status is RunStatus.REQUEUED else ()
        assert allowed_actions(H, status) == expected, status
        assert allowed_actions(W, status) == allowed_actions(S, status) == ()
    # canceled is produced by one move only: the undone requeue's successor, a companion
    # move that is never offered on its own.
    [cancel] = [t for t in TRANSITIONS if t.target is RunStatus.CANCELED]
    assert (cancel.actor, cancel.action, cancel.source) == (H, Action.UNDO_REQUEUE, Q)
    assert cancel.companion and [t for t in TRANSITIONS if t.companion] == [cancel]
    assert Action.UNDO_REQUEUE not in allowed_actions(H, Q)


def test_review_refuses_actions_that_are_not_reviewer_moves(store: Store, workspace: Path) -> None:
    # review() must never be a token-free way to claim, complete or sweep a run.
    maker = RunMaker(store, workspace)
    made = {status: maker.make(status)[0] for status in RunStatus}
    before = {r: len(detail(store, r).events) for r in made.values()}
    for actor, action in itertools.product(ActorKind, Action):
        if (actor, action) in REVIEW:
            continue
        with pytest.raises(ValidationError):
            store.review(action, list(made.values()), reason="no", actor="rita", actor_kind=actor)
    for status, run_id in made.items():
        assert status_of(store, run_id) is status
        assert len(detail(store, run_id).events) == before[run_id]


# -- worker actions -----------------------------------------------------------------------


def _worker_call(store: Store, action: Action, run_id: int, token: str) -> RunStatus:
    if action is Action.HEARTBEAT:
        store.heartbeat(run_id, token)
        return status_of(store, run_id)
    if action in (Action.COMPLETE, Action.PARK_MISSING):
        return store.complete(run_id, token).status
    if action is Action.BLOCK:
        return store.block(run_id, token, reason="  needs a human  ")
    if action is Action.RELEASE:
        return store.release(run_id, token)
    assert action in (Action.FAIL, Action.RETRY)
    return store.fail(run_id, token, reason="it broke")


@pytest.mark.parametrize("action", WORKER_FENCED, ids=lambda a: a.value)
def test_worker_action_from_every_status(store: Store, workspace: Path, action: Action) -> None:
    maker = RunMaker(store, workspace)
    for status in RunStatus:
        run_id, token = maker.make(
            status,
            # fail on the last attempt is terminal; with attempts left it is a retry
            max_attempts=1 if action is Action.FAIL else 3,
            metadata=PARK_CONTRACT if action is Action.PARK_MISSING else None,
        )
        before = len(detail(store, run_id).events)
        transition = find(W, action, status)
        if transition is None:
            with pytest.raises(InvalidTransitionError) as refused:
                _worker_call(store, action, run_id, token)
            assert_refused(refused.value, W, status)
            assert status_of(store, run_id) is status
            assert len(detail(store, run_id).events) == before
            continue
        version = detail(store, run_id).run.version
        assert _worker_call(store, action, run_id, token) is transition.target
        assert status_of(store, run_id) is transition.target
        if action is Action.HEARTBEAT:
            # The spec: a heartbeat extends the lease only; not an audit event, no version bump.
            assert len(detail(store, run_id).events) == before
            assert detail(store, run_id).run.version == version
            continue
        assert_one_event(
            store, run_id, before, actor=W, action=action, source=status, target=transition.target
        )
        row = detail(store, run_id).run
        if action is Action.RETRY:
            assert row.attempt == 2 and row.failure_reason == "it broke"
        if action is Action.BLOCK:
            assert row.block_reason == "needs a human"
        if action is Action.PARK_MISSING:
            assert row.block_reason is not None and "receipts/never.txt" in row.block_reason
        if transition.target is not C:
            assert row.lease_until_ms is None


def test_claim_from_every_status(store: Store, workspace: Path) -> None:
    maker = RunMaker(store, workspace)
    made = {status: maker.make(status)[0] for status in RunStatus}
    before = {s: len(detail(store, r).events) for s, r in made.items()}
    claim = store.claim_next("worker-2")
    assert claim is not None
    # Only the queued run is claimable; every other status stays put with no new event.
    assert [s for s, r in made.items() if r == claim.run_id] == [Q]
    assert find(W, Action.CLAIM, Q) is not None
    assert store.claim_next("worker-2") is None
    for status, run_id in made.items():
        transition = find(W, Action.CLAIM, status)
        if transition is None:
            assert status_of(store, run_id) is status
            assert len(detail(store, run_id).events) == before[status]
        else:
            assert status_of(store, run_id) is transition.target
            assert_one_event(
                store,
                run_id,
                before[status],
                actor=W,
                action=Action.CLAIM,
                source=status,
                target=transition.target,
            )


# -- the sweep ------------------------------------------------------------------------------


@pytest.mark.parametrize("action", SWEEP, ids=lambda a: a.value)
def test_sweep_from_every_status(store: Store, workspace: Path, clock, action: Action) -> None:
    maker = RunMaker(store, workspace)
    options: dict[str, object] = {
        Action.EXPIRE_RETRY: {"max_attempts": 3},
        Action.EXPIRE_PARK: {"max_attempts": 1},
        Action.RUNTIME_PARK: {"max_runtime_s": 60, "lease_s": 30},
    }[action]
    made_with_tokens = {status: maker.make(status, **options) for status in RunStatus}  # type: ignore[arg-type]
    made = {status: run_id for status, (run_id, _) in made_with_tokens.items()}
    if action is Action.RUNTIME_PARK:
        # Only a worker still heartbeating at its max runtime parks for it: this beat asks
        # at t=20 s for a lease to t=80 s and is cut to the 60 s limit.
        clock.advance(20)
        store.heartbeat(made[C], made_with_tokens[C][1], lease_s=60)
    before = {s: len(detail(store, r).events) for s, r in made.items()}
    clock.advance(3600)
    recovered = store.recover_expired()
    for status, run_id in made.items():
        transition = find(S, action, status)
        if transition is None:
            assert status_of(store, run_id) is status
            assert len(detail(store, run_id).events) == before[status]
            continue
        assert status_of(store, run_id) is transition.target
        assert_one_event(
            store,
            run_id,
            before[status],
            actor=S,
            action=action,
            source=status,
            target=transition.target,
        )
        bucket = {
            Action.EXPIRE_RETRY: recovered.requeued,
            Action.EXPIRE_PARK: recovered.parked,
            Action.RUNTIME_PARK: recovered.runtime_parked,
        }[action]
        assert bucket == (run_id,) and recovered.total == 1
    # A second sweep finds nothing: the sweep is idempotent.
    assert store.recover_expired().total == 0


# -- reviewer actions -------------------------------------------------------------------------


@pytest.mark.parametrize(("actor", "action"), REVIEW, ids=lambda v: v.value)
def test_review_action_from_every_status_in_one_bulk_call(
    store: Store, workspace: Path, clock, actor: ActorKind, action: Action
) -> None:
    maker = RunMaker(store, workspace)
    made = {status: maker.make(status)[0] for status in RunStatus}
    before = {s: len(detail(store, r).events) for s, r in made.items()}
    clock.advance(5)
    # force: the claimed run's lease is live (taking it without force is refused; see
    # test_taking_a_live_lease_from_a_worker_needs_force).
    results = store.review(
        action,
        list(made.values()),
        reason="  a human decided  ",
        actor="rita",
        actor_kind=actor,
        force=True,
    )
    # One result per run, in order; the refused ones do not abort the rest.
    assert [r.run_id for r in results] == list(made.values())
    for (status, run_id), result in zip(made.items(), results, strict=True):
        transition = find(actor, action, status)
        if transition is None:
            assert not result.ok and isinstance(result.error, InvalidTransitionError)
            assert_refused(result.error, actor, status)
            assert status_of(store, run_id) is status
            assert len(detail(store, run_id).events) == before[status]
            continue
        assert result.ok and result.status is transition.target, result
        assert status_of(store, run_id) is transition.target
        assert_one_event(
            store,
            run_id,
            before[status],
            actor=actor,
            action=action,
            source=status,
            target=transition.target,
        )
        event = detail(store, run_id).events[-1]
        assert (event.actor, event.reason) == ("rita", "a human decided")
        row = detail(store, run_id).run
        assert row.lease_until_ms is None
        if action is Action.REQUEUE:
            assert result.new_run_id is not None
            successor = detail(store, result.new_run_id)
            assert successor.run.status is Q and successor.run.previous_run_id == run_id
            assert [(e.action, e.actor_kind, e.actor) for e in successor.events] == [
                ("enqueue", actor.value, "rita")
            ]
        if action is Action.FAIL:
            assert row.failure_reason == "a human decided"
            forced = {"lease_forced": True} if status is C else {}  # its lease was live
            assert event.details == {"operator_forced": True, **forced}


def test_undo_requeue_from_every_status(store: Store, workspace: Path, clock) -> None:
    """Only a requeued source run (with its successor untouched) can be undone; a run in
    any other status is refused as invalid_transition, naming the status, changing nothing."""
    maker = RunMaker(store, workspace)
    made = {
        status: maker.make(status)[0] for status in RunStatus if status is not RunStatus.REQUEUED
    }
    # A requeued run whose successor is still queued (RunMaker's has failed it).
    source, _ = maker.make(N)
    [requeued] = store.requeue([source], reason="setup", actor="setup")
    assert requeued.new_run_id is not None
    made[RunStatus.REQUEUED] = source
    before = {s: len(detail(store, r).events) for s, r in made.items()}
    clock.advance(5)
    for status, run_id in made.items():
        transition = find(H, Action.UNDO_REQUEUE, status)
        if transition is None or transition.companion:
            with pytest.raises(InvalidTransitionError) as refused:
                store.undo_requeue(run_id, reason="undo", actor="rita")
            assert_refused(refused.value, H, status)
            assert status_of(store, run_id) is status
            assert len(detail(store, run_id).events) == before[status]
            continue
        undone = store.undo_requeue(run_id, reason="  undo  ", actor="rita")
        assert status_of(store, run_id) is transition.target is N
        assert_one_event(
            store, run_id, before[status], actor=H, action=Action.UNDO_REQUEUE, source=status,
            target=N,
        )  # fmt: skip
        assert undone.canceled_run_id == requeued.new_run_id
        cancel = find(H, Action.UNDO_REQUEUE, Q)
        assert cancel is not None and cancel.companion
        assert status_of(store, undone.canceled_run_id) is cancel.target
        assert_one_event(
            store, undone.canceled_run_id, 1, actor=H, action=Action.UNDO_REQUEUE, source=Q,
            target=cancel.target,
        )  # fmt: skip


def test_review_conflicts_when_the_run_changed_since_the_reviewer_looked(
    store: Store, workspace: Path
) -> None:
    maker = RunMaker(store, workspace)
    run_id, _ = maker.make(N)
    seen = detail(store, run_id).run
    stale = {run_id: Expectation(C)}
    [result] = store.requeue([run_id], reason="r", actor="rita", expected=stale)
    assert not result.ok and result.error is not None and result.error.code == "conflict"
    wrong_version = {run_id: Expectation(N, seen.version - 1)}
    [result] = store.force_fail([run_id], reason="r", actor="rita", expected=wrong_version)
    assert not result.ok and result.error is not None and result.error.code == "conflict"
    assert status_of(store, run_id) is N
    exact = {run_id: Expectation(N, seen.version)}
    [result] = store.force_release([run_id], reason="r", actor="rita", expected=exact)
    assert result.ok and status_of(store, run_id) is Q
    [missing] = store.requeue([10**9], reason="r", actor="rita")
    assert not missing.ok and isinstance(missing.error, NotFoundError)


# -- enqueue ----------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["fail", "release"])
def test_taking_a_live_lease_from_a_worker_needs_force(
    store: Store, workspace: Path, clock, verb: str
) -> None:
    act = {"fail": store.force_fail, "release": store.force_release}[verb]
    live = store.enqueue("live", workspace, priority=1).run_id
    stale = store.enqueue("dead worker", workspace).run_id
    assert store.claim_next("w1", lease_s=60) is not None
    assert store.claim_next("w2", lease_s=10) is not None
    clock.advance(30)  # w2's lease ran out; w1's has 30 s left
    before = len(detail(store, live).events)
    [refused] = act([live], reason="taking it", actor="rita")
    assert not refused.ok and refused.error is not None
    assert refused.error.code == "invalid_transition" and "--force" in refused.error.hint
    assert status_of(store, live) is C and len(detail(store, live).events) == before
    [forced] = act([live], reason="taking it", actor="rita", force=True)
    assert forced.ok, forced.error
    last = detail(store, live).events[-1]
    assert last.action == verb and last.details is not None and last.details["lease_forced"]
    # An expired lease belongs to nobody: no force needed, and the event says none was used.
    [taken] = act([stale], reason="dead worker", actor="rita")
    assert taken.ok, taken.error
    assert "lease_forced" not in (detail(store, stale).events[-1].details or {})


def test_enqueue_again_is_refused_while_the_task_has_an_open_run(
    store: Store, workspace: Path
) -> None:
    maker = RunMaker(store, workspace)
    for status in RunStatus:
        run_id, _ = maker.make(status)
        task_id = detail(store, run_id).run.task_id
        counts = store.counts_by_status()
        if status in OPEN_STATUSES:
            with pytest.raises(InvalidTransitionError) as refused:
                store.enqueue_again(task_id, actor="tester")
            assert f"({run_id})" in refused.value.message
            assert store.counts_by_status() == counts
            continue
        again = store.enqueue_again(task_id, actor="tester")
        assert again.task_id == task_id and again.run_id != run_id
        fresh = detail(store, again.run_id)
        assert fresh.run.status is Q and fresh.run.attempt == 1
        assert [(e.action, e.from_status, e.to_status) for e in fresh.events] == [
            ("enqueue", None, "queued")
        ]
        # ...and now the fresh run is open, so a second enqueue is refused.
        with pytest.raises(InvalidTransitionError):
            store.enqueue_again(task_id, actor="tester")
        # Out of the way of the next status's claim.
        assert store.force_fail([again.run_id], reason="done", actor="tester")[0].ok


def test_enqueue_again_is_refused_while_a_requeued_successor_is_queued(
    store: Store, workspace: Path
) -> None:
    run_id = store.enqueue("t", workspace).run_id
    claim = store.claim_next("w")
    assert claim is not None
    store.block(run_id, claim.claim_token, reason="stuck")
    [result] = store.requeue([run_id], reason="go", actor="rita")
    with pytest.raises(InvalidTransitionError) as refused:
        store.enqueue_again(detail(store, run_id).run.task_id)
    assert f"({result.new_run_id})" in refused.value.message
    with pytest.raises(NotFoundError):
        store.enqueue_again(10**9)


# -- requeue: the human override and the lineage bound ------------------------------------------


def test_requeue_works_when_attempts_are_used_up_and_records_the_override(
    store: Store, workspace: Path
) -> None:
    run_id = store.enqueue("t", workspace, max_attempts=1).run_id
    claim = store.claim_next("w")
    assert claim is not None
    assert store.block(run_id, claim.claim_token, reason="stuck") is N
    [result] = store.requeue([run_id], reason="try once more", actor="rita")
    assert result.ok and result.status is RunStatus.REQUEUED and result.new_run_id
    successor = detail(store, result.new_run_id).run
    assert (successor.attempt, successor.max_attempts) == (2, 1)
    assert successor.attempt_limit_overridden and successor.status is Q
    source_event = detail(store, run_id).events[-1]
    assert source_event.action == "requeue" and source_event.actor_kind == "human"
    assert source_event.details == {
        "new_run_id": result.new_run_id,
        "attempt_limit_overridden": True,
    }
    [enqueue_event] = detail(store, result.new_run_id).events
    assert enqueue_event.details == {"previous_run_id": run_id, "attempt_limit_overridden": True}
    # The overriding attempt is claimable like any other.
    second = store.claim_next("w")
    assert second is not None and (second.run_id, second.attempt) == (result.new_run_id, 2)


def test_requeue_with_attempts_left_is_not_an_override(store: Store, workspace: Path) -> None:
    run_id = store.enqueue("t", workspace, max_attempts=3).run_id
    claim = store.claim_next("w")
    assert claim is not None
    store.block(run_id, claim.claim_token, reason="stuck")
    [result] = store.requeue([run_id], reason="again", actor="rita")
    assert detail(store, run_id).events[-1].details == {
        "new_run_id": result.new_run_id,
        "attempt_limit_overridden": False,
    }
    assert not detail(store, result.new_run_id).run.attempt_limit_overridden


def test_lineage_depth_is_bounded_at_ten_runs(store: Store, workspace: Path) -> None:
    run_id = store.enqueue("t", workspace).run_id
    chain = [run_id]
    while True:
        claim = store.claim_next("w")
        assert claim is not None and claim.run_id == chain[-1]
        store.block(claim.run_id, claim.claim_token, reason="stuck again")
        [result] = store.requeue([claim.run_id], reason="again", actor="rita")
        if not result.ok:
            break
        assert result.new_run_id is not None
        chain.append(result.new_run_id)
    assert len(chain) == MAX_LINEAGE_DEPTH == 10
    assert isinstance(result.error, InvalidTransitionError)
    assert "lineage limit is 10" in result.error.message
    assert status_of(store, chain[-1]) is N  # refused: the last run stays parked
    lineage = detail(store, chain[-1]).lineage
    assert [e.run_id for e in lineage] == chain
    assert [e.lineage_depth for e in lineage] == list(range(10))
    assert [e.attempt for e in lineage] == list(range(1, 11))


# -- the token fence ----------------------------------------------------------------------------


def test_token_checks_run_in_the_spec_order(store: Store, workspace: Path, clock) -> None:
    maker = RunMaker(store, workspace)
    run_id, token = maker.make(C, lease_s=60)
    blocked_id, blocked_token = maker.make(N)
    clock.advance(3600)  # every lease is long expired from here on
    wrong = "pkb_claim_" + "A" * 43
    # 1. not_found beats everything
    with pytest.raises(NotFoundError):
        store.heartbeat(10**9, wrong)
    # 2. invalid_token beats a wrong status and an expired lease
    with pytest.raises(InvalidTokenError):
        store.heartbeat(run_id, wrong)
    with pytest.raises(InvalidTokenError):
        store.complete(blocked_id, wrong)
    with pytest.raises(InvalidTokenError):
        store.heartbeat(run_id, blocked_token)  # another lease's token
    with pytest.raises(InvalidTokenError):
        store.heartbeat(run_id, "")
    # 3. invalid_transition (the run is not actively leased) beats the expired lease
    with pytest.raises(InvalidTransitionError) as refused:
        store.complete(blocked_id, blocked_token)
    assert_refused(refused.value, W, N)
    # 4. lease_expired: the right token on a claimed run whose lease ran out
    for call in (
        lambda: store.heartbeat(run_id, token),
        lambda: store.complete(run_id, token),
        lambda: store.block(run_id, token, reason="late"),
        lambda: store.release(run_id, token),
        lambda: store.fail(run_id, token, reason="late"),
    ):
        with pytest.raises(LeaseExpiredError):
            call()
    assert status_of(store, run_id) is C
    assert len(detail(store, run_id).events) == 2  # enqueue, claim: nothing else happened


def test_errors_never_echo_the_token(store: Store, workspace: Path) -> None:
    run_id, token = RunMaker(store, workspace).make(N)
    wrong = "pkb_claim_" + "B" * 43
    for call in (
        lambda: store.heartbeat(run_id, wrong),
        lambda: store.heartbeat(run_id, token),
        lambda: store.heartbeat(10**9, token),
    ):
        with pytest.raises(Exception) as caught:
            call()
        text = f"{caught.value} {caught.value.hint} {caught.value.to_dict()}"  # type: ignore[attr-defined]
        assert token not in text and wrong not in text


# -- leases -------------------------------------------------------------------------------------


def test_lease_default_and_maximum(store: Store, workspace: Path, clock) -> None:
    store.enqueue("a", workspace)
    store.enqueue("b", workspace)
    claim = store.claim_next("w")
    assert claim is not None and claim.lease_until_ms == clock() + 300_000
    day = 24 * 3600
    assert store.heartbeat(claim.run_id, claim.claim_token, lease_s=day) == clock() + day * 1000
    # Below the documented 1 s minimum too: a 0.4 ms lease would end as it was granted.
    for bad in (day + 1, 0, -5, 0.0004, 0.999, float("nan")):
        with pytest.raises(ValidationError, match="between 1 and"):
            store.heartbeat(claim.run_id, claim.claim_token, lease_s=bad)
        with pytest.raises(ValidationError):
            store.claim_next("w", lease_s=bad)
    assert store.counts_by_status()["queued"] == 1  # the refused claims took nothing
    assert store.heartbeat(claim.run_id, claim.claim_token, lease_s=1) == clock() + 1000
    long_claim = store.claim_next("w", lease_s=day)
    assert long_claim is not None and long_claim.lease_until_ms == clock() + day * 1000


def test_lease_default_and_maximum_are_configurable(store: Store, workspace: Path, clock) -> None:
    tuned = Store(store.engine, clock=clock, default_lease_s=10, max_lease_s=60)
    tuned.enqueue("a", workspace)
    claim = tuned.claim_next("w")
    assert claim is not None and claim.lease_until_ms == clock() + 10_000
    assert tuned.heartbeat(claim.run_id, claim.claim_token, lease_s=60) == clock() + 60_000
    with pytest.raises(ValidationError):
        tuned.heartbeat(claim.run_id, claim.claim_token, lease_s=61)


def test_max_runtime_parks_a_heartbeating_run_via_recover_expired(
    store: Store, workspace: Path, clock
) -> None:
    run_id = store.enqueue("t", workspace, max_runtime_s=100).run_id
    claim = store.claim_next("w", lease_s=30)
    assert claim is not None
    started = clock()
    for _ in range(4):  # t = 20, 40, 60, 80: each heartbeat keeps the lease alive
        clock.advance(20)
        until = store.heartbeat(run_id, claim.claim_token, lease_s=30)
        assert until == min(clock() + 30_000, started + 100_000)
        assert store.recover_expired().total == 0
    clock.advance(20)  # t = 100: the runtime bound, which also caps the lease
    with pytest.raises(LeaseExpiredError):
        store.heartbeat(run_id, claim.claim_token, lease_s=30)
    recovered = store.recover_expired()
    assert recovered.runtime_parked == (run_id,) and recovered.total == 1
    row = detail(store, run_id).run
    assert row.status is N and row.block_reason is not None
    assert "exceeded max runtime" in row.block_reason
    last = detail(store, run_id).events[-1]
    assert (last.action, last.actor_kind, last.to_status) == ("runtime_park", "system", N.value)


def test_a_heartbeat_moves_the_lease_only(store: Store, workspace: Path, clock) -> None:
    run_id = store.enqueue("t", workspace).run_id
    claim = store.claim_next("w", lease_s=60)
    assert claim is not None
    seen = detail(store, run_id)
    for _ in range(3):
        clock.advance(30)
        assert store.heartbeat(run_id, claim.claim_token, lease_s=60) == clock() + 60_000
    now = detail(store, run_id)
    assert (now.run.version, len(now.events)) == (seen.run.version, len(seen.events))
    assert now.run.lease_until_ms == clock() + 60_000
    assert now.run.heartbeat_at_ms == clock()  # the last beat stays visible on the run
    # A reviewer who looked before the beats still acts on what they saw (no conflict).
    expected = {run_id: Expectation(C, seen.run.version)}
    [released] = store.force_release(
        [run_id], reason="taking it back", actor="rita", expected=expected, force=True
    )
    assert released.ok, released.error


def test_a_worker_that_dies_early_under_a_long_lease_is_retried_not_runtime_parked(
    store: Store, workspace: Path, clock
) -> None:
    # Max runtime 600 s, lease 900 s: the claim caps the lease at the 600 s limit. The
    # worker dies at 30 s without a heartbeat; it never ran anywhere near its max runtime.
    retried = store.enqueue("retried", workspace, max_runtime_s=600, max_attempts=2).run_id
    last = store.enqueue("last try", workspace, max_runtime_s=600, max_attempts=1).run_id
    for expected in (retried, last):
        claim = store.claim_next("w", lease_s=900)
        assert claim is not None and claim.run_id == expected
        assert claim.lease_until_ms == clock() + 600_000
    clock.advance(600)
    recovered = store.recover_expired()
    assert recovered.runtime_parked == ()
    assert (recovered.requeued, recovered.parked) == ((retried,), (last,))
    row = detail(store, retried).run
    assert (row.status, row.attempt) == (Q, 2)
    assert row.failure_reason is not None and "lease expired" in row.failure_reason
    parked = detail(store, last).run
    assert parked.status is N and parked.block_reason is not None
    assert "lease expired on the last attempt" in parked.block_reason
    assert "max runtime" not in parked.block_reason


def test_a_lease_that_ran_out_before_the_max_runtime_follows_the_expiry_rules(
    store: Store, workspace: Path, clock
) -> None:
    run_id = store.enqueue("t", workspace, max_runtime_s=600).run_id
    claim = store.claim_next("w", lease_s=60)
    assert claim is not None
    clock.advance(30)
    assert store.heartbeat(run_id, claim.claim_token, lease_s=60) == clock() + 60_000
    clock.advance(3600)  # the sweep comes late, past the lease end and the max runtime
    recovered = store.recover_expired()
    assert (recovered.requeued, recovered.runtime_parked) == ((run_id,), ())
    assert detail(store, run_id).events[-1].action == Action.EXPIRE_RETRY.value


def test_a_heartbeat_just_before_the_sweep_instant_keeps_the_lease(
    store: Store, workspace: Path, clock
) -> None:
    run_id = store.enqueue("kept", workspace).run_id
    idle_id = store.enqueue("idle", workspace).run_id
    kept = store.claim_next("w", lease_s=60)
    idle = store.claim_next("w", lease_s=60)
    assert kept is not None and idle is not None
    assert (kept.run_id, idle.run_id) == (run_id, idle_id)
    deadline = kept.lease_until_ms
    clock.now_ms = deadline - 1
    store.heartbeat(run_id, kept.claim_token, lease_s=60)
    # The sweep runs at the instant the old lease ended: only the idle run is taken.
    recovered = store.recover_expired(now=deadline)
    assert recovered.requeued == (idle_id,) and recovered.total == 1
    assert status_of(store, run_id) is C
    clock.now_ms = deadline
    store.heartbeat(run_id, kept.claim_token)  # still the lease holder
    # The idle worker's token is dead: the run is queued again, no longer leased to it.
    with pytest.raises(InvalidTransitionError) as refused:
        store.heartbeat(idle_id, idle.claim_token)
    assert_refused(refused.value, W, Q)
    assert detail(store, idle_id).run.attempt == 2


def test_the_sweep_takes_a_lease_exactly_at_its_end_and_not_a_millisecond_before(
    store: Store, workspace: Path
) -> None:
    run_id = store.enqueue("t", workspace, max_attempts=1).run_id
    claim = store.claim_next("w", lease_s=60)
    assert claim is not None
    assert store.recover_expired(now=claim.lease_until_ms - 1).total == 0
    recovered = store.recover_expired(now=claim.lease_until_ms)
    assert recovered.parked == (run_id,)
    row = detail(store, run_id).run
    assert row.status is N and row.block_reason is not None
    assert "no attempts left" in row.block_reason


def test_claim_next_sweeps_expired_leases_itself(store: Store, workspace: Path, clock) -> None:
    run_id = store.enqueue("t", workspace).run_id
    first = store.claim_next("w1", lease_s=10)
    assert first is not None
    clock.advance(11)
    second = store.claim_next("w2")
    assert second is not None and (second.run_id, second.attempt) == (run_id, 2)
    actions = [e.action for e in detail(store, run_id).events]
    assert actions == ["enqueue", "claim", "expire_retry", "claim"]


def test_claim_order_is_priority_then_oldest_then_id(store: Store, workspace: Path, clock) -> None:
    low = store.enqueue("low", workspace, priority=0).run_id
    clock.advance(1)
    high_new = store.enqueue("high new", workspace, priority=5).run_id
    clock.advance(-2)
    high_old = store.enqueue("high old", workspace, priority=5).run_id
    order = []
    while (claim := store.claim_next("w")) is not None:
        order.append(claim.run_id)
    assert order == [high_old, high_new, low]


# -- derived task status ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["needs_attention", "queued"], TaskStatus.BLOCKED),  # parked outranks queued
        (["queued", "needs_attention"], TaskStatus.BLOCKED),
        (["completed", "claimed", "needs_attention"], TaskStatus.BLOCKED),
        (["failed", "claimed"], TaskStatus.IN_PROGRESS),
        (["claimed", "queued"], TaskStatus.IN_PROGRESS),
        (["requeued", "queued"], TaskStatus.READY),
        (["completed", "queued"], TaskStatus.READY),
        (["completed"], TaskStatus.COMPLETED),
        (["requeued", "requeued", "completed"], TaskStatus.COMPLETED),
        (["requeued", "failed"], TaskStatus.FAILED),
        (["completed", "failed"], TaskStatus.FAILED),  # the latest verdict wins
        (["failed", "completed"], TaskStatus.COMPLETED),
        (["canceled"], TaskStatus.CANCELED),
        (["failed", "requeued"], TaskStatus.FAILED),
    ],
)
def test_task_status_precedence(statuses: list[str], expected: TaskStatus) -> None:
    assert task_status(statuses) is expected
    assert task_status([RunStatus(s) for s in statuses]) is expected


def test_task_status_needs_a_deciding_run() -> None:
    for statuses in ([], ["requeued"]):
        with pytest.raises(ValueError):
            task_status(statuses)
    with pytest.raises(ValueError):
        task_status(["bogus"])


def test_task_status_follows_a_real_task_through_its_runs(store: Store, workspace: Path) -> None:
    task_id = store.enqueue("t", workspace).task_id

    def derived() -> TaskStatus:
        with store.engine.connect() as conn:
            statuses = conn.execute(
                sa.select(runs.c.status).where(runs.c.task_id == task_id).order_by(runs.c.id)
            ).scalars()
            return task_status(statuses)

    assert derived() is TaskStatus.READY
    claim = store.claim_next("w")
    assert claim is not None and derived() is TaskStatus.IN_PROGRESS
    store.block(claim.run_id, claim.claim_token, reason="stuck")
    assert derived() is TaskStatus.BLOCKED
    store.requeue([claim.run_id], reason="go", actor="rita")
    assert derived() is TaskStatus.READY
    second = store.claim_next("w")
    assert second is not None
    store.complete(second.run_id, second.claim_token)
    assert derived() is TaskStatus.COMPLETED
