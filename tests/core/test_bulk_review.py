"""Issue 17.3: a bulk reviewer action is a batch per transaction of set-based statements,
with the same per-run results as one run at a time.

- Mixed batches: every run gets its own result, in order, de-duplicated, with the error
  code and message the single-run path has always given (conflict naming the last change,
  not_found, invalid_transition, a live lease without force), across batch boundaries.
- Property (hypothesis): for any mixture of run states, expectations, action and force,
  each result is what the lifecycle table says, the database agrees, and each run that
  moved has exactly one new event (a requeue also its successor's enqueue).
- Race (OS processes): a worker settling claimed runs one by one while a reviewer
  force-fails all of them in one bulk call: no run is transitioned twice.
"""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa
from coretest_support import wait_all
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testkit import FakeClock

from parkbench.core.lifecycle import Action, ActorKind, RunStatus, find
from parkbench.core.models import events, runs
from parkbench.core.records import Expectation, RunFilter
from parkbench.core.store import Store, review

SPAWN = multiprocessing.get_context("spawn")


def parked_run(store: Store, workspace: Path, title: str) -> int:
    store.enqueue(title, workspace)
    lease = store.claim_next("agent")
    assert lease is not None
    store.block(lease.run_id, lease.claim_token, reason="need a human")
    return lease.run_id


def seen(store: Store, run_id: int) -> Expectation:
    run = store.get_run(run_id, check_disk=False).run
    return Expectation(run.status, run.version)


def event_count(store: Store, run_id: int) -> int:
    return store.get_run(run_id, check_disk=False, events_limit=None).events_total


