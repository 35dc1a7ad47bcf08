"""The run list in the app pages rows in and out: it never holds the whole result."""

from __future__ import annotations

import re

from tuitest_support import make_app, park, press, running, screen_text, settle, wait_until

from parkbench.core.records import RunFilter
from parkbench.tui.screens.main import MainScreen

COUNT = 70


def visible_ids(app) -> list[int]:  # type: ignore[no-untyped-def]
    """Run ids on the list's screen lines (between the column header and the pane)."""
    lines = screen_text(app).splitlines()
    ids = []
    for line in lines[3:]:
        if line.startswith("─"):
            break
        match = re.match(r"^.\s+(\d+) ", line)
        if match:
            ids.append(int(match.group(1)))
    return ids


async def test_scrolling_pages_rows_in_by_key(store, workspace, clock):
    for i in range(COUNT):
        park(store, workspace, f"job {i:03}", f"reason {i}", clock=clock)
    order = [row.id for row in store.list_runs(RunFilter(), limit=1000).rows]
    app = make_app(store, page_size=8, window_rows=48)  # pages of 8, at most 48 rows held
    async with running(app) as (pilot, _notices):
        runs = app.main.runs
        # the first page is one page (8 rows); the next one follows by cursor
        await wait_until(pilot, lambda: len(visible_ids(app)) > 8, what="a screenful of rows")
        assert runs.window.total == COUNT and len(runs.window.rows) <= 48
        shown = visible_ids(app)
        assert shown == order[: len(shown)] and len(shown) > 8

        await press(pilot, "end")
        await settle(pilot)
        assert runs.highlighted.id == order[-1] and runs.cursor == COUNT - 1
        assert runs.window.start > 0 and len(runs.window.rows) <= 48
        assert visible_ids(app) == order[-len(visible_ids(app)) :]

        await press(pilot, "home")
        await settle(pilot)
        assert runs.highlighted.id == order[0]

        for _ in range(4):  # page by page through the list
            await press(pilot, "pagedown")
            await settle(pilot)
            shown = visible_ids(app)
            start = order.index(shown[0])
            assert shown == order[start : start + len(shown)]
            assert runs.highlighted.id == order[runs.cursor]
            assert len(runs.window.rows) <= 48

        for _ in range(3):
            await press(pilot, "up")
        await settle(pilot)
        assert runs.highlighted.id == order[runs.cursor]

        # a scrollbar drag lands far away: the window walks there by key
        runs.scroll_to(y=40, animate=False)
        await settle(pilot)
        shown = visible_ids(app)
        assert shown and shown == order[40 : 40 + len(shown)]
        assert isinstance(app.screen, MainScreen)
