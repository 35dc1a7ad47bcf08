"""Undo a requeue (``Store.undo_requeue``) on both backends: the successor that never ran is
canceled and the source parks again, in one transaction, each move audited; every refusal
has its stable code and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from testkit import FakeClock

from parkbench.core.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    ParkbenchError,
    ValidationError,
)
from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import Expectation, RunDetail
from parkbench.core.store import Store

Q, N = RunStatus.QUEUED, RunStatus.NEEDS_ATTENTION


def _detail(store: Store, run_id: int) -> RunDetail:
    return store.get_run(run_id, check_disk=False)


def _parked(store: Store, workspace: Path, title: str = "Deploy", priority: int = 0) -> int:
    store.enqueue(title, workspace, priority=priority, actor="producer")
    claim = store.claim_next("agent-1", lease_s=600)
    assert claim is not None
    store.block(claim.run_id, claim.claim_token, reason="  need the API key  ")
    return claim.run_id


def _requeued(store: Store, workspace: Path) -> tuple[int, int]:
    source = _parked(store, workspace)
    [result] = store.requeue([source], reason="key added", actor="alice")
    assert result.ok and result.new_run_id is not None
    return source, result.new_run_id


def _snapshot(store: Store, *run_ids: int) -> list[tuple[str, int, int]]:
    """What a refusal must leave alone: each run's status, version and event count."""
    return [
        (d.run.status.value, d.run.version, d.events_total)
        for d in (_detail(store, run_id) for run_id in run_ids)
    ]


def test_undo_parks_the_source_again_and_cancels_the_successor(
    store: Store, workspace: Path, clock: FakeClock
) -> None:
    source = _parked(store, workspace)
    before = _detail(store, source).run
    clock.advance(30)
    [result] = store.requeue([source], reason="key added", actor="alice")
    new = result.new_run_id
    assert new is not None
    undone_at = clock.advance(5)

    undone = store.undo_requeue(
        source, reason="  wrong run  ", actor="bob", expected=Expectation(Q, 1)
    )

    assert (undone.run_id, undone.canceled_run_id) == (source, new)
    assert undone.to_dict() == {
        "run_id": source,
        "status": "needs_attention",
        "canceled_run_id": new,
        "canceled_status": "canceled",
    }
    back = _detail(store, source)
    assert back.run.status is N
    # As it was parked: the agent's reason, its blocked time (so its place in the list).
    assert back.run.block_reason == "need the API key"
    assert back.run.blocked_at_ms == before.blocked_at_ms
    assert back.run.status_changed_at_ms == before.status_changed_at_ms
    assert back.run.finished_at_ms is None
    assert back.run.version == before.version + 2  # the requeue, then the undo
    last = back.events[-1]
    assert (last.actor_kind, last.actor, last.action) == ("human", "bob", "undo_requeue")
    assert (last.from_status, last.to_status) == ("requeued", "needs_attention")
    assert (last.reason, last.created_at_ms) == ("wrong run", undone_at)
    assert last.details == {"canceled_run_id": new}

    gone = _detail(store, new)
    assert gone.run.status is RunStatus.CANCELED
    assert gone.run.finished_at_ms == undone_at and gone.run.version == 2
    assert [e.action for e in gone.events] == ["enqueue", "undo_requeue"]
    cancel = gone.events[-1]
    assert (cancel.actor_kind, cancel.actor, cancel.reason) == ("human", "bob", "wrong run")
    assert (cancel.from_status, cancel.to_status) == ("queued", "canceled")
    assert cancel.details == {"source_run_id": source}
    # Nothing is left to claim: the canceled successor is out of the queue.
    assert store.claim_next("agent-2") is None
    assert store.counts_by_status().get("canceled") == 1


def test_a_second_requeue_after_an_undo_hands_on_the_original_block(
    store: Store, workspace: Path
) -> None:
    source, first = _requeued(store, workspace)
    store.undo_requeue(source, reason="wrong answer", actor="alice")
    [again] = store.requeue([source], reason="use the staging key", actor="alice")
    assert again.ok and again.new_run_id not in (None, first)
    claim = store.claim_next("agent-2")
    assert claim is not None and claim.run_id == again.new_run_id
    handoff = claim.handoff
    assert handoff is not None and handoff.stopped is not None and handoff.decision is not None
    # Why the work stopped is the agent's block, not the undo that parked it again.
    assert (handoff.stopped.why, handoff.stopped.reason) == ("blocked", "need the API key")
    assert handoff.decision.text == "use the staging key"
    # The newest successor is the one an undo looks at: claimed, so it is refused now.
    with pytest.raises(ConflictError) as refused:
        store.undo_requeue(source, reason="again", actor="alice")
    assert f"new run {again.new_run_id} was claimed already by agent-2" in refused.value.message
    assert refused.value.details["new_run_id"] == again.new_run_id


