"""Issue 15.5: under the ready filter (`R`), a run that becomes ready joins the list with
its current receipt count ("2/2"), not the count cached while it was out of view."""

from __future__ import annotations

from pathlib import Path

from tuitest_support import make_app, press, running, screen_text, settle, wait_until

from parkbench.tui.app import ParkbenchApp

TIMEOUT_S = 15.0


def row_line(app: ParkbenchApp, title: str) -> str:
    return next(line for line in screen_text(app).splitlines() if title in line)


async def test_a_run_that_becomes_ready_shows_its_fresh_count(store, workspace: Path, parked):
    summarise, _rebuild, translate = parked
    app = make_app(store, receipts=True)
    async with running(app) as (pilot, _notices):
        runs = app.main.runs
        await wait_until(
            pilot,
            lambda: app.live_receipts.running and "ready to requeue 1" in screen_text(app),
            TIMEOUT_S,
            "the receipt watcher to start",
        )
        await settle(pilot)
        assert "1/2" in row_line(app, "Summarise the logs")  # seen, and counted, here
        await press(pilot, "R")
        await settle(pilot)
        assert [row.id for row in runs.window.rows] == [translate]
        (workspace / "out" / "b.txt").write_text("ok")  # the first run becomes ready
        await wait_until(
            pilot,
            lambda: [row.id for row in runs.window.rows] == [summarise, translate],
            TIMEOUT_S,
            "the newly ready run to join the filtered list",
        )
        await settle(pilot)
        assert runs.receipts.get(summarise) == (2, 2)
        assert "2/2" in row_line(app, "Summarise the logs")
