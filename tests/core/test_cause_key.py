"""runs.cause_key (issue 20 §1): the cause a run is grouped by, written by the move that parks
it, on both backends.

Every move into needs_attention stores the key :func:`parkbench.core.causes.run_cause_key`
computes from the reason (and, for a missing-receipts reason, the contract); every move that
drops the reason drops the key; the causes view reads only the column. The sweep computes
its reasons in SQL, so their key is derived once from the text: checked here over any
values.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from testkit import FakeClock

from parkbench.core.causes import (
    NUMBER,
    CauseKind,
    cause_key,
    cause_of,
    key_parts,
    run_cause_key,
)
from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import runs, tasks
from parkbench.core.store import Store
from parkbench.core.store.sweep import EXPIRE_REASON, RUNTIME_REASON, Piece, reason_key

RECEIPT = "out/run-7/report.json"
CONTRACT = {"completion_contract": {"required_paths": [RECEIPT], "missing_policy": "park"}}


def _render(pieces: tuple[Piece, ...], numbers: list[int]) -> str:
    values = iter(numbers)
    return "".join(piece if isinstance(piece, str) else str(next(values)) for piece in pieces)


@given(st.lists(st.integers(0, 2**63 - 1), min_size=2, max_size=2))
@settings(max_examples=100, deadline=None)
def test_a_sweep_reason_has_one_key_whatever_its_numbers(numbers: list[int]) -> None:
    for pieces in (RUNTIME_REASON, EXPIRE_REASON):
        text = _render(pieces, numbers)
        assert cause_key(text) == reason_key(pieces), text
    assert reason_key(EXPIRE_REASON) == (
        f"r:lease expired on the last attempt ({NUMBER} of {NUMBER}); no attempts left to retry"
    )


def test_the_stored_key_is_the_cause_with_its_kind() -> None:
    assert cause_key(None) is None and key_parts(None) == (CauseKind.NO_REASON, "(no reason given)")
    reason = "missing receipts: " + RECEIPT
    task_md, run_md = json.dumps(CONTRACT), "{}"
    # The contract is read from the stored metadata, the task's or the run's.
    for metadata in ((task_md, run_md), (run_md, task_md)):
        assert run_cause_key(reason, *metadata) == "m:missing receipts: out/run-<n>/report.json"
    assert key_parts(run_cause_key(reason, task_md, run_md)) == cause_of(reason, [RECEIPT])
    # Without a contract naming the path: the worker's own words, a reason like any other.
    assert run_cause_key(reason, "{}", "{}") == "r:missing receipts: <path>"
    assert run_cause_key(reason, '{"completion_contract": 5}', None) == cause_key(reason)
    assert run_cause_key("needs a human", None, None) == "r:needs a human"


# -- on both backends ---------------------------------------------------------------------


def _claimed(store: Store, workspace: Path, **kw: object) -> tuple[int, str]:
    run_id = store.enqueue("t", workspace, **kw).run_id  # type: ignore[arg-type]
    claim = store.claim_next("agent-1", lease_s=60)
    assert claim is not None and claim.run_id == run_id
    return run_id, claim.claim_token


def _stored(store: Store, run_id: int) -> tuple[str, str | None, str | None]:
    """The run's status, cause key, and the key its reason and contract give now."""
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(runs.c.status, runs.c.cause_key, runs.c.block_reason, runs.c.metadata_json)
            .add_columns(tasks.c.metadata_json.label("task_md"))
            .join(tasks, tasks.c.id == runs.c.task_id)
            .where(runs.c.id == run_id)
        ).one()
    return (
        row.status,
        row.cause_key,
        run_cause_key(row.block_reason, row.task_md, row.metadata_json),
    )


def _block(store: Store, workspace: Path, clock: FakeClock) -> int:
    run_id, token = _claimed(store, workspace)
    store.block(run_id, token, reason="disk quota exceeded on runner 7 writing build/a1")
    return run_id


def _block_in_contract_words(store: Store, workspace: Path, clock: FakeClock) -> int:
    # The worker writes completion's words about a path its contract names: that cause.
    run_id, token = _claimed(store, workspace, metadata=CONTRACT)
    store.block(run_id, token, reason="missing receipts: " + RECEIPT)
    return run_id


def _complete_missing(store: Store, workspace: Path, clock: FakeClock) -> int:
    run_id, token = _claimed(store, workspace, metadata=CONTRACT)
    assert store.complete(run_id, token).status is RunStatus.NEEDS_ATTENTION
    return run_id


def _expire_last_attempt(store: Store, workspace: Path, clock: FakeClock) -> int:
    run_id, _ = _claimed(store, workspace, max_attempts=1)
    clock.advance(61)
    assert store.recover_expired().parked == (run_id,)
    return run_id


