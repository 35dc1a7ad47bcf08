"""The first pass in the background: the watcher is up once its roots are watched, checks the
parked set page by page (publishing each page), and misses no change made meanwhile.

The pass is driven page by page (first_pass_support.Pages), so every step is deterministic.
"""

from __future__ import annotations

from first_pass_support import Pages
from watchtest_support import park_missing, watching, write

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
