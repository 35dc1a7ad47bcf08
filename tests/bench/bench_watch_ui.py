"""Live receipts on the surfaces: file closed -> visible in `parkbench watch` and in the TUI.

    .venv/bin/python tests/bench/bench_watch_ui.py         # SQLite: 10,000 runs, 100 workspaces
    .venv/bin/python tests/bench/bench_watch_ui.py --files 100 --repeat 5
    export PARKBENCH_TEST_PG_URL=$(bash .ci/pg.sh start)
    .venv/bin/python tests/bench/bench_watch_ui.py --pg

Setup (untimed) is bench_watch.py's: ``--runs`` parked runs over ``--workspaces`` workspace
directories, each parked by ``park_missing`` and needing one receipt. Then, per repetition:

stream    ``parkbench watch --json`` as a child process (the real executable, started and
          settled untimed); ``--files`` receipts written one at a time, each to a different
          run; latency from the file's ``close()`` to its JSON line being read from the pipe
          by this process. Baseline in the same run: the in-process ReceiptWatcher (close ->
          record from ``watcher.batches()``), as bench_watch.py measures it.
tui       The review app (``ParkbenchApp``, receipts on, 120x40, headless) over the same
          database. Receipts are written to (and then deleted from) the runs on screen; the
          latency is from ``close()`` to the first frame the app hands its driver in which
          that row's receipt cell shows the new count *and* the header's "ready to requeue"
          count is the new one (frames are read by wrapping ``App._display``: what a real
          terminal would be sent, rendered to text).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

from bench_watch import (  # noqa: E402
    NOW_MS,
    receipt,
    seed,
    seeded_store,
    spread,
    summary,
    watcher_latency,
    write_file,
)

from parkbench.core.store import Store  # noqa: E402

# -- stream: the `parkbench watch --json` process -----------------------------------------


def _parkbench() -> list[str]:
    script = Path(sys.executable).with_name("parkbench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "parkbench.tui.cli"]


async def stream_latency(url: str, files: list[tuple[int, str]]) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        *_parkbench(),
        "watch",
        "--json",
        "--db",
        url,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        first = json.loads(await asyncio.wait_for(proc.stdout.readline(), 120))
        assert first["kind"] == "watching", first
        out = []

        async def line_for(path: str, state: str) -> float:
            while True:
                line = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
                if (
                    line["kind"] == "receipt"
                    and line["new_state"] == state
                    and (os.path.join(line["workspace"], line["path"]) == path)
                ):
                    return time.monotonic()

        for _, path in files:
            closed = write_file(path)
            out.append(await line_for(path, "present") - closed)
            await asyncio.sleep(0.05)
        for _, path in files:  # leave the tree as found
            os.unlink(path)
            await line_for(path, "missing")
        return out
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 60)


# -- tui: the review app's rendered frames --------------------------------------------------

SIZE = (120, 40)
_READY = re.compile(r"ready to requeue (\d[\d,]*)")


class Frames:
    """Wraps ``App._display`` (called with every frame the app would send to a terminal,
    headless too): while a check is pending, each frame's screen is rendered to text and
    the check resolved with the frame's time."""

    def __init__(self, app) -> None:
        self.app = app
        self.check: Callable[[str], bool] | None = None
        self.seen: asyncio.Future[float] | None = None
        original = app._display

        def display(screen, renderable) -> None:
            original(screen, renderable)
            if renderable is None or self.check is None or self.seen is None:
                return
            now = time.monotonic()
            if not self.seen.done() and self.check(screen_text(app)):
                self.seen.set_result(now)

        app._display = display

    def expect(self, check: Callable[[str], bool]) -> asyncio.Future[float]:
        self.check = check
        self.seen = asyncio.get_running_loop().create_future()
        return self.seen


def screen_text(app) -> str:
    from rich.console import Console

    console = Console(
        width=SIZE[0],
        height=SIZE[1],
        file=io.StringIO(),
        record=True,
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


def shows(text: str, run_id: int, cell: str, ready: int) -> bool:
    """Does the screen show ``cell`` in ``run_id``'s receipt column and ``ready`` in the
    header?"""
    lines = text.splitlines()
    header = next((line for line in lines if " Rcpts " in line), None)
    found = _READY.search(text)
    if header is None or found is None or int(found.group(1).replace(",", "")) != ready:
        return False
    column = header.index("Rcpts")
    row = next((line for line in lines if f" seeded {run_id} " in line), None)
    return row is not None and row[column : column + 5].strip() == cell


async def tui_latency(
    store: Store, placed: dict[int, str], events: int
) -> tuple[float, list[float]]:
    """(watcher start as the app sees it, latencies): receipts toggled on the visible runs."""
    from parkbench.tui.app import ParkbenchApp

    app = ParkbenchApp(store, now=lambda: NOW_MS, live=False, receipts=True, keymap={})
    frames = Frames(app)
    started = time.monotonic()
    out: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        runs = app.main.runs
        while not (app.live_receipts.running and runs.visible_rows()):
            await pilot.pause(0.01)
        start_s = time.monotonic() - started
        await pilot.pause(0.5)
        visible = [row.id for row in runs.visible_rows()][:30]
        ready = len(app.live_receipts.ready_ids())
        for i in range(events):
            run_id = visible[i % len(visible)]
            path = os.path.join(placed[run_id], receipt(run_id))
            writing = not os.path.exists(path)
            ready += 1 if writing else -1
            seen = frames.expect(
                lambda text, r=run_id, c="1/1" if writing else "0/1", k=ready: shows(text, r, c, k)
            )
            if writing:
                closed = write_file(path)
            else:
                os.unlink(path)
                closed = time.monotonic()
            out.append(await asyncio.wait_for(seen, 30) - closed)
            await asyncio.sleep(0.05)
        for run_id in visible:  # leave the tree as found
            path = os.path.join(placed[run_id], receipt(run_id))
            if os.path.exists(path):
                os.unlink(path)
    return start_s, out


# -- main ------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    with seeded_store("bench-watch-ui-", args) as (url, store, roots):
        placed = seed(store, roots, args.runs)
        print(
            f"seeded {args.runs:,} parked runs over {args.workspaces} workspaces "
            f"({store.engine.url.get_backend_name()})"
        )
        results: dict[str, list[float]] = {}
        for rep in range(args.repeat):
            files = spread(placed, args.files, skip=rep * args.files)
            results.setdefault("stream: parkbench watch --json", []).extend(
                await stream_latency(url, files)
            )
            results.setdefault("baseline: ReceiptWatcher in-process", []).extend(
                await watcher_latency(store, files)
            )
        starts = []
        for _ in range(args.repeat):
            start_s, latencies = await tui_latency(store, placed, args.files)
            starts.append(start_s)
            results.setdefault("tui: row cell + header in a rendered frame", []).extend(latencies)
        print(f"\nlatency: file closed -> visible, {args.files} files x {args.repeat}")
        for label, values in results.items():
            summary(label, values)
        summary("tui: app start -> watcher running, rows shown", starts, "s", 1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", action="store_true", help="a fresh PostgreSQL database, not SQLite")
    asyncio.run(main(parser.parse_args()))
