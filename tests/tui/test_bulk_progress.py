"""Issue 17.3: a bulk action shows its progress, stops between batches on `x` (binding
action-stop) or the palette, keeps its results in app.action_history, and the runs it
skipped can be listed (palette: "Skipped runs of the last action")."""

from __future__ import annotations

import threading

from textual.command import CommandPalette
from tuitest_support import make_app, press, running, screen_text, settle, type_text, wait_until

from parkbench.core.lifecycle import Action, RunStatus
from parkbench.tui.screens import loading
from parkbench.tui.screens.actions import SKIPPED_COMMAND
from parkbench.tui.screens.history import HistoryScreen
from parkbench.tui.screens.main import MainScreen


def status_of(store, run_id: int) -> RunStatus:  # type: ignore[no-untyped-def]
    return store.get_run(run_id, check_disk=False).run.status


def _gated(store, monkeypatch):  # type: ignore[no-untyped-def]
    """Batches of one run; each store call waits for ``gate`` (the action is mid-batch)."""
    gate, entered = threading.Event(), threading.Event()
    real = store.review

    def review(*args, **kwargs):  # type: ignore[no-untyped-def]
        entered.set()
        assert gate.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "review", review)
    monkeypatch.setattr(loading, "ACTION_BATCH", 1)
    return gate, entered


async def _requeue_all(pilot, reason: str) -> None:  # type: ignore[no-untyped-def]
    await press(pilot, "a")
    await settle(pilot)
    await press(pilot, "y")  # mark all
    await settle(pilot)
    await press(pilot, "r")
    await settle(pilot)  # the marked runs' block reasons are counted first
    await type_text(pilot, reason)
    await press(pilot, "ctrl+s")


async def test_progress_shows_and_x_stops_between_batches(store, parked, monkeypatch):
    gate, entered = _gated(store, monkeypatch)
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await _requeue_all(pilot, "batch retry")
        await wait_until(pilot, entered.is_set, 10, "the first batch to start")
        main = app.main
        assert main.progress.running
        assert "Requeue 3 marked runs: 0 of 3" in screen_text(app)
        assert "Stop" in screen_text(app)  # the footer offers the key while it runs
        names = [name for name, _, _ in main.palette_commands()]
        assert "Stop the bulk action" in names
        await press(pilot, "x")
        assert "stopping after this batch" in screen_text(app)
        assert not main.check_action("stop_action", ())  # asked once: nothing more to stop
        gate.set()
        await wait_until(pilot, lambda: not main.progress.running, 10, "the action to end")
        await settle(pilot)
        assert app.is_running and isinstance(app.screen, MainScreen)
    [notice] = [n for n in notices if n.title == "Requeue"]
    assert notice.message.startswith("1 requeued"), notice.message
    assert "stopped: 2 not reached, left as they were" in notice.message
    assert notice.severity == "warning"
    record = app.action_history.latest
    assert record is not None and record.action is Action.REQUEUE
    assert (record.reason, record.requested, len(record.results), record.cancelled) == (
        "batch retry",
        3,
        1,
        True,
    )
    assert record.not_reached == 2
    statuses = [status_of(store, run_id) for run_id in parked]
    assert statuses.count(RunStatus.REQUEUED) == 1, statuses
    assert statuses.count(RunStatus.NEEDS_ATTENTION) == 2, statuses


async def test_each_batch_updates_the_counts_and_unmarks_its_runs(store, parked, monkeypatch):
    gate, entered = _gated(store, monkeypatch)
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await _requeue_all(pilot, "one by one")
        await wait_until(pilot, entered.is_set, 10, "the first batch to start")
        progress = app.main.progress
        gate.set()
        await wait_until(pilot, lambda: not progress.running, 10, "the action to end")
        await settle(pilot)
        assert (progress.reached, progress.done, progress.skipped) == (3, 3, 0)
        assert app.main.runs.marks == {}
        assert app.main.header.state.counts is not None
        assert app.main.header.state.counts.get("needs_attention", 0) == 0
        assert not app.main.check_action("stop_action", ())


async def test_skipped_runs_are_kept_and_listed_from_the_palette(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await press(pilot, "a")
        await settle(pilot)
        await press(pilot, "y")
        await settle(pilot)
        store.force_fail([parked[1]], reason="broken", actor="bob")  # after it was marked
        await press(pilot, "r")
        await settle(pilot)
        await type_text(pilot, "batch retry")
        await press(pilot, "ctrl+s")
        await settle(pilot)
        [notice] = [n for n in notices if n.title == "Requeue"]
        assert notice.message.startswith("2 requeued, 1 skipped: changed since you looked\n")
        assert f"“{SKIPPED_COMMAND}”" in notice.message
        record = app.action_history.latest
        assert record is not None and len(app.action_history) == 1
        assert record.ok == 2 and [r.run_id for r in record.skipped] == [parked[1]]
        assert record.codes == {"conflict": 1}
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await type_text(pilot, "skipped runs")
        await settle(pilot)
        await press(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        text = screen_text(app)
        assert f"run {parked[1]}" in text and "fail by bob" in text
        await press(pilot, "escape")
        assert isinstance(app.screen, MainScreen)


async def test_no_skipped_runs_no_palette_entry(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "r")
        await type_text(pilot, "retry")
        await press(pilot, "ctrl+s")
        await settle(pilot)
        assert app.action_history.latest is not None
        names = [name for name, _, _ in app.main.palette_commands()]
        assert SKIPPED_COMMAND not in names and "Stop the bulk action" not in names
