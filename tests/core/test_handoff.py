"""The claim tells the worker everything it needs: the task, its contract, and the handoff.

One test per way a run can come back to the queue (spec: "Handoff"), on both backends.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from testkit import FakeClock

from parkbench.core.errors import ValidationError
from parkbench.core.records import Claim
from parkbench.core.store import Store
from parkbench.core.store.handoff import derive
from parkbench.core.tokens import REDACTED

CONTRACT = {"completion_contract": {"required_paths": ["out/summary.md"], "missing_policy": "park"}}


def _claim(store: Store, worker: str = "agent-1") -> Claim:
    claimed = store.claim_next(worker, lease_s=60)
    assert claimed is not None
    return claimed


def test_new_work_has_the_task_and_contract_and_no_handoff(store: Store, workspace: Path) -> None:
    store.enqueue(
        "Write the summary",
        workspace,
        priority=5,
        max_attempts=2,
        metadata=CONTRACT,
        run_metadata={"shard": 3},
    )
    claimed = _claim(store)
    assert claimed.handoff is None
    assert (claimed.attempt, claimed.max_attempts) == (1, 2)
    assert claimed.task.title == "Write the summary"
    assert claimed.task.workspace == str(workspace.resolve())
    assert Path(claimed.task.workspace).is_absolute()
    assert claimed.task.priority == 5
    assert claimed.task.metadata == CONTRACT and claimed.task.run_metadata == {"shard": 3}
    assert claimed.contract.required == ("out/summary.md",)
    document = claimed.to_dict()
    assert document["contract"] == {"required_paths": ["out/summary.md"], "missing_policy": "park"}
    assert document["handoff"] is None
    assert document["task"]["id"] == claimed.task_id  # type: ignore[index]


def test_a_requeue_hands_the_reviewers_answer_to_the_next_attempt(
    store: Store, workspace: Path, clock: FakeClock
) -> None:
    store.enqueue("Deploy", workspace, max_attempts=1)
    first = _claim(store)
    blocked_at = clock.advance(10)
    store.block(first.run_id, first.claim_token, reason="  need the API key  ")
    decided_at = clock.advance(30)
    (result,) = store.requeue([first.run_id], reason="key added to the vault", actor="alice")
    second = _claim(store, "agent-2")
    assert second.run_id == result.new_run_id != first.run_id
    handoff = second.handoff
    assert handoff is not None
    assert (handoff.previous_run_id, handoff.previous_attempt, handoff.previous_status) == (
        first.run_id,
        1,
        "requeued",
    )
    assert handoff.stopped is not None
    assert (handoff.stopped.why, handoff.stopped.reason, handoff.stopped.by) == (
        "blocked",
        "need the API key",
        "agent-1",
    )
    assert handoff.stopped.at_ms == blocked_at
    assert handoff.decision is not None
    assert (handoff.decision.action, handoff.decision.reviewer, handoff.decision.text) == (
        "requeue",
        "alice",
        "key added to the vault",
    )
    assert handoff.decision.at_ms == decided_at
    # Past the task's attempts (1): the human decision overrides the limit.
    assert (second.attempt, second.max_attempts) == (2, 1)
    assert second.to_dict()["handoff"] == handoff.to_dict()


def test_missing_receipts_park_then_requeue(store: Store, workspace: Path) -> None:
    store.enqueue("Report", workspace, metadata=CONTRACT)
    first = _claim(store)
    store.complete(first.run_id, first.claim_token)  # park policy: parks, naming the receipt
    store.requeue([first.run_id], reason="write out/summary.md first", actor="bob")
    handoff = _claim(store).handoff
    assert handoff is not None and handoff.stopped is not None
    assert handoff.stopped.why == "missing_receipts"
    assert "out/summary.md" in (handoff.stopped.reason or "")
    assert handoff.decision is not None and handoff.decision.text == "write out/summary.md first"


def test_a_retry_after_a_failure_says_why_and_has_no_human_decision(
    store: Store, workspace: Path
) -> None:
    store.enqueue("Build", workspace, max_attempts=3)
    first = _claim(store)
    store.fail(first.run_id, first.claim_token, reason="compiler crashed")
    again = _claim(store, "agent-2")
    assert (again.run_id, again.attempt) == (first.run_id, 2)
    handoff = again.handoff
    assert handoff is not None and handoff.stopped is not None
    assert (handoff.previous_run_id, handoff.previous_attempt, handoff.previous_status) == (
        first.run_id,
        1,
        "failed",
    )
    assert (handoff.stopped.why, handoff.stopped.reason, handoff.stopped.by) == (
        "failed",
        "compiler crashed",
        "agent-1",
    )
    assert handoff.decision is None


def test_a_worker_release_keeps_the_attempt(store: Store, workspace: Path) -> None:
    store.enqueue("Index", workspace)
    first = _claim(store)
    store.release(first.run_id, first.claim_token)
    handoff = _claim(store).handoff
    assert handoff is not None and handoff.stopped is not None
    assert (handoff.previous_attempt, handoff.previous_status, handoff.stopped.why) == (
        1,
        "released",
        "released",
    )
    assert handoff.decision is None


def test_an_expired_lease_is_named_as_such(store: Store, workspace: Path, clock: FakeClock) -> None:
    store.enqueue("Crawl", workspace, max_attempts=3)
    first = _claim(store)
    clock.advance(61)
    assert store.recover_expired().requeued == (first.run_id,)
    handoff = _claim(store).handoff
    assert handoff is not None and handoff.stopped is not None
    assert (handoff.previous_attempt, handoff.previous_status, handoff.stopped.why) == (
        1,
        "lease_expired",
        "lease_expired",
    )
    assert handoff.decision is None


def test_a_reviewer_release_of_a_parked_run_carries_both_texts(
    store: Store, workspace: Path
) -> None:
    store.enqueue("Migrate", workspace)
    first = _claim(store)
    store.block(first.run_id, first.claim_token, reason="which schema?")
    store.force_release([first.run_id], reason="use schema v2", actor="carol")
    again = _claim(store)
    assert again.run_id == first.run_id
    handoff = again.handoff
    assert handoff is not None and handoff.stopped is not None and handoff.decision is not None
    assert handoff.previous_status == "needs_attention"
    assert (handoff.stopped.why, handoff.stopped.reason) == ("blocked", "which schema?")
    assert (handoff.decision.action, handoff.decision.reviewer, handoff.decision.text) == (
        "release",
        "carol",
        "use schema v2",
    )


def test_handoff_text_is_the_stored_text_with_tokens_redacted(
    store: Store, workspace: Path
) -> None:
    store.enqueue("Leak", workspace, max_attempts=1)
    first = _claim(store)
    store.block(first.run_id, first.claim_token, reason=f"my token is {first.claim_token}")
    store.requeue([first.run_id], reason="never paste tokens", actor="dan")
    second = _claim(store)
    assert second.handoff is not None and second.handoff.stopped is not None
    assert second.handoff.stopped.reason == f"my token is {REDACTED}"
    assert first.claim_token not in repr(second.to_dict())


def test_derive_without_a_queueing_event_has_no_handoff() -> None:
    assert derive(run_id=1, attempt=1, queued_by=None, parked_by=None, previous=None) is None


def test_a_reason_is_still_required_for_the_answer(store: Store, workspace: Path) -> None:
    store.enqueue("X", workspace)
    first = _claim(store)
    store.block(first.run_id, first.claim_token, reason="q")
    with pytest.raises(ValidationError):
        store.requeue([first.run_id], reason="   ", actor="erin")
