"""Filter, sort, status browsing, marks, help, palette, read-only and quit."""

from __future__ import annotations

from textual.command import CommandPalette
from tuitest_support import (
    make_app,
    park,
    press,
    running,
    screen_text,
    settle,
    type_text,
    wait_until,
)

from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import SortKey
from parkbench.core.store import Store
from parkbench.tui.screens.confirm_modal import ConfirmModal
from parkbench.tui.screens.help import HelpScreen
from parkbench.tui.screens.main import MainScreen
from parkbench.tui.screens.reason_modal import ReasonModal
from parkbench.tui.widgets.filter_bar import FilterBar
from parkbench.tui.widgets.run_list import RunList


def listed(app) -> list[int]:
    return [row.id for row in app.main.runs.window.rows]


def footer_line(app) -> str:
    return screen_text(app).splitlines()[-1]


async def test_filter_escape_and_enter(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "slash")
        assert isinstance(app.focused, FilterBar)
        await type_text(pilot, "index")
        await settle(pilot)
        assert listed(app) == [parked[1]]
        assert "filter “index”" in screen_text(app)
        await press(pilot, "escape")  # in the bar: clears and gives focus back
        await settle(pilot)
        assert isinstance(app.focused, RunList)
        assert listed(app) == parked and app.main.runs.view_query.search == ""
        # Enter keeps the filter; Escape on the list clears it
        await press(pilot, "slash")
        await type_text(pilot, "locale")  # matches a reason
        await press(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.focused, RunList)
        assert listed(app) == [parked[2]]
        assert "Esc Clear filter" in footer_line(app) or "esc Clear filter" in footer_line(app)
        await press(pilot, "escape")
        await settle(pilot)
        assert listed(app) == parked
        await press(pilot, "slash")
        await type_text(pilot, "agent-1")  # matches a worker
        await settle(pilot)
        assert listed(app) == [parked[0]]