def test_a_mixed_batch_keeps_each_runs_result_across_batches(
    store: Store, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(review, "BATCH", 2)  # five distinct runs: three batches
    good = [parked_run(store, workspace, f"good {i}") for i in range(2)]
    stale = parked_run(store, workspace, "stale")
    queued = store.enqueue("still queued", workspace).run_id
    expected = {run_id: seen(store, run_id) for run_id in [*good, stale, queued]}
    store.force_release([stale], reason="mine now", actor="bob")
    missing = 987_654
    asked = [good[0], stale, good[0], missing, queued, good[1], stale]
    results = store.requeue(asked, reason="retry", actor="alice", expected=expected)

    assert [r.run_id for r in results] == [good[0], stale, missing, queued, good[1]]
    by_id = {r.run_id: r for r in results}
    for run_id in good:
        result = by_id[run_id]
        assert result.ok and result.status is RunStatus.REQUEUED and result.new_run_id
        fresh = store.get_run(result.new_run_id, check_disk=False)
        assert fresh.run.status is RunStatus.QUEUED and fresh.run.attempt == 2
        assert [e.action for e in fresh.events] == ["enqueue"]
        source = store.get_run(run_id, check_disk=False)
        assert source.events[-1].action == "requeue" and source.events[-1].actor == "alice"
    conflict = by_id[stale].error
    assert conflict is not None and conflict.code == "conflict"
    assert conflict.message == (
        f"run {stale} changed since you looked: release by bob (human); it is now queued"
    )
    assert conflict.hint == f"refresh and review it again (`parkbench show {stale}`)"
    gone = by_id[missing].error
    assert gone is not None and (gone.code, gone.message) == (
        "not_found",
        f"run {missing} does not exist",
    )
    wrong = by_id[queued].error
    assert wrong is not None and wrong.code == "invalid_transition"
    assert wrong.message.startswith(f"cannot requeue run {queued}: it is queued")
    assert store.get_run(stale, check_disk=False).run.status is RunStatus.QUEUED


def test_claimed_runs_live_lease_needs_force_expired_does_not(
    store: Store, workspace: Path, clock: FakeClock
) -> None:
    for i in range(3):
        store.enqueue(f"claimed {i}", workspace)
    short = store.claim_next("w-short", lease_s=5)
    assert short is not None
    clock.advance(10)  # its lease is over
    live = store.claim_next("w-live", lease_s=600)
    forced_live = store.claim_next("w-forced", lease_s=600)
    assert live is not None and forced_live is not None

    refused, expired = store.force_fail([live.run_id, short.run_id], reason="stuck", actor="alice")
    assert expired.ok and expired.status is RunStatus.FAILED
    assert refused.error is not None and refused.error.code == "invalid_transition"
    assert refused.error.message == (
        f"cannot fail run {live.run_id}: w-live holds a live lease on it (600 s left)"
    )
    [forced] = store.force_release([forced_live.run_id], reason="mine", actor="alice", force=True)
    assert forced.ok and forced.status is RunStatus.QUEUED
    event = store.get_run(forced_live.run_id, check_disk=False).events[-1]
    assert event.action == "release" and (event.details or {}).get("lease_forced") is True
    assert event.token_hash_prefix  # a live lease's token is named (by its hash's prefix)
    failed = store.get_run(short.run_id, check_disk=False).events[-1]
    details = failed.details or {}
    assert details.get("operator_forced") is True and "lease_forced" not in details
    assert store.get_run(live.run_id, check_disk=False).run.status is RunStatus.CLAIMED


# -- property: the batch says what one run at a time would ---------------------------------

STATES = ("parked", "queued", "claimed_live", "claimed_expired", "failed")
SEEN = ("none", "as_is", "old_version", "other_status")


def make_state(store: Store, workspace: Path, clock: FakeClock, state: str, i: int) -> int:
    """A run in ``state`` (the queue is empty before each claim, so it claims this run)."""
    run_id = store.enqueue(f"prop {i}", workspace).run_id
    if state == "queued":
        return run_id
    lease = store.claim_next("prop-worker", lease_s=1 if state == "claimed_expired" else 3600)
    assert lease is not None and lease.run_id == run_id
    if state == "parked":
        store.block(lease.run_id, lease.claim_token, reason="why")
    elif state == "failed":
        store.force_fail([lease.run_id], reason="done for", actor="x", force=True)
    return lease.run_id


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=st.lists(
        st.tuples(st.sampled_from(STATES), st.sampled_from(SEEN)), min_size=1, max_size=6
    ),
    action=st.sampled_from((Action.REQUEUE, Action.FAIL, Action.RELEASE)),
    force=st.booleans(),
    batch=st.integers(min_value=1, max_value=4),
)
def test_each_result_is_what_the_table_says(
    store: Store,
    workspace: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    plan: list[tuple[str, str]],
    action: Action,
    force: bool,
    batch: int,
) -> None:
    monkeypatch.setattr(review, "BATCH", batch)
    # Examples share the store: no queued or claimed run is left from the last one (a claim
    # would take it, or sweep it). The short leases end once every claim is made.
    for status in (RunStatus.QUEUED, RunStatus.CLAIMED):
        left = [row.id for row in store.list_runs(RunFilter(status=status), limit=1000).rows]
        store.force_fail(left, reason="clear", actor="setup", force=True)
    rank = {"claimed_expired": 1, "claimed_live": 2, "queued": 3}
    order = sorted(range(len(plan)), key=lambda i: rank.get(plan[i][0], 0))
    ids: dict[int, int] = {}
    for i in order:
        ids[i] = make_state(store, workspace, clock, plan[i][0], i)
    clock.advance(2)
    before = {i: seen(store, ids[i]) for i in ids}
    events_before = {i: event_count(store, ids[i]) for i in ids}
    expected: dict[int, Expectation] = {}
    for i, (_, look) in enumerate(plan):
        now = before[i]
        if look == "as_is":
            expected[ids[i]] = now
        elif look == "old_version":
            expected[ids[i]] = Expectation(now.status, (now.version or 1) - 1)
        elif look == "other_status":
            other = RunStatus.QUEUED if now.status is not RunStatus.QUEUED else RunStatus.FAILED
            expected[ids[i]] = Expectation(other, now.version)
    results = store.review(
        action,
        [ids[i] for i in range(len(plan))],
        reason="prop",
        actor="p",
        expected=expected,
        force=force,
    )
    assert [r.run_id for r in results] == [ids[i] for i in range(len(plan))]
    for i, result in enumerate(results):
        state, look = plan[i]
        status = before[i].status
        transition = find(ActorKind.HUMAN, action, status)
        if look in ("old_version", "other_status"):
            want = "conflict"
        elif transition is None or (state == "claimed_live" and not force):
            want = "invalid_transition"
        else:
            want = "ok"
        got = "ok" if result.ok else (result.error.code if result.error else "?")
        assert got == want, (plan[i], action, force, result)
        after = store.get_run(ids[i], check_disk=False, events_limit=None)
        if result.ok:
            assert transition is not None
            assert result.status is transition.target is after.run.status
            assert after.run.version == (before[i].version or 0) + 1
            assert after.events_total == events_before[i] + 1
            newest = after.events[-1]
            assert (newest.from_status, newest.to_status) == (status.value, transition.target.value)
            assert (result.new_run_id is not None) == (action is Action.REQUEUE)
        else:
            assert after.run.status is status and after.run.version == before[i].version
            assert after.events_total == events_before[i]


