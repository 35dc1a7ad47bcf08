"""Live receipts in the review app: a file written into a parked run's workspace shows in the
list's receipt column, the detail pane and the header without a key press or a cursor jump;
the ready filter (binding ``filter-ready``) lists just the runs whose receipts are all there.

Real files, a real ReceiptWatcher (watchfiles) and the real store on both backends; every
wait is on a condition with a timeout.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Static
from tuitest_support import (
    make_app,
    park,
    press,
    refreshed,
    running,
    screen_text,
    settle,
    wait_until,
)

from parkbench.core.store import Store
from parkbench.core.watch import ReceiptWatcher
from parkbench.tui.app import ParkbenchApp
from parkbench.tui.live_receipts import WATCHER_GROUP
from parkbench.tui.screens.palette import main_screen_commands

#: Generous for a loaded CI machine: a change normally shows within tens of milliseconds.
TIMEOUT_S = 15.0
TITLES = ("Summarise the logs", "Rebuild the index", "Translate docs")  # the `parked` fixture


def row_line(app: ParkbenchApp, title: str) -> str:
    return next(line for line in screen_text(app).splitlines() if title in line)


def detail_text(app: ParkbenchApp) -> str:
    return app.main.detail.query_one("#detail-body", Static).content.plain


async def drain_stream(watcher: ReceiptWatcher) -> None:
    async for _batch in watcher.batches():
        pass


def write(path: Path, text: str = "ok") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def started(pilot, app: ParkbenchApp, ready: int) -> None:
    await wait_until(
        pilot,
        lambda: app.live_receipts.running and f"ready to requeue {ready}" in screen_text(app),
        TIMEOUT_S,
        "the receipt watcher to start",
    )
    await settle(pilot)


async def test_a_written_receipt_updates_row_detail_and_header(store, workspace, parked):
    summarise, rebuild, _translate = parked
    app = make_app(store, receipts=True)
    async with running(app) as (pilot, _notices):
        runs = app.main.runs
        await started(pilot, app, ready=1)  # "Translate docs" needs out/a.txt only: present
        assert runs.highlighted.id == summarise
        assert "1/2" in row_line(app, TITLES[0]) and "1/1" in row_line(app, TITLES[2])
        assert "Receipts (1/2 present" in detail_text(app)

        write(workspace / "out" / "b.txt")
        await wait_until(
            pilot,
            lambda: (
                "2/2" in row_line(app, TITLES[0])
                and "Receipts (2/2 present" in detail_text(app)
                and "ready to requeue 2" in screen_text(app)
            ),
            TIMEOUT_S,
            "the new receipt on screen",
        )
        await refreshed(app)
        text = screen_text(app)
        assert "✓ present    out/b.txt" in text
        assert runs.highlighted.id == summarise and runs.cursor == 0

        # The cursor rests on another run: updates land, the cursor and the scroll stay.
        await press(pilot, "down")
        await settle(pilot)
        assert runs.highlighted.id == rebuild
        (workspace / "out" / "a.txt").unlink()
        await wait_until(
            pilot,
            lambda: (
                "1/2" in row_line(app, TITLES[0])  # out/b.txt is still there
                and "0/1" in row_line(app, TITLES[2])
                and "ready to requeue 0" in screen_text(app)
            ),
            TIMEOUT_S,
            "the deleted receipt on screen",
        )
        assert (runs.highlighted.id, runs.cursor, runs.scroll_offset.y) == (rebuild, 1, 0)
        assert "no completion contract" in detail_text(app)  # still the rebuild run's pane
        watcher = app.live_receipts.watcher
    assert watcher is not None and not app.live_receipts.running
    # The app waited for its watcher to finish stopping: file watches retired, threads ended.
    assert watcher.closed
    # the watcher stopped with the app: its stream ends (after anything still queued)
    await asyncio.wait_for(drain_stream(watcher), TIMEOUT_S)


async def test_the_ready_filter_follows_the_watcher(store, workspace, parked):
    summarise, _rebuild, translate = parked
    app = make_app(store, receipts=True)
    async with running(app) as (pilot, _notices):
        runs = app.main.runs
        await started(pilot, app, ready=1)
        assert "R Ready" in screen_text(app)  # in the footer while the watcher runs
        commands = [name for name, _, _ in main_screen_commands(app.main)]
        assert "Show runs ready to requeue" in commands  # and in the palette

        await press(pilot, "R")
        await settle(pilot)
        assert [row.id for row in runs.window.rows] == [translate]
        assert "only ready to requeue" in screen_text(app)

        write(workspace / "out" / "b.txt")  # the first run becomes ready: it joins the view
        await wait_until(
            pilot,
            lambda: [row.id for row in runs.window.rows] == [summarise, translate],
            TIMEOUT_S,
            "the newly ready run to join the filtered list",
        )
        await settle(pilot)
        assert runs.highlighted.id == translate  # the cursor stayed on its run
        assert "ready to requeue 2" in screen_text(app)
        commands = [name for name, _, _ in main_screen_commands(app.main)]
        assert "Show every parked run" in commands

        await press(pilot, "R")  # off again: every parked run, the cursor kept
        await settle(pilot)
        assert len(runs.window.rows) == 3 and runs.highlighted.id == translate
        assert "only ready to requeue" not in screen_text(app)


async def test_a_run_parked_elsewhere_is_watched_too(store, db_url, workspace, clock, parked):
    # live=True: the app's change feed (LISTEN/NOTIFY on PostgreSQL) tells the watcher.
    app = make_app(store, live=True, receipts=True)
    async with running(app) as (pilot, _notices):
        await started(pilot, app, ready=1)
        write(workspace / "later" / "done.txt")
        with Store.open(db_url, clock=clock) as other:
            later = park(
                other,
                workspace,
                "Arrived later",
                "blocked elsewhere",
                required=["later/done.txt", "later/more.txt"],
                clock=clock,
            )
        await wait_until(
            pilot,
            lambda: (
                later in {r.id for r in app.main.runs.window.rows}
                and "1/2" in row_line(app, "Arrived later")
            ),
            TIMEOUT_S,
            "the new run with its receipt count",
        )
        write(workspace / "later" / "more.txt")
        await wait_until(
            pilot,
            lambda: (
                "2/2" in row_line(app, "Arrived later") and "ready to requeue 2" in screen_text(app)
            ),
            TIMEOUT_S,
            "the new run to be ready",
        )


async def test_hostile_receipt_paths_are_shown_literally(store, workspace, clock):
    hostile = "[bold red]x[/]\x1b]0;pwned\x07.txt"
    park(store, workspace, "Hostile", "needs a file", required=[hostile], clock=clock)
    app = make_app(store, receipts=True)
    async with running(app) as (pilot, _notices):
        await started(pilot, app, ready=0)
        write(workspace / hostile)
        await wait_until(
            pilot, lambda: "ready to requeue 1" in screen_text(app), TIMEOUT_S, "the receipt"
        )
        await settle(pilot)
        assert "✓ present    [bold red]x[/]\\x1b]0;pwned\\x07.txt" in detail_text(app)
        assert "\x1b" not in screen_text(app) and "\x07" not in screen_text(app)


async def test_without_the_watcher_nothing_depends_on_file_timing(store, parked):
    """The snapshot path: receipts follow ``live`` (off in tests), so no watcher, no header
    count, no ready binding in the footer; the help screen lists it as unavailable."""
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        assert not app.receipts and not app.live_receipts.running
        assert not [w for w in app.workers if w.group == WATCHER_GROUP]
        text = screen_text(app)
        assert "ready to requeue" not in text and "R Ready" not in text
        await press(pilot, "R")
        await settle(pilot)
        assert app.main.runs.view_query.run_ids is None and len(app.main.runs.window.rows) == 3
        [row] = [r for r in app.help_rows() if r.binding_id == "filter-ready"]
        assert (row.keys, row.available) == ("R", False)