async def test_sort_cycle_keeps_the_cursor_on_its_run(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        runs = app.main.runs
        await press(pilot, "end")
        await settle(pilot)
        assert runs.highlighted.id == parked[2]
        await press(pilot, "o")
        await settle(pilot)
        assert runs.view_query.sort is SortKey.PRIORITY
        assert listed(app) == [parked[1], parked[0], parked[2]]  # priority 5 first
        assert runs.highlighted.id == parked[2]
        assert "sort priority" in screen_text(app)
        await press(pilot, "o")
        await settle(pilot)
        assert runs.view_query.sort is SortKey.TASK and "sort task" in screen_text(app)
        assert runs.highlighted.id == parked[2]
        await press(pilot, "o")
        await settle(pilot)
        assert runs.view_query.sort is SortKey.BLOCKED


async def test_reverse_sort_reads_the_list_the_other_way(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        runs = app.main.runs
        assert listed(app) == parked and runs.highlighted.id == parked[0]
        assert "Blocked▲" in screen_text(app)
        await press(pilot, "O")
        await settle(pilot)
        assert runs.view_query.reverse and runs.view_query.sort is SortKey.BLOCKED
        assert listed(app) == parked[::-1]  # most recently blocked first
        assert runs.highlighted.id == parked[0]  # the cursor stays on its run
        shown = screen_text(app)
        assert "sort blocked time (reversed)" in shown and "Blocked▼" in shown
        await press(pilot, "o")  # another sort keeps the direction
        await settle(pilot)
        assert runs.view_query.sort is SortKey.PRIORITY and runs.view_query.reverse
        assert listed(app) == [parked[2], parked[0], parked[1]]  # priority 5 last
        await press(pilot, "O")
        await settle(pilot)
        assert not runs.view_query.reverse
        assert listed(app) == [parked[1], parked[0], parked[2]]
        assert "(reversed)" not in screen_text(app)


async def test_status_switch_offers_only_valid_actions(store, parked):
    store.force_release([parked[1]], reason="back", actor="bob")
    store.force_fail([parked[2]], reason="no", actor="bob")
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        main = app.main
        assert [main.check_action(a, ()) for a in ("requeue", "fail", "release")] == [
            True,
            True,
            True,
        ]
        await press(pilot, "s")  # queued
        await settle(pilot)
        assert main.runs.view_query.status is RunStatus.QUEUED and listed(app) == [parked[1]]
        assert "view queued (1)" in screen_text(app)
        assert [main.check_action(a, ()) for a in ("requeue", "fail", "release")] == [
            False,
            True,
            False,
        ]
        footer = footer_line(app)
        assert "Fail" in footer and "Requeue" not in footer and "Release" not in footer
        await press(pilot, "r")  # not offered: nothing opens
        assert isinstance(app.screen, MainScreen)
        await press(pilot, "s", "s")  # claimed, then failed
        await settle(pilot)
        assert main.runs.view_query.status is RunStatus.FAILED and listed(app) == [parked[2]]
        assert not any(main.check_action(a, ()) for a in ("requeue", "fail", "release"))
        await press(pilot, "f")
        assert isinstance(app.screen, MainScreen)
        for _ in range(4):  # completed, canceled, requeued, all statuses
            await press(pilot, "s")
        await settle(pilot)
        assert main.runs.view_query.status is None
        assert sorted(listed(app)) == sorted(parked)
        assert "Status" in screen_text(app).splitlines()[2]  # the status column appears
        await press(pilot, "s")
        await settle(pilot)
        assert main.runs.view_query.status is RunStatus.NEEDS_ATTENTION


async def test_marks_and_mark_all_after_a_filter(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        runs = app.main.runs
        await press(pilot, "space")
        assert set(runs.marks) == {parked[0]}
        assert runs.highlighted.id == parked[1]  # space moves on to the next run
        await press(pilot, "up", "space")
        assert runs.marks == {}
        await press(pilot, "slash")
        await type_text(pilot, "locale")
        await press(pilot, "enter")
        await settle(pilot)
        await press(pilot, "a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        assert "Mark all 1 run in this view?" in screen_text(app)
        await press(pilot, "y")
        await settle(pilot)
        assert set(runs.marks) == {parked[2]}
        assert notices[-1].message == "1 run marked"
        # marks survive clearing the filter; the header counts them
        await press(pilot, "escape")
        await settle(pilot)
        assert "marked 1" in screen_text(app)
        await press(pilot, "a")
        await settle(pilot)
        assert "Mark all 3 runs in this view?" in screen_text(app)
        await press(pilot, "n")
        await settle(pilot)
        assert set(runs.marks) == {parked[2]}
        await press(pilot, "a")
        await settle(pilot)
        await press(pilot, "enter")
        await settle(pilot)
        assert set(runs.marks) == set(parked)
        await press(pilot, "u")
        assert runs.marks == {}


async def test_help_lists_bindings_with_ids(store, parked):
    app = make_app(store, keymap={"run-requeue": "R"})
    async with running(app) as (pilot, _notices):
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)  # what is visible: every binding, none scrolled away
        for expected in (
            "run-requeue",
            "run-fail",
            "run-release",
            "run-mark",
            "filter",
            "sort-cycle",
            "status-cycle",
            "filter-ready",
            "help",
            "quit",
        ):
            assert expected in text
        assert all(row.binding_id in text for row in app.help_rows())
        requeue = next(line for line in text.splitlines() if "run-requeue" in line)
        assert " R " in requeue  # the keymap's key, not the default
        await press(pilot, "escape")
        assert isinstance(app.screen, MainScreen)
        await press(pilot, "f1")
        assert isinstance(app.screen, HelpScreen)
        await press(pilot, "f1")
        assert isinstance(app.screen, MainScreen)


async def test_help_stacks_its_columns_on_a_narrow_terminal(store, parked):
    app = make_app(store)
    async with running(app, size=(80, 30)) as (pilot, _notices):
        await press(pilot, "question_mark")
        await settle(pilot)
        columns = app.screen.query_one("#help-columns")
        assert columns.has_class("-stacked")  # side by side, every row would fold
        assert "Review" in screen_text(app) and "help-close" not in screen_text(app)
        await press(pilot, "end")  # the help scrolls: the last section comes into view
        await wait_until(pilot, lambda: "help-close" in screen_text(app), what="scrolled")
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        assert not columns.has_class("-stacked")
        text = screen_text(app)
        assert all(row.binding_id in text for row in app.help_rows())


async def test_palette_runs_actions_by_name(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        names = [name for name, _, _ in app.main.palette_commands()]
        assert f"Requeue run {parked[0]}" in names and "Sort by priority" in names
        assert "Show queued" in names and "Show needs attention" not in names
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await type_text(pilot, "requeue run")
        await settle(pilot)
        await press(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.screen, ReasonModal)
        assert app.screen.title_text == f"Requeue run {parked[0]}"
        await press(pilot, "escape")
        await press(pilot, "ctrl+p")
        await type_text(pilot, "show queued")
        await settle(pilot)
        await press(pilot, "enter")
        await settle(pilot)
        assert app.main.runs.view_query.status is RunStatus.QUEUED


async def test_read_only_hides_every_action(store, parked):
    app = make_app(store, read_only=True)
    async with running(app) as (pilot, _notices):
        before = store.change_marker()
        footer = footer_line(app)
        for label in ("Requeue", "Fail", "Release", "Mark"):
            assert label not in footer
        assert "read-only" in screen_text(app)
        for key in ("r", "f", "l", "a", "space"):
            await press(pilot, key)
            await settle(pilot)
            assert isinstance(app.screen, MainScreen)
        assert app.main.runs.marks == {}
        names = " ".join(name for name, _, _ in app.main.palette_commands())
        assert "Requeue" not in names and "Mark" not in names and "Fail" not in names
        assert store.change_marker() == before


async def test_q_quits(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "q")
    assert app.return_value == 0


async def test_ctrl_r_refreshes_without_a_live_feed(store, workspace, clock, parked):
    app = make_app(store)  # live updates off: only the refresh key reloads
    async with running(app) as (pilot, _notices):
        store.force_fail([parked[0]], reason="elsewhere", actor="bob")
        late = park(store, workspace, "Late arrival", "blocked", clock=clock)
        await settle(pilot)
        assert listed(app) == parked
        await press(pilot, "ctrl+r")
        await settle(pilot)
        assert listed(app) == [parked[1], parked[2], late]
        assert "parked 3" in screen_text(app) and "failed 1" in screen_text(app)


async def test_confirm_escape_cancels_mark_all(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and app.main.runs.marks == {}


def test_run_app_opens_the_store_and_runs(db_url, monkeypatch):
    from parkbench.tui import app as app_module

    seen = {}

    def fake_run(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen["read_only"] = self.read_only
        seen["url"] = self.store.url
        return 0

    monkeypatch.setattr(app_module.ParkbenchApp, "run", fake_run)
    Store.open(db_url).close()  # the app never creates a database (issue 15.7)
    assert app_module.run_app(db_url, read_only=True) == 0
    assert seen["read_only"] is True and seen["url"].split("://")[0] in db_url
