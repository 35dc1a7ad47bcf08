"""Issue 15.12: clearing the filter keeps the cursor on the run it was on (that run is
always back in the wider view), whether the filter is cleared in the bar or on the list."""

from __future__ import annotations

import pytest
from tuitest_support import make_app, press, running, settle, type_text


@pytest.mark.parametrize("enter_first", [False, True], ids=["escape-in-bar", "escape-on-list"])
async def test_clearing_the_filter_keeps_the_cursor_run(store, parked, enter_first):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        runs = app.main.runs
        await press(pilot, "slash")
        await type_text(pilot, "index")  # only the second run
        if enter_first:
            await press(pilot, "enter")
        await settle(pilot)
        assert runs.highlighted is not None and runs.highlighted.id == parked[1]
        await press(pilot, "escape")
        await settle(pilot)
        assert [row.id for row in runs.window.rows] == parked
        assert runs.view_query.search == ""
        assert runs.highlighted is not None and runs.highlighted.id == parked[1]
        assert runs.cursor == 1


async def test_erasing_the_filter_text_keeps_the_cursor_run(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        runs = app.main.runs
        await press(pilot, "slash")
        await type_text(pilot, "docs")  # the third run
        await settle(pilot)
        await press(pilot, "ctrl+u")  # the Input's "delete everything left of the cursor"
        await settle(pilot)
        assert runs.view_query.search == ""
        assert runs.highlighted is not None and runs.highlighted.id == parked[2]
