"""The first pass in the background: the watcher is up once its roots are watched, checks the
parked set page by page (publishing each page), and misses no change made meanwhile.

The pass is driven page by page (first_pass_support.Pages), so every step is deterministic.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from first_pass_support import Pages
from watchfiles import awatch
from watchtest_support import TIMEOUT_S, park_missing, watching, write

from parkbench.core.contracts import ArtifactState
from parkbench.core.watch import ReadinessChange, ReceiptChange, RunWatched


async def test_the_pass_publishes_page_by_page_and_sees_changes_meanwhile(store, workspace):
    first = park_missing(store, workspace, ["a.txt"], title="first")
    second = park_missing(store, workspace, ["b.txt"], title="second")
    third = park_missing(store, workspace, ["c.txt"], title="third")
    write(workspace / "a.txt")  # (parked for missing receipts, then they came)
    write(workspace / "c.txt")
    pages = Pages()
    options = {"first_pass_in_background": True, "announce_initial": True, "page_size": 1}
    async with watching(store, pace=pages.pace, **options) as rec:
        watcher = rec.watcher
        # Up before a single receipt is checked: the roots are watched, nothing is loaded.
        assert not watcher.first_pass_done
        assert watcher.checking == (0, 3)
        assert watcher.checked_run_ids() == frozenset()
        await pages.reach(0)

        pages.open(0)
        await pages.reach(1)
        assert watcher.checking == (1, 3)
        assert watcher.checked_run_ids() == {first} and watcher.ready_run_ids() == {first}
        await rec.expect(RunWatched, run_id=first, ready=True)

        # Meanwhile: a checked receipt goes, a receipt not checked yet comes.
        (workspace / "a.txt").unlink()
        write(workspace / "b.txt")
        pages.open(1, 2, 3)
        await watcher.first_pass()
        assert watcher.checking is None and watcher.first_pass_done
        await rec.expect(RunWatched, run_id=second, ready=True)
        await rec.expect(RunWatched, run_id=third, ready=True)
        await rec.expect(
            ReceiptChange,
            run_id=first,
            old_state=ArtifactState.PRESENT,
            new_state=ArtifactState.MISSING,
        )
        await rec.expect(ReadinessChange, run_id=first, ready=False)
        assert watcher.ready_run_ids() == {second, third}
        assert watcher.checked_run_ids() == {first, second, third}


async def test_by_default_start_returns_once_every_receipt_is_checked(store, workspace):
    run = park_missing(store, workspace, ["a.txt"])
    write(workspace / "a.txt")
    async with watching(store) as rec:
        watcher = rec.watcher
        assert watcher.first_pass_done and watcher.checking is None
        assert watcher.checked_run_ids() == {run} and watcher.ready_run_ids() == {run}


@asynccontextmanager
async def spotted(root: Path, name: str) -> AsyncIterator[asyncio.Event]:
    """An event set once a bare watch of ``root`` reports a change to ``root/name``."""
    seen, stop = asyncio.Event(), asyncio.Event()

    async def spot() -> None:
        async for changes in awatch(root, stop_event=stop, debounce=50, step=10):
            if any(Path(path) == root / name for _, path in changes):
                seen.set()

    task = asyncio.create_task(spot())
    await asyncio.sleep(0)  # the watch is built in its first step, before it awaits
    try:
        yield seen
    finally:
        stop.set()
        await task


async def test_a_directory_replaced_meanwhile_is_not_trusted_by_later_pages(
    store, workspace, outside
):
    """The pass shares what it saw on disk across pages (disk.DiskView); an event from a root
    makes it forget that root, so a directory swapped for a link out of the workspace is
    judged anew, on whichever page (or step after the pass) the event is handled."""
    first = park_missing(store, workspace, ["d/a.txt"], title="first")
    write(workspace / "d" / "a.txt")  # (parked for it missing, then it came)
    write(outside / "a.txt")
    write(outside / "b.txt")
    fillers = [park_missing(store, workspace, [f"f{i}.txt"]) for i in range(20)]
    second = park_missing(store, workspace, ["d/b.txt"], title="second")
    pages = Pages()
    options = {"first_pass_in_background": True, "page_size": 1}
    async with watching(store, pace=pages.pace, **options) as rec:
        watcher = rec.watcher
        pages.open(0)
        await pages.reach(1)
        assert [c.state for c in watcher.receipts(first) or ()] == [ArtifactState.PRESENT]

        async with spotted(workspace, "d") as seen:  # a watch of the test's own
            shutil.rmtree(workspace / "d")
            os.symlink(outside, workspace / "d")
            await asyncio.wait_for(seen.wait(), TIMEOUT_S)
        # The watcher's watch has had the same events: page by page until the pass has
        # handled them (or has no filler page left).
        for page in range(1, len(fillers) + 1):
            if [c.state for c in watcher.receipts(first) or ()] == [ArtifactState.UNSAFE]:
                break
            pages.open(page)
            await pages.reach(page + 1)
        pages.open(*range(len(fillers) + 3))  # (and the empty page that ends it)
        await asyncio.wait_for(watcher.first_pass(), TIMEOUT_S)
        await rec.expect(ReceiptChange, run_id=first, new_state=ArtifactState.UNSAFE)
        await rec.wait_for(
            lambda _: [c.state for c in watcher.receipts(second) or ()] == [ArtifactState.UNSAFE]
        )
        assert not watcher.is_ready(second)
