"""The action history screen (``h``): this session's actions and their per-run results,
conflicts included; undo of a requeue whose new run has not started (``u``); the palette."""

from __future__ import annotations

from textual.command import CommandPalette
from tuitest_support import make_app, press, running, screen_text, settle, type_text

from parkbench.core.lifecycle import Action, RunStatus
from parkbench.tui.screens.history import HistoryScreen
from parkbench.tui.screens.main import MainScreen
from parkbench.tui.screens.reason_modal import ReasonModal


def status_of(store, run_id: int) -> RunStatus:
    return store.get_run(run_id, check_disk=False).run.status


async def act(pilot, key: str, reason: str) -> None:
    await press(pilot, key)
    assert isinstance(pilot.app.screen, ReasonModal)
    await type_text(pilot, reason)
    await press(pilot, "ctrl+s")
    await settle(pilot)


async def test_history_lists_actions_newest_first_with_each_result(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await act(pilot, "r", "key added")
        await act(pilot, "f", "not worth it")
        [failed, requeued] = app.action_history.entries
        assert (failed.action, requeued.action) == (Action.FAIL, Action.REQUEUE)
        assert (requeued.reason, requeued.actor, requeued.ok, requeued.failed) == (
            "key added", "alice", 1, 0,
        )  # fmt: skip
        new_run = requeued.results[0].new_run_id
        await press(pilot, "h")
        assert isinstance(app.screen, HistoryScreen)
        shown = screen_text(app)
        assert "Action history" in shown
        assert shown.index("Fail") < shown.index("Requeue")  # newest first
        assert "1 run: 1 ok  by alice: “not worth it”" in shown
        assert f"run {parked[1]}  failed" in shown  # the highlighted (newest) entry's results
        await press(pilot, "down")
        shown = screen_text(app)
        assert f"run {parked[0]}  requeued → new run {new_run}" in shown
        assert "u undoes the requeue of 1 run" in shown
        await press(pilot, "escape")
        assert isinstance(app.screen, MainScreen)
        await press(pilot, "h")
        assert isinstance(app.screen, HistoryScreen)
        await press(pilot, "h")  # h closes it as well
        assert isinstance(app.screen, MainScreen)


async def test_a_conflict_stays_readable_in_the_history(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await press(pilot, "r")
        # Another reviewer acts on the run while the modal is open.
        assert store.force_fail([parked[0]], reason="elsewhere", actor="bob")[0].ok
        await type_text(pilot, "key added")
        await press(pilot, "ctrl+s")
        await settle(pilot)
        assert notices[-1].severity == "error"
        await press(pilot, "h")
        shown = screen_text(app)
        assert "1 run: 0 ok, 1 conflict" in shown
        assert f"run {parked[0]}  conflict: run {parked[0]} changed since you looked" in shown
        assert "u undoes" not in shown
        assert app.screen.check_action("undo", ()) is False


async def test_undo_a_requeue_whose_new_run_is_still_queued(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await act(pilot, "r", "key added")
        [requeued] = app.action_history.entries
        new_run = requeued.results[0].new_run_id
        await press(pilot, "h")
        assert app.screen.check_action("undo", ()) is True
        await press(pilot, "u")
        modal = app.screen
        assert isinstance(modal, ReasonModal)
        assert modal.title_text == f"Undo the requeue of run {parked[0]}"
        assert f"new run {new_run} → canceled" in screen_text(app)
        await type_text(pilot, "wrong run")
        await press(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        assert status_of(store, parked[0]) is RunStatus.NEEDS_ATTENTION
        assert status_of(store, new_run) is RunStatus.CANCELED
        last = store.get_run(parked[0], check_disk=False).events[-1]
        assert (last.action, last.actor, last.reason) == ("undo_requeue", "alice", "wrong run")
        assert notices[-1].message == "1 undone" and notices[-1].markup is False
        [undo, _] = app.action_history.entries
        assert undo.action is Action.UNDO_REQUEUE and undo.ok == 1
        shown = screen_text(app)
        assert f"run {parked[0]}  needs_attention again · new run {new_run} canceled" in shown
        await press(pilot, "down")  # the requeue: marked undone, no second undo offered
        assert "(undone: the new run was canceled)" in screen_text(app)
        assert app.screen.check_action("undo", ()) is False
        before = store.change_marker()
        await press(pilot, "u")
        assert isinstance(app.screen, HistoryScreen) and store.change_marker() == before
        # Back on the review screen the run is parked again, in the list.
        await press(pilot, "escape")
        await settle(pilot)
        assert parked[0] in [row.id for row in app.main.runs.window.rows]


async def test_undo_after_a_worker_claimed_the_new_run_is_a_conflict(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await act(pilot, "r", "key added")
        new_run = app.action_history.entries[0].results[0].new_run_id
        claim = store.claim_next("agent-9")
        assert claim is not None and claim.run_id == new_run
        await press(pilot, "h", "u")
        await type_text(pilot, "wrong run")
        await press(pilot, "enter")
        await settle(pilot)
        assert status_of(store, new_run) is RunStatus.CLAIMED
        assert status_of(store, parked[0]) is RunStatus.REQUEUED
        assert notices[-1].severity == "error" and "1 conflict" in notices[-1].message
        shown = screen_text(app)
        assert "1 run: 0 ok, 1 conflict" in shown
        assert f"new run {new_run} was claimed already by agent-9" in shown


async def test_undo_is_off_in_read_only_mode(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await act(pilot, "r", "key added")
        app.main.read_only = True  # as if opened read-only after acting elsewhere
        await press(pilot, "h")
        assert app.screen.check_action("undo", ()) is False
        names = [name for name, _, _ in app.screen.palette_commands()]
        assert "Undo requeue" not in names


async def test_palette_opens_the_history_and_undoes(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        names = [name for name, _, _ in app.main.palette_commands()]
        assert "Action history" in names
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await type_text(pilot, "action history")
        await settle(pilot)
        await press(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        assert "No actions yet in this session." in screen_text(app)
        names = [name for name, _, _ in app.screen.palette_commands()]
        assert "Undo requeue" not in names and "Back to the review" in names
        await press(pilot, "escape")
        await act(pilot, "r", "key added")
        await press(pilot, "h")
        assert "Undo requeue" in [name for name, _, _ in app.screen.palette_commands()]
        await press(pilot, "ctrl+p")
        await type_text(pilot, "undo requeue")
        await settle(pilot)
        await press(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.screen, ReasonModal)
        assert app.screen.title_text == f"Undo the requeue of run {parked[0]}"
