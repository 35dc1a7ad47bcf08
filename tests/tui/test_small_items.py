"""Issue 15.15, the smaller items: Enter opens the detail, `r` in read-only mode says why
nothing happens, escape closes Textual's keys panel, the Worker column grows on wide
terminals, an overridden attempt limit reads as such, the sorted column is marked."""

from __future__ import annotations

from textual.widgets import HelpPanel
from tuitest_support import make_app, press, running, screen_text, settle

from parkbench.core.records import SortKey
from parkbench.tui.widgets.detail_pane import DetailPane
from parkbench.tui.widgets.run_columns import layout


async def test_enter_on_a_row_focuses_its_detail(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "down", "enter")
        await settle(pilot)
        assert isinstance(app.focused, DetailPane)
        assert app.main.detail.detail is not None
        assert app.main.detail.detail.run.id == parked[1]


async def test_review_keys_in_read_only_mode_say_why_nothing_happens(store, parked):
    app = make_app(store, read_only=True)
    async with running(app) as (pilot, notices):
        await press(pilot, "r")
        await settle(pilot)
        assert app.screen is app.main
        [notice] = notices
        assert notice.message.startswith("Read-only: reviewing actions are off.")
        assert "--read-only" in notice.message


async def test_escape_closes_the_keys_panel(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        app.action_show_help_panel()
        await settle(pilot)
        assert app.screen.query(HelpPanel)
        await press(pilot, "escape")
        await settle(pilot)
        assert not app.screen.query(HelpPanel)


def test_the_worker_column_grows_on_wide_terminals() -> None:
    narrow = {c.key: c.width for c in layout(120, show_status=False, parked=True)}
    wide = {c.key: c.width for c in layout(200, show_status=False, parked=True)}
    assert wide["worker"] >= 24 > narrow["worker"]


async def test_an_overridden_attempt_limit_reads_as_such(store, workspace):
    first = store.enqueue("Stubborn", workspace, max_attempts=1, actor="ci").run_id
    claim = store.claim_next("agent-1")
    assert claim is not None and claim.run_id == first
    store.block(first, claim.claim_token, reason="stuck")
    [requeued] = store.requeue([first], reason="once more", actor="bob")  # past the limit
    claim = store.claim_next("agent-1")
    assert claim is not None and claim.run_id == requeued.new_run_id
    store.block(claim.run_id, claim.claim_token, reason="still stuck")
    app = make_app(store)
    async with running(app) as (_pilot, _notices):
        text = screen_text(app)
        line = next(line for line in text.splitlines() if "Stubborn" in line)
        assert "2/1" not in line and "2 !1" in line
        assert "attempt 2 (limit 1 overridden)" in text


async def test_the_sorted_column_is_marked(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        header = screen_text(app).splitlines()[2]
        assert "Blocked▲" in header or "▲Blocked" in header
        app.main.show_sort(SortKey.TASK)
        await settle(pilot)
        header = screen_text(app).splitlines()[2]
        assert "Task▲" in header and "Blocked▲" not in header
