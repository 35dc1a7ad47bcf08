"""The review app while the receipt watcher's first pass runs: the header says "checking
receipts…", the runs checked so far show the watcher's counts, and the ready filter (`R`)
works already, listing what is known and growing as the pass goes on.

The pass is driven page by page (first_pass_support.Pages, one run a page): no timing.
"""

from __future__ import annotations

from first_pass_support import Pages
from tuitest_support import make_app, press, running, screen_text, settle, wait_until

from parkbench.tui.app import ParkbenchApp

TIMEOUT_S = 15.0


def header(app: ParkbenchApp) -> str:
    return screen_text(app).splitlines()[0]


def shown_ids(app: ParkbenchApp) -> list[int]:
    return [row.id for row in app.main.runs.window.rows]


async def test_checking_receipts_then_done(store, workspace, parked):
    summarise, _rebuild, translate = parked  # 1 of 2 receipts; no contract; 1 of 1
    pages = Pages()
    options = {"page_size": 1, "pace": pages.pace}
    app = make_app(store, receipts=True, receipt_watcher_options=options)
    async with running(app) as (pilot, _notices):
        live = app.live_receipts
        await wait_until(pilot, lambda: live.running, TIMEOUT_S, "the watcher to start")
        await pages.reach(0)
        await settle(pilot)
        assert "checking receipts… 0/3" in header(app)
        assert "ready to requeue 0" in header(app)

        pages.open(0)  # the summarise run
        await pages.reach(1)
        await wait_until(
            pilot, lambda: "checking receipts… 1/3" in header(app), TIMEOUT_S, "page 1 shown"
        )
        assert live.counts(summarise) == (1, 2)
        assert live.counts(translate) is None  # not checked yet: the list's own count stands

        # The ready filter before the pass ends: nothing is known to be ready yet.
        await press(pilot, "R")
        await settle(pilot)
        assert shown_ids(app) == []
        assert "only ready to requeue" in screen_text(app)

        pages.open(1, 2)  # the run without a contract, then the translate run (ready)
        await pages.reach(3)
        await wait_until(
            pilot,
            lambda: shown_ids(app) == [translate] and "ready to requeue 1" in header(app),
            TIMEOUT_S,
            "the ready run to join the filtered list",
        )
        assert "checking receipts… 3/3" in header(app)  # one more (empty) page to read
        assert live.counts(translate) == (1, 1)

        pages.open(3)
        await wait_until(
            pilot,
            lambda: "checking receipts" not in header(app),
            TIMEOUT_S,
            "the first pass to end",
        )
        assert live.watcher is not None and live.watcher.first_pass_done
        assert "ready to requeue 1" in header(app)
        assert shown_ids(app) == [translate]