def _over_runtime(store: Store, workspace: Path, clock: FakeClock) -> int:
    run_id, token = _claimed(store, workspace, max_runtime_s=30)
    clock.advance(5)
    store.heartbeat(run_id, token, lease_s=60)  # still going: the lease reaches the deadline
    clock.advance(30)
    assert store.recover_expired().runtime_parked == (run_id,)
    return run_id


def _undo_requeue(store: Store, workspace: Path, clock: FakeClock) -> int:
    run_id = _block(store, workspace, clock)
    [requeued] = store.requeue([run_id], reason="try again", actor="rita")
    assert requeued.ok
    store.undo_requeue(run_id, reason="wrong run", actor="rita")
    return run_id


PARKS: dict[str, tuple[Callable[[Store, Path, FakeClock], int], CauseKind, str]] = {
    "block": (_block, CauseKind.REASON, f"disk quota exceeded on runner {NUMBER} writing <path>"),
    "block_in_contract_words": (
        _block_in_contract_words,
        CauseKind.MISSING_RECEIPTS,
        "missing receipts: out/run-<n>/report.json",
    ),
    "park_missing": (
        _complete_missing,
        CauseKind.MISSING_RECEIPTS,
        "missing receipts: out/run-<n>/report.json",
    ),
    "expire_park": (
        _expire_last_attempt,
        CauseKind.REASON,
        key_parts(reason_key(EXPIRE_REASON))[1],
    ),
    "runtime_park": (_over_runtime, CauseKind.REASON, key_parts(reason_key(RUNTIME_REASON))[1]),
    "undo_requeue": (
        _undo_requeue,
        CauseKind.REASON,
        f"disk quota exceeded on runner {NUMBER} writing <path>",
    ),
}


@pytest.mark.parametrize("park", list(PARKS))
def test_every_move_that_parks_a_run_stores_its_cause_key(
    store: Store, workspace: Path, clock: FakeClock, park: str
) -> None:
    move, kind, key = PARKS[park]
    run_id = move(store, workspace, clock)
    status, stored, expected = _stored(store, run_id)
    assert status == RunStatus.NEEDS_ATTENTION.value
    assert stored is not None and stored == expected  # what run_cause_key gives its reason
    assert key_parts(stored) == (kind, key)
    (group,) = store.causes().groups  # and the view finds it there
    assert (group.kind, group.key, group.count) == (kind, key, 1)
    assert store.cause_run_ids(group.selector) == (run_id,)


def test_moves_off_the_parked_list_leave_the_key_coherent(
    store: Store, workspace: Path, clock: FakeClock
) -> None:
    requeued, failed, released = (_block(store, workspace, clock) for _ in range(3))
    [result] = store.requeue([requeued], reason="go on", actor="rita")
    assert result.ok and result.new_run_id is not None
    assert store.force_fail([failed], reason="obsolete", actor="rita")[0].ok
    assert store.force_release([released], reason="later", actor="rita")[0].ok
    # The requeued run keeps why it was parked, and so its key; the others drop both.
    status, key, expected = _stored(store, requeued)
    assert status == RunStatus.REQUEUED.value and key is not None and key == expected
    for run_id, gone in ((failed, RunStatus.FAILED), (released, RunStatus.QUEUED)):
        assert _stored(store, run_id) == (gone.value, None, None)
    assert _stored(store, result.new_run_id) == (RunStatus.QUEUED.value, None, None)
    assert store.causes().groups == ()  # none of them is parked
    # Claimed again (the released run, or the requeue's new attempt): no reason, no key.
    claim = store.claim_next("agent-2")
    assert claim is not None
    assert _stored(store, claim.run_id) == (RunStatus.CLAIMED.value, None, None)


def test_an_undo_keys_the_run_it_parks_again(
    store: Store, workspace: Path, clock: FakeClock
) -> None:
    run_id = _block(store, workspace, clock)
    [requeued] = store.requeue([run_id], reason="go on", actor="rita")
    assert requeued.ok
    store.engine.dispose()
    with store.engine.begin() as conn:  # the key is the undo's to write, not a leftover
        conn.execute(runs.update().where(runs.c.id == run_id).values(cause_key=None))
    store.undo_requeue(run_id, reason="wrong run", actor="rita")
    status, key, expected = _stored(store, run_id)
    assert status == RunStatus.NEEDS_ATTENTION.value and key is not None and key == expected
    (group,) = store.causes().groups
    assert group.kind is CauseKind.REASON and store.cause_run_ids(group.selector) == (run_id,)
