"""Issue 15.4: at any width from 60 columns the header's two lines fit (zero counts
dropped, big counts abbreviated), the status line always shows what is marked and which
status is browsed, and the footer keeps quit and help and never runs under the palette key."""

from __future__ import annotations

import pytest
from tuitest_support import make_app, press, running, screen_text, settle

from parkbench.tui.messages import StatusCounts

BIG = {
    "needs_attention": 104_557,
    "queued": 2_345_678,
    "claimed": 1_200,
    "failed": 88_001,
    "completed": 1_500_000,
    "canceled": 0,
    "requeued": 40_000,
}


def test_short_counts() -> None:
    from parkbench.tui.widgets.status_header import short_count

    assert [short_count(n) for n in (7, 999, 1000, 1234, 9_950, 104_557, 2_345_678)] == [
        "7",
        "999",
        "1.0k",
        "1.2k",
        "9.9k",
        "105k",
        "2.3M",
    ]


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40), (200, 60)])
async def test_header_status_line_and_footer_fit(store, parked, size):
    width, _height = size
    app = make_app(store)
    async with running(app, size=size) as (pilot, _notices):
        await press(pilot, "space", "down", "space")
        app.main.post_message(StatusCounts(dict(BIG)))
        await settle(pilot)
        lines = screen_text(app).splitlines()
        counts, status, columns = lines[0], lines[1], lines[2]
        assert all(len(line) == width for line in lines)
        assert counts.lstrip().startswith("Parkbench") and "parked" in counts
        assert "canceled" not in counts  # a zero count is left out
        assert "view needs attention (3)" in status and "marked 2" in status
        assert "Run" in columns and "Task" in columns  # the list starts on line 3
        footer = lines[-1]
        assert "q Quit" in footer and "? Help" in footer, footer
        assert footer.rstrip().endswith("^p Palette"), footer
        assert footer.count("▏") <= 1


async def test_counts_abbreviate_only_when_the_full_line_does_not_fit(store, parked):
    app = make_app(store)
    async with running(app, size=(200, 30)) as (pilot, _notices):
        app.main.post_message(StatusCounts(dict(BIG)))
        await settle(pilot)
        assert "parked 104,557" in screen_text(app)
    app = make_app(store)
    async with running(app, size=(60, 20)) as (pilot, _notices):
        app.main.post_message(StatusCounts(dict(BIG)))
        await settle(pilot)
        counts = screen_text(app).splitlines()[0]
        assert "parked 105k" in counts and "queued 2.3M" in counts