def test_undo_of_a_run_that_is_not_requeued_is_an_invalid_transition(
    store: Store, workspace: Path
) -> None:
    parked = _parked(store, workspace)
    before = _snapshot(store, parked)
    with pytest.raises(InvalidTransitionError) as refused:
        store.undo_requeue(parked, reason="oops", actor="alice")
    error = refused.value
    assert error.code == "invalid_transition" and error.exit_code == 3
    assert "cannot undo_requeue run" in error.message and "it is needs_attention" in error.message
    assert error.details["status"] == "needs_attention"
    assert "parkbench show" in error.hint
    assert _snapshot(store, parked) == before
    # The successor itself is no requeue's source either.
    _, new = _requeued(store, workspace)
    with pytest.raises(InvalidTransitionError):
        store.undo_requeue(new, reason="oops", actor="alice")


def test_undo_of_a_missing_run_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError) as refused:
        store.undo_requeue(999, reason="oops", actor="alice")
    assert refused.value.exit_code == 4


def test_undo_needs_a_reason(store: Store, workspace: Path) -> None:
    source, new = _requeued(store, workspace)
    before = _snapshot(store, source, new)
    with pytest.raises(ValidationError):
        store.undo_requeue(source, reason="   ", actor="alice")
    assert _snapshot(store, source, new) == before


def _claimed(store: Store, new: int) -> None:
    claim = store.claim_next("agent-7", lease_s=600)
    assert claim is not None and claim.run_id == new


def _claimed_and_released(store: Store, new: int) -> None:
    claim = store.claim_next("agent-7", lease_s=600)
    assert claim is not None and claim.run_id == new
    store.release(new, claim.claim_token)


def _failed(store: Store, new: int) -> None:
    assert store.force_fail([new], reason="obsolete", actor="carol")[0].ok


@pytest.mark.parametrize(
    ("move", "says", "status"),
    [
        (_claimed, "was claimed already by agent-7", "claimed"),
        (_claimed_and_released, "was claimed already (and given back)", "queued"),
        (_failed, "is failed already", "failed"),
    ],
    ids=["claimed", "claimed-then-released", "failed"],
)
def test_undo_is_a_conflict_once_the_successor_moved(
    store: Store, workspace: Path, move: object, says: str, status: str
) -> None:
    source, new = _requeued(store, workspace)
    move(store, new)  # type: ignore[operator]
    before = _snapshot(store, source, new)
    with pytest.raises(ConflictError) as refused:
        store.undo_requeue(source, reason="oops", actor="alice")
    error = refused.value
    assert error.exit_code == 3 and says in error.message
    assert error.details == {"status": status, "new_run_id": new}
    assert f"parkbench show {new}" in error.hint
    assert _snapshot(store, source, new) == before


@pytest.mark.parametrize(
    "seen",
    [Expectation(Q, 2), Expectation(RunStatus.CLAIMED, 1)],
    ids=["stale-version", "other-status"],
)
def test_undo_is_a_conflict_when_the_successor_is_not_as_the_reviewer_saw_it(
    store: Store, workspace: Path, seen: Expectation
) -> None:
    source, new = _requeued(store, workspace)
    before = _snapshot(store, source, new)
    with pytest.raises(ConflictError) as refused:
        store.undo_requeue(source, reason="oops", actor="alice", expected=seen)
    assert "changed since you looked" in refused.value.message
    assert _snapshot(store, source, new) == before


def test_undo_twice_is_refused_the_second_time(store: Store, workspace: Path) -> None:
    source, new = _requeued(store, workspace)
    store.undo_requeue(source, reason="oops", actor="alice")
    before = _snapshot(store, source, new)
    with pytest.raises(ParkbenchError) as refused:
        store.undo_requeue(source, reason="oops", actor="alice")
    assert refused.value.code == "invalid_transition"  # the source is parked, not requeued
    assert _snapshot(store, source, new) == before


def test_a_read_only_store_refuses_the_undo(db_url: str, store: Store, workspace: Path) -> None:
    source, new = _requeued(store, workspace)
    with Store.open(db_url, read_only=True) as reader, pytest.raises(ParkbenchError) as refused:
        reader.undo_requeue(source, reason="oops", actor="alice")
    assert refused.value.code == "database"
    assert _detail(store, new).run.status is Q
