"""Review actions from the keyboard: the reason modal, results per run, conflicts."""

from __future__ import annotations

from textual.widgets import Input, Static, TextArea
from tuitest_support import make_app, park, press, running, screen_text, settle, type_text

from parkbench.core.lifecycle import RunStatus
from parkbench.tui.screens.main import MainScreen
from parkbench.tui.screens.reason_modal import ReasonModal


def status_of(store, run_id: int) -> RunStatus:
    return store.get_run(run_id, check_disk=False).run.status


async def test_requeue_confirm(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await press(pilot, "r")
        modal = app.screen
        assert isinstance(modal, ReasonModal)
        assert modal.title_text == f"Requeue run {parked[0]}"
        shown = screen_text(app)
        assert "Touches 1 run" in shown
        # The requeue's reason is the agent's answer, and the prompt says so.
        assert "answer handed to the next attempt" in shown
        assert modal.query_one(TextArea).placeholder.startswith("Answer for the next attempt")
        await type_text(pilot, "key added")
        await press(pilot, "ctrl+s")  # the answer takes several lines: Enter is a new line
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        detail = store.get_run(parked[0], check_disk=False)
        assert detail.run.status is RunStatus.REQUEUED
        assert detail.events[-1].actor == "alice" and detail.events[-1].reason == "key added"
        [notice] = notices
        assert notice.message.startswith(f"1 requeued (run {parked[0]} → new run ")
        assert notice.severity == "information" and notice.markup is False
        # the list follows: two parked runs left, the cursor on the next one
        assert app.main.runs.window.total == 2
        assert app.main.runs.highlighted.id == parked[1]


async def test_fail_and_release(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await press(pilot, "f")
        assert app.screen.title_text == f"Fail run {parked[0]}"
        assert "answer handed" not in screen_text(app)  # only a requeue hands anything on
        await type_text(pilot, "not worth it")
        await press(pilot, "enter")
        await settle(pilot)
        assert status_of(store, parked[0]) is RunStatus.FAILED
        assert app.main.runs.highlighted.id == parked[1]
        await press(pilot, "l")
        assert app.screen.title_text == f"Release run {parked[1]}"
        await type_text(pilot, "disk cleaned")
        await press(pilot, "enter")
        await settle(pilot)
        assert status_of(store, parked[1]) is RunStatus.QUEUED
        assert [n.message for n in notices] == ["1 failed", "1 released"]


async def test_escape_cancels(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        before = store.change_marker()
        await press(pilot, "r")
        await type_text(pilot, "never mind")
        await press(pilot, "escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert store.change_marker() == before
        assert status_of(store, parked[0]) is RunStatus.NEEDS_ATTENTION
        assert notices == []


async def test_empty_reason_is_refused_in_the_modal(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        before = store.change_marker()
        await press(pilot, "f")
        await press(pilot, "enter")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, ReasonModal)
        error = modal.query_one("#reason-error", Static)
        assert error.display and "A reason is required" in screen_text(app)
        await type_text(pilot, "   ")
        await press(pilot, "ctrl+s")  # ctrl+s sends in every prompt, and is refused alike
        await pilot.pause()
        assert app.screen is modal
        assert modal.query_one(Input).value == "   "
        await press(pilot, "escape")
        await settle(pilot)
        assert store.change_marker() == before


async def test_conflict_when_the_run_changes_while_the_modal_is_open(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await press(pilot, "r")
        # Another reviewer acts on the same run before this one confirms.
        [other] = store.force_release([parked[0]], reason="mine now", actor="bob")
        assert other.ok
        await type_text(pilot, "retry")
        await press(pilot, "ctrl+s")
        await settle(pilot)
        [notice] = notices
        assert notice.severity == "error"
        assert notice.message.startswith(f"1 conflict: run {parked[0]} changed since you looked")
        assert "release by bob" in notice.message
        # never a silent overwrite: bob's release stands
        assert status_of(store, parked[0]) is RunStatus.QUEUED


async def test_conflict_on_a_stale_screen(store, parked):
    app = make_app(store)  # no live updates: the screen still shows what it loaded
    async with running(app) as (pilot, notices):
        store.force_fail([parked[0]], reason="gone", actor="carol")
        await press(pilot, "l")
        await type_text(pilot, "put back")
        await press(pilot, "enter")
        await settle(pilot)
        [notice] = notices
        assert "1 conflict" in notice.message and "fail by carol" in notice.message
        assert status_of(store, parked[0]) is RunStatus.FAILED
        # the list refreshed after the action: the failed run is gone from it
        assert parked[0] not in [row.id for row in app.main.runs.window.rows]


async def test_bulk_action_reports_each_run(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await press(pilot, "space", "space", "space")  # each marks and moves on
        assert set(app.main.runs.marks) == set(parked)
        assert "marked 3" in screen_text(app)
        store.force_fail([parked[1]], reason="broken", actor="bob")
        await press(pilot, "r")
        await settle(pilot)  # the marked runs' block reasons are counted first
        assert app.screen.title_text == "Requeue 3 marked runs"
        await type_text(pilot, "batch retry")
        await press(pilot, "ctrl+s")
        await settle(pilot)
        [notice] = notices
        assert notice.message.startswith(
            f"2 requeued, 1 conflict: run {parked[1]} changed since you looked: fail by bob"
        )
        assert notice.severity == "warning"
        assert status_of(store, parked[0]) is RunStatus.REQUEUED
        assert status_of(store, parked[1]) is RunStatus.FAILED
        assert status_of(store, parked[2]) is RunStatus.REQUEUED
        assert app.main.runs.marks == {}


async def test_marked_runs_in_another_state_are_skipped(store, parked):
    store.force_release([parked[1]], reason="back to queue", actor="bob")
    app = make_app(store)
    async with running(app) as (pilot, notices):
        # Marks belong to a status view: mark both in "all statuses" (7 presses of `s`).
        await press(pilot, *["s"] * 7)
        await settle(pilot)
        assert app.main.runs.view_query.status is None
        for run_id in (parked[0], parked[1]):
            while app.main.runs.highlighted.id != run_id:
                await press(pilot, "down")
            await press(pilot, "space")
        # requeue is only valid for the parked one: the modal says one is skipped
        await press(pilot, "r")
        assert app.screen.title_text == "Requeue 1 marked run"
        assert "1 marked run skipped" in screen_text(app)
        await press(pilot, "escape")
        # fail is valid for both
        await press(pilot, "f")
        assert app.screen.title_text == "Fail 2 marked runs"
        await type_text(pilot, "stop")
        await press(pilot, "enter")
        await settle(pilot)
        assert notices[-1].message == "2 failed"


async def test_list_keeps_filter_and_cursor_after_an_action(store, workspace, clock):
    ids = [
        park(store, workspace, f"{word} task", "why", clock=clock)
        for word in ("zebra", "other", "zebra", "zebra", "other", "zebra")
    ]
    kept = [ids[0], ids[2], ids[3], ids[5]]
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "slash")
        await type_text(pilot, "zebra")
        await press(pilot, "enter")
        await settle(pilot)
        assert [row.id for row in app.main.runs.window.rows] == kept
        await press(pilot, "down", "down")
        await settle(pilot)
        assert app.main.runs.highlighted.id == kept[2]
        await press(pilot, "r")
        await type_text(pilot, "go")
        await press(pilot, "ctrl+s")
        await settle(pilot)
        runs = app.main.runs
        assert runs.view_query.search == "zebra"
        assert [row.id for row in runs.window.rows] == [kept[0], kept[1], kept[3]]
        assert runs.cursor == 2 and runs.highlighted.id == kept[3]
