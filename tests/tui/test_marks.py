"""Issues 15.2 and 15.6: marks belong to a status view, runs that leave the view leave the
marks, and the action dialog names every listed run by its title, loaded or not."""

from __future__ import annotations

from textual.pilot import Pilot
from tuitest_support import make_app, park, press, running, screen_text, settle

from parkbench.core.store import Store
from parkbench.tui.app import ParkbenchApp
from parkbench.tui.messages import StoreChanged

ALL_STATUSES = 7  # presses of `s` from needs_attention to "all statuses"


async def cursor_to(pilot: Pilot, app: ParkbenchApp, run_id: int) -> None:
    runs = app.main.runs
    for _ in range(runs.window.total):
        if runs.highlighted is not None and runs.highlighted.id == run_id:
            return
        await press(pilot, "down")
    raise AssertionError(f"run {run_id} is not listed")


async def test_switching_status_view_clears_the_marks(store: Store, parked, workspace):
    queued = store.enqueue("Queued work", workspace, actor="ci").run_id
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await press(pilot, "space", "down", "space")
        assert "marked 2" in screen_text(app)
        await press(pilot, "s")  # the queued view
        await settle(pilot)
        assert app.main.runs.marks == {}
        assert "marked" not in screen_text(app).splitlines()[1]
        assert notices[-1].message == "2 marks cleared: marks belong to a status view"
        assert app.main.runs.highlighted.id == queued
        await press(pilot, "f")  # the dialog is about the cursor's run only
        assert app.screen.title_text == f"Fail run {queued}"
        assert "Touches 1 run." in screen_text(app)


async def test_marked_runs_that_leave_the_view_drop_out_of_the_marks(store: Store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "space", "space", "space")  # each marks and moves on
        assert "marked 3" in screen_text(app)
        # Another reviewer acts on two of them; the change feed says which.
        store.requeue([parked[0]], reason="elsewhere", actor="bob")
        app.post_message(StoreChanged(frozenset({parked[0]}), False))
        await settle(pilot)
        assert set(app.main.runs.marks) == {parked[1], parked[2]}
        assert "marked 2" in screen_text(app)
        store.force_fail([parked[1]], reason="elsewhere", actor="bob")
        await press(pilot, "ctrl+r")  # a full reload checks every mark
        await settle(pilot)
        assert set(app.main.runs.marks) == {parked[2]}
        assert "marked 1" in screen_text(app)


async def test_marks_in_all_statuses_view_keep_runs_of_every_status(store: Store, parked):
    store.force_release([parked[1]], reason="back to queue", actor="bob")
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, *["s"] * ALL_STATUSES)
        await settle(pilot)
        assert app.main.runs.view_query.status is None
        await cursor_to(pilot, app, parked[0])
        await press(pilot, "space")
        await cursor_to(pilot, app, parked[1])
        await press(pilot, "space")
        app.post_message(StoreChanged(frozenset({parked[1]}), False))
        await settle(pilot)
        assert set(app.main.runs.marks) == {parked[0], parked[1]}
        await press(pilot, "r")  # only the parked one can be requeued
        assert app.screen.title_text == "Requeue 1 marked run"
        assert "1 marked run skipped" in screen_text(app)


async def test_the_dialog_shows_titles_of_marked_runs_never_loaded(store: Store, workspace):
    ids = [park(store, workspace, f"Task number {n:03}", "stuck") for n in range(150)]
    app = make_app(store, page_size=10, window_rows=30)
    async with running(app) as (pilot, _notices):
        await press(pilot, "space")  # the first run, on screen
        marks = app.main.runs.marks
        # Mark-all's path, with the far end of the list never loaded: marks the last runs.
        app.main.runs.set_marks({run_id: marks[ids[0]] for run_id in ids[-3:]})
        await settle(pilot)
        assert all(app.main.runs.window.index_of(run_id) is None for run_id in ids[-3:])
        await press(pilot, "f")
        await settle(pilot)
        text = screen_text(app)
        assert app.screen.title_text == "Fail 4 marked runs"
        for n in (0, 147, 148, 149):
            assert f"Task number {n:03}" in text, (n, text)
