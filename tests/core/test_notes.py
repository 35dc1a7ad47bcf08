"""Issue 20 §4: a reviewer's note changes nothing about the run, is audited, shows in the
run's detail and reaches the next attempt in the handoff; a requeue's answer keeps its lines
and may set the new attempt's priority. Both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from testkit import FakeClock

from parkbench.core.errors import NotFoundError, ValidationError
from parkbench.core.inputs import MAX_NOTE
from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.records import Claim, Expectation
from parkbench.core.store import Store
from parkbench.core.tokens import REDACTED

ANSWER = "Key added to the vault.\n\n  Use the `billing` role:\n    vault read billing/key\n"


def _claim(store: Store, worker: str = "agent-1") -> Claim:
    claimed = store.claim_next(worker, lease_s=60)
    assert claimed is not None
    return claimed


def _parked(store: Store, workspace: Path, reason: str = "need the API key") -> Claim:
    store.enqueue("Deploy", workspace, priority=3)
    claimed = _claim(store)
    store.block(claimed.run_id, claimed.claim_token, reason=reason)
    return claimed


@pytest.mark.parametrize("status", ["queued", "claimed", "needs_attention", "requeued"])
def test_a_note_is_audited_and_changes_nothing_about_the_run(
    store: Store, workspace: Path, clock: FakeClock, status: str
) -> None:
    run_id = store.enqueue("Deploy", workspace).run_id
    if status != "queued":
        claimed = _claim(store)
        run_id = claimed.run_id
        if status in ("needs_attention", "requeued"):
            store.block(run_id, claimed.claim_token, reason="stuck")
        if status == "requeued":
            store.requeue([run_id], reason="go", actor="alice")
    before = store.get_run(run_id, check_disk=False)
    at = clock.advance(5)
    event = store.add_note(run_id, text="  looking at this  ", actor="bob")
    after = store.get_run(run_id, check_disk=False)
    # Nothing about the run moved: status, version, the status change time, the reasons.
    assert after.run == before.run
    assert after.run.status.value == status
    assert (event.action, event.actor_kind, event.actor, event.reason) == (
        "note",
        "human",
        "bob",
        "looking at this",
    )
    assert (event.from_status, event.to_status, event.created_at_ms) == (status, status, at)
    assert after.events[-1] == event
    assert after.notes == (event,)
    assert after.events_total == before.events_total + 1
    body = after.to_dict()
    assert body["notes"] == [
        {
            "event_id": event.id,
            "by": "bob",
            "status": status,
            "text": "looking at this",
            "at": body["events"][-1]["created_at"],  # type: ignore[index]
        }
    ]


def test_a_note_does_not_conflict_a_colleagues_pending_action(
    store: Store, workspace: Path
) -> None:
    parked = _parked(store, workspace)
    seen = store.get_run(parked.run_id, check_disk=False).run
    store.add_note(parked.run_id, text="waiting for the DBA", actor="bob")
    (result,) = store.requeue(
        [parked.run_id],
        reason="go",
        actor="alice",
        expected={parked.run_id: Expectation(seen.status, seen.version)},
    )
    assert result.ok, result.error


def test_a_conflict_summary_names_the_last_move_not_a_note(store: Store, workspace: Path) -> None:
    parked = _parked(store, workspace)
    seen = store.get_run(parked.run_id, check_disk=False).run
    store.force_release([parked.run_id], reason="back you go", actor="carol")
    store.add_note(parked.run_id, text="released it", actor="carol")
    (result,) = store.requeue(
        [parked.run_id],
        reason="go",
        expected={parked.run_id: Expectation(seen.status, seen.version)},
    )
    assert result.error is not None and result.error.code == "conflict"
    assert "release by carol" in result.error.message


def test_note_text_is_required_trimmed_bounded_and_redacted(store: Store, workspace: Path) -> None:
    parked = _parked(store, workspace)
    for blank in ("", "   \n\t "):
        with pytest.raises(ValidationError, match="note is required"):
            store.add_note(parked.run_id, text=blank, actor="bob")
    with pytest.raises(ValidationError, match="the limit is 10,000"):
        store.add_note(parked.run_id, text="x" * (MAX_NOTE + 1), actor="bob")
    with pytest.raises(ValidationError, match="NUL"):
        store.add_note(parked.run_id, text="a\x00b", actor="bob")
    with pytest.raises(ValidationError, match="actor is required"):
        store.add_note(parked.run_id, text="hi", actor="  ")
    token = "pkb_claim_" + "A" * 43
    event = store.add_note(parked.run_id, text=f"line one\nused {token}\n", actor="bob")
    assert event.reason == f"line one\nused {REDACTED}"
    assert store.add_note(parked.run_id, text="x" * MAX_NOTE, actor="bob").reason == "x" * MAX_NOTE
    assert len(store.get_run(parked.run_id, check_disk=False).notes) == 2


def test_a_note_on_a_missing_run_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="run 99 does not exist"):
        store.add_note(99, text="hello", actor="bob")


def test_a_requeue_hands_on_a_multi_line_answer_and_the_notes_since_the_claim(
    store: Store, workspace: Path, clock: FakeClock
) -> None:
    store.enqueue("Deploy", workspace)
    first = _claim(store)
    running_note = store.add_note(first.run_id, text="looking at this", actor="bob")
    store.block(first.run_id, first.claim_token, reason="need the API key")
    clock.advance(10)
    parked_note = store.add_note(
        first.run_id, text="waiting for the DBA\nticket OPS-7", actor="bob"
    )
    (result,) = store.requeue([first.run_id], reason=ANSWER, actor="alice")
    assert result.new_run_id is not None
    queued_note = store.add_note(result.new_run_id, text="run it first", actor="carol")
    second = _claim(store, "agent-2")
    handoff = second.handoff
    assert handoff is not None and handoff.decision is not None and handoff.stopped is not None
    # The answer is stored and handed on exactly as written, lines and indents kept (trimmed
    # at its ends only, as every reason is).
    assert handoff.decision.text == ANSWER.strip()
    # A note on the queued successor is no move: the decision is still the requeue's.
    assert (handoff.decision.action, handoff.decision.reviewer) == ("requeue", "alice")
    assert handoff.stopped.reason == "need the API key"
    assert [(n.run_id, n.by, n.text, n.at_ms) for n in handoff.notes] == [
        (first.run_id, "bob", "looking at this", running_note.created_at_ms),
        (first.run_id, "bob", "waiting for the DBA\nticket OPS-7", parked_note.created_at_ms),
        (result.new_run_id, "carol", "run it first", queued_note.created_at_ms),
    ]
    document = second.to_dict()["handoff"]
    assert document["decision"]["text"] == ANSWER.strip()  # type: ignore[index]
    assert [n["text"] for n in document["notes"]] == [  # type: ignore[index]
        "looking at this",
        "waiting for the DBA\nticket OPS-7",
        "run it first",
    ]
    # show --json carries the answer intact too (the requeue's event on the source run).
    shown = store.get_run(first.run_id, check_disk=False).to_dict()
    assert shown["events"][-1]["reason"] == ANSWER.strip()  # type: ignore[index]


def test_a_release_hands_on_the_notes_of_this_attempt_only(store: Store, workspace: Path) -> None:
    store.enqueue("Build", workspace, max_attempts=3)
    first = _claim(store)
    store.add_note(first.run_id, text="old news", actor="bob")
    store.fail(first.run_id, first.claim_token, reason="compiler crashed")  # a retry
    second = _claim(store, "agent-2")
    assert [n.text for n in second.handoff.notes] == ["old news"]  # type: ignore[union-attr]
    store.block(second.run_id, second.claim_token, reason="flaky disk")
    store.add_note(second.run_id, text="swapped the disk", actor="bob")
    store.force_release([second.run_id], reason="try again", actor="alice")
    third = _claim(store, "agent-3")
    handoff = third.handoff
    assert handoff is not None and handoff.decision is not None and handoff.stopped is not None
    assert (handoff.stopped.why, handoff.decision.text) == ("blocked", "try again")
    # Notes from before the previous attempt's claim were handed to that attempt already.
    assert [n.text for n in handoff.notes] == ["swapped the disk"]


def test_new_work_has_no_handoff_even_with_a_note(store: Store, workspace: Path) -> None:
    fresh = store.enqueue("Fresh", workspace).run_id  # (PostgreSQL ids may have gaps)
    store.add_note(fresh, text="waiting for the DBA", actor="bob")
    claimed = _claim(store)
    assert claimed.handoff is None  # notes on new work stay in its events and detail
    assert [n.reason for n in store.get_run(claimed.run_id, check_disk=False).notes] == [
        "waiting for the DBA"
    ]


def test_a_note_on_a_parked_run_leaves_its_parking_action(store: Store, workspace: Path) -> None:
    from parkbench.core.store.parked_reads import parking_actions

    parked = _parked(store, workspace)
    store.add_note(parked.run_id, text="looking", actor="bob")
    assert store.read(lambda conn: parking_actions(conn, [parked.run_id])) == {
        parked.run_id: "block"
    }


def test_a_requeue_may_set_the_new_attempts_priority(store: Store, workspace: Path) -> None:
    parked = _parked(store, workspace)
    (result,) = store.requeue([parked.run_id], reason="urgent now", actor="alice", priority=9)
    assert result.ok and result.new_run_id is not None
    new = store.get_run(result.new_run_id, check_disk=False)
    assert new.run.priority == 9
    assert new.events[0].details == {
        "previous_run_id": parked.run_id,
        "attempt_limit_overridden": False,
        "priority": {"from": 3, "to": 9},
    }
    source = store.get_run(parked.run_id, check_disk=False)
    assert source.run.priority == 3
    assert source.events[-1].details["priority"] == {"from": 3, "to": 9}  # type: ignore[index]
    # The same priority as before records nothing.
    again = _parked(store, workspace)
    same = store.get_run(again.run_id, check_disk=False).run.priority
    (kept,) = store.requeue([again.run_id], reason="go", priority=same)
    assert "priority" not in (store.get_run(kept.run_id, check_disk=False).events[-1].details or {})


def test_a_requeue_priority_is_validated(store: Store, workspace: Path) -> None:
    parked = _parked(store, workspace)
    with pytest.raises(ValidationError, match="priority must be between"):
        store.requeue([parked.run_id], reason="go", priority=2**31)
    with pytest.raises(ValidationError, match="applies to a requeue"):
        store.review(Action.FAIL, [parked.run_id], reason="x", priority=1)
    assert store.get_run(parked.run_id, check_disk=False).run.status is RunStatus.NEEDS_ATTENTION
