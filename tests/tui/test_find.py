"""Issue 20.3: find and mark faster — the filter language in the bar, its problems under
it, run ids and status: terms, saved filters from the palette, the last view restored,
space/shift+arrows/invert marking and the Priority column."""

from __future__ import annotations

from pathlib import Path

from textual.command import CommandPalette
from tuitest_support import make_app, press, running, screen_text, settle, type_text

from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import Expectation, SortKey
from parkbench.core.store import Store
from parkbench.tui.screens.confirm_modal import ConfirmModal
from parkbench.tui.screens.loading import inverted_marks
from parkbench.tui.screens.name_prompt import NamePrompt
from parkbench.tui.settings import Settings, load_settings, render_settings, store_settings


def listed(app) -> list[int]:  # type: ignore[no-untyped-def]
    window = app.main.runs.window
    return [row.id for row in window.rows]


async def test_fields_phrases_and_problems_in_the_bar(store: Store, parked: list[int]):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "slash")
        await type_text(pilot, 'worker:agent-2 "disk full"')
        await settle(pilot)
        assert listed(app) == [parked[1]]
        note = app.main.filter_note
        assert not note.has_class("-shown")
        # A field it does not know: said under the bar, the list keeps the last filter.
        app.main.filter_bar.insert_text_at_cursor(" wrker:x")  # as pasted: one change
        await settle(pilot)
        assert note.has_class("-shown")
        text = screen_text(app)
        assert "unknown field wrker:" in text and "fields: worker:" in text
        assert listed(app) == [parked[1]]
        await press(pilot, *["backspace"] * len(" wrker:x"))
        await settle(pilot)
        assert not note.has_class("-shown") and listed(app) == [parked[1]]
        await press(pilot, "escape")  # the bar's own escape: cleared, every run back
        await settle(pilot)
        assert listed(app) == parked


async def test_a_run_id_finds_the_run_in_any_status(store: Store, parked: list[int], workspace):
    queued = store.enqueue("Queued work", workspace, actor="ci").run_id
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await press(pilot, "slash")
        await type_text(pilot, f"#{queued}")
        await press(pilot, "enter")
        await settle(pilot)
        query = app.main.runs.view_query
        assert listed(app) == [queued] and query.status is None
        await press(pilot, "s")  # the filter decides the status: s says so, changes nothing
        assert app.main.runs.view_query.status is None
        assert "The filter sets the status" in notices[-1].message
        await press(pilot, "escape")  # the screen's clear-filter
        await settle(pilot)
        assert app.main.runs.view_query.status is RunStatus.NEEDS_ATTENTION
        assert listed(app) == parked
        await press(pilot, "slash")
        await type_text(pilot, "status:queued")
        await settle(pilot)
        assert app.main.runs.view_query.status is RunStatus.QUEUED
        assert listed(app) == [queued]
        assert "view queued" in screen_text(app).splitlines()[1]


async def test_space_marks_and_moves_shift_arrows_mark_a_range(store: Store, parked: list[int]):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        runs = app.main.runs
        await press(pilot, "space")
        assert set(runs.marks) == {parked[0]} and runs.highlighted.id == parked[1]
        await press(pilot, "u", "home", "shift+down", "shift+down")
        assert set(runs.marks) == set(parked) and runs.highlighted.id == parked[2]
        await press(pilot, "shift+up")  # back towards the start: the range shrinks
        assert set(runs.marks) == {parked[0], parked[1]}
        await press(pilot, "shift+up")
        assert set(runs.marks) == {parked[0]}
        await press(pilot, "end", "space", "home", "shift+down", "shift+up")
        assert set(runs.marks) == {parked[0], parked[2]}  # a mark made before the range stays
        assert "marked 2" in screen_text(app)


async def test_invert_marks_in_view_after_confirming(store: Store, parked: list[int]):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        runs = app.main.runs
        await press(pilot, "space")
        await press(pilot, "i")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        assert "Invert the marks of the 3 runs in this view?" in screen_text(app)
        await press(pilot, "y")
        await settle(pilot)
        assert set(runs.marks) == {parked[1], parked[2]}
        assert notices[-1].message == "2 runs now marked"
        await press(pilot, "i")
        await settle(pilot)
        await press(pilot, "n")
        await settle(pilot)
        assert set(runs.marks) == {parked[1], parked[2]}  # "no" leaves them
        await press(pilot, "ctrl+p")  # the palette's command takes the same path
        await type_text(pilot, "invert marks")
        await settle(pilot)
        await press(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "y")
        await settle(pilot)
        assert set(runs.marks) == {parked[0]}


