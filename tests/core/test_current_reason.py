"""A run's reason is the one of its current state; earlier reasons live in its events."""

from __future__ import annotations

from pathlib import Path

from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import RunFilter
from parkbench.core.store import Store


def _parked(store: Store, workspace: Path, reason: str, **kw: object) -> int:
    run_id = store.enqueue("t", workspace, **kw).run_id  # type: ignore[arg-type]
    claim = store.claim_next("w")
    assert claim is not None and claim.run_id == run_id
    store.block(run_id, claim.claim_token, reason=reason)
    return run_id


def test_an_old_block_reason_does_not_outlive_the_block(store: Store, workspace: Path) -> None:
    run_id = _parked(store, workspace, "need API key")
    assert store.force_release([run_id], reason="key added", actor="rita")[0].ok
    released = store.get_run(run_id, check_disk=False).run
    assert (released.block_reason, released.reason) == (None, None)
    claim = store.claim_next("w")
    assert claim is not None and claim.run_id == run_id
    assert store.fail(run_id, claim.claim_token, reason="compiler crashed") is RunStatus.QUEUED
    [row] = store.list_runs(RunFilter(status=RunStatus.QUEUED)).rows
    assert (row.reason, row.block_reason) == ("compiler crashed", None)
    assert store.count_runs(RunFilter(status=None, search="API key")) == 0
    assert store.count_runs(RunFilter(status=None, search="compiler")) == 1
    # History stays in the events.
    trail = store.get_run(run_id, check_disk=False).events
    assert "need API key" in [e.reason for e in trail]
    # A fresh claim starts without a reason; the retry's reason is in its event.
    claim = store.claim_next("w")
    assert claim is not None
    claimed = store.get_run(run_id, check_disk=False).run
    assert (claimed.failure_reason, claimed.block_reason) == (None, None)


def test_a_reviewer_verdict_replaces_the_block_reason(store: Store, workspace: Path) -> None:
    failed = _parked(store, workspace, "stuck on A")
    requeued = _parked(store, workspace, "stuck on B")
    assert store.force_fail([failed], reason="not worth it", actor="rita")[0].ok
    [result] = store.requeue([requeued], reason="try again", actor="rita")
    assert result.ok and result.new_run_id is not None
    row = store.get_run(failed, check_disk=False).run
    assert (row.status, row.reason, row.block_reason) == (RunStatus.FAILED, "not worth it", None)
    # The requeued source ended parked: it keeps why; its successor starts clean.
    source = store.get_run(requeued, check_disk=False).run
    assert (source.status, source.block_reason) == (RunStatus.REQUEUED, "stuck on B")
    fresh = store.get_run(result.new_run_id, check_disk=False).run
    assert (fresh.block_reason, fresh.failure_reason) == (None, None)
    assert store.count_runs(RunFilter(status=None, search="stuck on A")) == 0
