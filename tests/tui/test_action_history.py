"""ActionHistory: newest first, bounded in entries and in results per entry, with counts
that always cover every result; which requeues were undone."""

from __future__ import annotations

from parkbench.core.errors import ConflictError
from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.records import ActionResult
from parkbench.tui.action_history import ActionHistory, HistoryEntry


def _entry(action: Action, results: list[ActionResult], keep: int = 200) -> HistoryEntry:
    return HistoryEntry.of(
        action, results, reason="why", actor="alice", started_ms=1, finished_ms=2, keep=keep
    )


def test_a_huge_entry_keeps_its_counts_and_the_failures_first() -> None:
    results = [
        ActionResult(i, ok=True, status=RunStatus.REQUEUED, new_run_id=10_000 + i)
        if i % 10
        else ActionResult(i, ok=False, error=ConflictError(f"run {i} changed"))
        for i in range(5_000)
    ]
    entry = _entry(Action.REQUEUE, results, keep=600)
    assert (entry.requested, entry.ok, entry.failed) == (5_000, 4_500, 500)
    assert entry.codes == {"conflict": 500}
    assert len(entry.results) == 600 and entry.not_kept == 4_400
    # Every failure is kept (500 <= 600), then the first successes, in the order they came.
    assert sum(not r.ok for r in entry.results) == 500
    assert [r.run_id for r in entry.results] == sorted(r.run_id for r in entry.results)
    assert not entry.cancelled and entry.not_reached == 0


def test_entries_are_newest_first_and_bounded() -> None:
    history = ActionHistory(limit=3)
    for run_id in range(5):
        history.add(_entry(Action.FAIL, [ActionResult(run_id, ok=True, status=RunStatus.FAILED)]))
    assert len(history) == 3
    assert [e.results[0].run_id for e in history.entries] == [4, 3, 2]


def test_an_undo_marks_its_requeue_undone_and_no_longer_undoable() -> None:
    history = ActionHistory()
    requeue = _entry(
        Action.REQUEUE,
        [
            ActionResult(1, ok=True, status=RunStatus.REQUEUED, new_run_id=11),
            ActionResult(2, ok=True, status=RunStatus.REQUEUED, new_run_id=12),
            ActionResult(3, ok=False, error=ConflictError("run 3 changed")),
        ],
    )
    history.add(requeue)
    assert [r.run_id for r in history.undoable(requeue)] == [1, 2]
    undo = _entry(
        Action.UNDO_REQUEUE,
        [
            ActionResult(1, ok=True, status=RunStatus.NEEDS_ATTENTION, new_run_id=11),
            ActionResult(2, ok=False, error=ConflictError("run 12 was claimed already")),
        ],
    )
    history.add(undo)
    assert history.undone(11) and not history.undone(12)
    assert [r.run_id for r in history.undoable(requeue)] == [2]
    assert history.undoable(undo) == ()  # only requeues are undone
