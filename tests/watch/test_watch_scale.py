"""Many workspaces, and bursts of files, at test size (the full-size figures are benchmarks)."""

from __future__ import annotations

import asyncio

from watchtest_support import park_missing, watching, write

from parkbench.core.watch import ReadinessChange, WorkspaceState


async def test_one_hundred_workspaces(store, tmp_path):
    roots = [tmp_path / f"ws{i:03}" for i in range(100)]
    runs = {}
    for root in roots:
        root.mkdir()
        runs[park_missing(store, root, ["receipts/ok.txt"], title=root.name)] = root
    async with watching(store, roots_per_watch=25) as rec:
        states = rec.watcher.workspaces()
        assert len(states) == 100 and set(states.values()) == {WorkspaceState.OK}
        for root in roots:
            write(root / "receipts" / "ok.txt")
        for run in runs:
            await rec.expect(ReadinessChange, run_id=run, ready=True)
        assert rec.watcher.ready_run_ids() == set(runs)


async def test_a_burst_of_files_in_one_run(store, workspace):
    paths = [f"out/part-{i:04}.json" for i in range(600)]
    run = park_missing(store, workspace, paths)
    async with watching(store) as rec:
        for path in paths:
            write(workspace / path)
        await rec.expect(ReadinessChange, run_id=run, ready=True)
        assert {c.state.value for c in rec.watcher.receipts(run)} == {"present"}


async def test_past_four_full_watches_the_groups_grow(store, tmp_path):
    """Idle CPU grows with the number of watches: 12 roots at 2 a watch make 4 watches of 3,
    not 6 of 2, and every root is still watched."""
    roots = [tmp_path / f"ws{i:02}" for i in range(12)]
    runs = {}
    for root in roots:
        root.mkdir()
        runs[park_missing(store, root, ["ok.txt"], title=root.name)] = root
    async with watching(store, roots_per_watch=2) as rec:
        watches = [
            t for t in asyncio.all_tasks() if t.get_name() == "receipt-watch" and not t.done()
        ]
        assert len(watches) == 4
        for root in roots:
            write(root / "ok.txt")
        for run in runs:
            await rec.expect(ReadinessChange, run_id=run, ready=True)
