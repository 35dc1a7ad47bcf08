"""The Python API's lease: the claim's facts, its moves, and a context manager that keeps the
lease alive and never leaves a run claimed."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

import parkbench
from parkbench.core.errors import InvalidTransitionError, MissingArtifactsError, ParkbenchError
from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Lease, Store


def _watch_heartbeats(
    store: Store, monkeypatch: pytest.MonkeyPatch, after: int
) -> tuple[threading.Event, list[object]]:
    """An event set once ``after`` heartbeats have returned (or raised); their outcomes."""
    done = threading.Event()
    outcomes: list[object] = []
    real = store.heartbeat

    def counted(*args: object, **kwargs: object) -> int:
        try:
            until = real(*args, **kwargs)  # type: ignore[arg-type]
            outcomes.append(until)
            return until
        except ParkbenchError as error:
            outcomes.append(error)
            raise
        finally:
            if len(outcomes) >= after:
                done.set()

    monkeypatch.setattr(store, "heartbeat", counted)
    return done, outcomes


def _status(store: Store, run_id: int) -> RunStatus:
    return store.get_run(run_id, check_disk=False).run.status


def test_open_claim_and_complete_through_the_public_api(tmp_path: Path) -> None:
    with parkbench.open(f"sqlite:///{tmp_path / 'q.db'}") as queue:
        queue.enqueue("Summarise", tmp_path)
        lease = queue.claim("agent-1", lease_s=30)
        assert isinstance(lease, Lease)
        assert lease.task.title == "Summarise" and lease.handoff is None
        done = lease.complete(result={"words": 120})
        assert done.status is RunStatus.COMPLETED and lease.settled is RunStatus.COMPLETED
        assert queue.claim("agent-1") is None  # nothing left


def test_the_context_manager_heartbeats_in_the_background(
    store: Store, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.enqueue("Long job", workspace)
    beats, outcomes = _watch_heartbeats(store, monkeypatch, after=2)
    lease = store.claim("agent-1", lease_s=1)
    assert lease is not None
    with lease:
        assert beats.wait(10), "no background heartbeat"
        lease.complete()
    assert all(isinstance(o, int) for o in outcomes)
    assert _status(store, lease.run_id) is RunStatus.COMPLETED


def test_a_body_that_raises_releases_the_run(store: Store, workspace: Path) -> None:
    store.enqueue("Flaky", workspace)
    lease = store.claim("agent-1", lease_s=30)
    assert lease is not None
    with pytest.raises(RuntimeError, match="boom"), lease:
        raise RuntimeError("boom")
    assert _status(store, lease.run_id) is RunStatus.QUEUED
    assert lease.settled is RunStatus.QUEUED


def test_a_body_that_ends_without_a_verdict_gives_the_work_back(
    store: Store, workspace: Path
) -> None:
    store.enqueue("Undecided", workspace)
    lease = store.claim("agent-1", lease_s=30)
    assert lease is not None
    with lease:
        pass
    assert _status(store, lease.run_id) is RunStatus.QUEUED


def test_a_refused_completion_keeps_the_run_claimed_until_the_body_ends(
    store: Store, workspace: Path
) -> None:
    store.enqueue(
        "Report", workspace, metadata={"completion_contract": {"required_paths": ["r.md"]}}
    )
    lease = store.claim("agent-1", lease_s=30)
    assert lease is not None
    with pytest.raises(MissingArtifactsError), lease:
        try:
            lease.complete()
        finally:
            assert _status(store, lease.run_id) is RunStatus.CLAIMED
    assert _status(store, lease.run_id) is RunStatus.QUEUED  # released on the way out


def test_block_parks_the_run_with_the_question(store: Store, workspace: Path) -> None:
    store.enqueue("Ask", workspace)
    lease = store.claim("agent-1", lease_s=30)
    assert lease is not None
    with lease:
        lease.block("which region?")
    detail = store.get_run(lease.run_id, check_disk=False)
    assert detail.run.status is RunStatus.NEEDS_ATTENTION
    assert detail.run.block_reason == "which region?"


def test_a_reviewer_taking_the_run_stops_the_heartbeat_and_is_reported(
    store: Store, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.enqueue("Taken away", workspace)
    lease = store.claim("agent-1", lease_s=1)
    assert lease is not None
    store.force_release([lease.run_id], reason="worker looks dead", actor="alice", force=True)
    beats, outcomes = _watch_heartbeats(store, monkeypatch, after=1)
    with lease:
        assert beats.wait(10)
        assert isinstance(outcomes[0], InvalidTransitionError)
    assert isinstance(lease.lost, InvalidTransitionError)
    assert lease.settled is None  # nothing of the lease's own was done to the run
    assert _status(store, lease.run_id) is RunStatus.QUEUED  # as the reviewer left it


def test_the_token_never_shows_in_repr_or_logs(
    store: Store, workspace: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store.enqueue("Secret", workspace)
    lease = store.claim("agent-1", lease_s=1)
    assert lease is not None
    token = lease.claim.claim_token
    store.force_release([lease.run_id], reason="taken", actor="alice", force=True)
    caplog.set_level(logging.DEBUG)
    # The body ended without a verdict, but the run is no longer this lease's to release:
    # the exit says so instead of pretending it gave the work back.
    with pytest.raises(InvalidTransitionError) as on_exit, lease:
        pass
    with pytest.raises(ParkbenchError) as raised:
        lease.heartbeat()
    texts = [repr(lease), str(lease), repr(lease.claim), str(on_exit.value), str(raised.value)]
    texts.append(caplog.text)
    assert not [text for text in texts if token in text]