# -- race: a worker and a bulk fail, in two OS processes -----------------------------------

RACE_RUNS = {"sqlite": 120, "postgres": 80}


def _settle_each(url: str, trials: list[tuple[int, str]], barrier, out: str) -> None:  # type: ignore[no-untyped-def]
    from parkbench.core.store import Store

    outcomes = []
    with Store.open(url) as store:
        barrier.wait(timeout=60)
        for i, (run_id, token) in enumerate(trials):
            try:
                if i % 2 == 0:
                    store.complete(run_id, token)
                else:
                    store.block(run_id, token, reason="worker gave up")
                outcomes.append("ok")
            except Exception as error:  # recorded: the test compares
                outcomes.append(getattr(error, "code", repr(error)))
    Path(out).write_text(json.dumps(outcomes))


def _bulk_fail(url: str, expected: dict[str, int], barrier, out: str) -> None:  # type: ignore[no-untyped-def]
    from parkbench.core.records import Expectation
    from parkbench.core.store import Store

    seen = {int(k): Expectation(RunStatus.CLAIMED, v) for k, v in expected.items()}
    with Store.open(url) as store:
        barrier.wait(timeout=60)
        results = store.force_fail(
            list(seen), reason="stop all", actor="rita", expected=seen, force=True
        )
    Path(out).write_text(
        json.dumps([("ok" if r.ok else r.error.code if r.error else "?") for r in results])
    )


def test_a_bulk_fail_racing_a_worker_never_moves_a_run_twice(
    db_url: str, backend: str, workspace: Path, tmp_path: Path
) -> None:
    count = RACE_RUNS[backend]
    trials: list[tuple[int, str]] = []
    expected: dict[str, int] = {}
    with Store.open(db_url) as store:
        for i in range(count):
            store.enqueue(f"race {i}", workspace)
            lease = store.claim_next("racer", lease_s=3600)
            assert lease is not None
            trials.append((lease.run_id, lease.claim_token))
            expected[str(lease.run_id)] = store.get_run(lease.run_id, check_disk=False).run.version
    barrier = SPAWN.Barrier(2)
    worker_out, reviewer_out = tmp_path / "worker.json", tmp_path / "reviewer.json"
    processes = [
        SPAWN.Process(target=_settle_each, args=(db_url, trials, barrier, str(worker_out))),
        SPAWN.Process(target=_bulk_fail, args=(db_url, expected, barrier, str(reviewer_out))),
    ]
    for process in processes:
        process.start()
    wait_all(processes, 600)
    worker = json.loads(worker_out.read_text())
    reviewer = json.loads(reviewer_out.read_text())
    assert len(worker) == len(reviewer) == count
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            for i, ((run_id, _), w, r) in enumerate(zip(trials, worker, reviewer, strict=True)):
                assert sorted([w, r]) in (["conflict", "ok"], ["invalid_transition", "ok"]), (
                    i,
                    w,
                    r,
                )
                moves = conn.execute(
                    sa.select(events.c.action, events.c.from_status).where(
                        events.c.run_id == run_id, events.c.action.not_in(["enqueue", "claim"])
                    )
                ).all()
                assert len(moves) == 1 and moves[0].from_status == "claimed", (i, moves)
                status = conn.execute(
                    sa.select(runs.c.status).where(runs.c.id == run_id)
                ).scalar_one()
                if r == "ok":
                    assert status == RunStatus.FAILED.value and moves[0].action == "fail"
                else:
                    assert status in (RunStatus.COMPLETED.value, RunStatus.NEEDS_ATTENTION.value)
    finally:
        engine.dispose()
    wins = sum(1 for r in reviewer if r == "ok")
    print(f"{backend}: reviewer won {wins} of {count}")