def test_inverting_keeps_marks_out_of_view() -> None:
    mark = Expectation(RunStatus.NEEDS_ATTENTION, 1)
    view = {1: mark, 2: mark, 3: mark}
    assert inverted_marks(view, {2: mark, 9: mark}) == {1: mark, 3: mark, 9: mark}


async def test_priority_is_a_column_wide_or_when_sorted(store: Store, parked: list[int]):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        header = screen_text(app).splitlines()[2]
        assert "Pri" in header and "Blocked▲" in header
        await press(pilot, "o")  # by priority: highest first
        await settle(pilot)
        header = screen_text(app).splitlines()[2]
        assert "Pri▼" in header and "Blocked▲" not in header
        assert listed(app)[0] == parked[1]  # priority 5
        await press(pilot, "O")
        await settle(pilot)
        assert "Pri▲" in screen_text(app).splitlines()[2]
    narrow = make_app(store)
    async with running(narrow, size=(80, 24)) as (pilot, _notices):
        assert "Pri" not in screen_text(narrow).splitlines()[2]
        await press(pilot, "o")
        await settle(pilot)
        assert "Pri▼" in screen_text(narrow).splitlines()[2]


async def test_saved_filters_from_the_palette(store: Store, parked: list[int]):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        names = [name for name, _, _ in app.main.palette_commands()]
        assert "Save filter as…" not in names  # nothing to save yet
        await press(pilot, "slash")
        await type_text(pilot, "worker:agent-3")
        await press(pilot, "enter")
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await type_text(pilot, "save filter")
        await settle(pilot)
        await press(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.screen, NamePrompt)
        await press(pilot, "enter")  # no name: refused, said
        assert isinstance(app.screen, NamePrompt) and "A name is required." in screen_text(app)
        await type_text(pilot, "[b]agent 3")
        await press(pilot, "enter")
        await settle(pilot)
        assert app.settings_state.saved_filters == {"[b]agent 3": "worker:agent-3"}
        assert notices[-1].message == "Filter saved as “[b]agent 3”"
        await press(pilot, "escape")  # the filter cleared: every run back
        await settle(pilot)
        assert listed(app) == parked
        names = [name for name, _, _ in app.main.palette_commands()]
        assert "Filter: \\[b]agent 3" in names  # the palette reads markup: escaped
        await press(pilot, "ctrl+p")
        await type_text(pilot, "Filter: ")
        await settle(pilot)
        await press(pilot, "enter")
        await settle(pilot)
        assert listed(app) == [parked[2]]
        assert app.main.filter_bar.value == "worker:agent-3"
        await press(pilot, "ctrl+p")
        await type_text(pilot, "delete saved")
        await settle(pilot)
        await press(pilot, "enter")
        await settle(pilot)
        assert app.settings_state.saved_filters == {}


async def test_the_last_filter_and_sort_are_restored(store: Store, parked: list[int], tmp_path):
    settings_file = tmp_path / "config" / "settings.toml"
    app = make_app(store, settings_file=settings_file)
    async with running(app) as (pilot, _notices):
        await press(pilot, "slash")
        await type_text(pilot, "workspace:workspace")
        await press(pilot, "enter", "o", "O")
        await settle(pilot)
        await pilot.app.workers.wait_for_complete()
    saved = load_settings(settings_file)
    assert (saved.filter, saved.sort, saved.reverse) == ("workspace:workspace", "priority", True)
    again = make_app(store, settings_file=settings_file)
    async with running(again) as (pilot, _notices):
        query = again.main.runs.view_query
        assert (query.search, query.sort, query.reverse) == (
            "workspace:workspace",
            SortKey.PRIORITY,
            True,
        )
        assert again.main.filter_bar.value == "workspace:workspace"
        assert listed(again)[-1] == parked[1]  # reversed priority: the 5 comes last


def test_settings_round_trip_hostile_text(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    hostile = 'a "quoted" \\ name\n\t\x1b[31m ] = x'
    settings = Settings(
        theme="nord",
        filter='worker:"a b" 100%',
        sort="task",
        reverse=True,
        saved_filters={hostile: hostile, "plain": "#945"},
    )
    store_settings(path, settings)
    assert load_settings(path) == settings
    assert "?" in render_settings(Settings(filter="\ud800"))  # TOML cannot hold a surrogate
    path.write_text('theme = "nord"\n[view]\nsort = 3\n[filters]\nx = 1\ny = "ok"\n')
    assert load_settings(path) == Settings(theme="nord", saved_filters={"y": "ok"})
