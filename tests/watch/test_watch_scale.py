"""Many workspaces, and bursts of files, at test size (the full-size figures are benchmarks)."""

from __future__ import annotations

import asyncio

import pytest
from watchtest_support import park_missing, watching, write

from parkbench.core.watch import ReadinessChange, WorkspaceState
from parkbench.core.watch.roots import MAX_WATCHES


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


@pytest.mark.parametrize("max_watches", [None, 3])
async def test_past_the_full_watches_the_groups_grow(store, tmp_path, max_watches):
    """Idle CPU grows with the number of watches: 12 roots at 2 a watch make 2 watches of 6
    (3 of 4 when allowed 3), not 6 of 2, and every root is still watched."""
    options = {} if max_watches is None else {"max_watches": max_watches}
    roots = [tmp_path / f"ws{i:02}" for i in range(12)]
    runs = {}
    for root in roots:
        root.mkdir()
        runs[park_missing(store, root, ["ok.txt"], title=root.name)] = root
    async with watching(store, roots_per_watch=2, **options) as rec:
        watches = [
            t for t in asyncio.all_tasks() if t.get_name() == "receipt-watch" and not t.done()
        ]
        assert len(watches) == (max_watches or MAX_WATCHES) and MAX_WATCHES == 2
        for root in roots:
            write(root / "ok.txt")
        for run in runs:
            await rec.expect(ReadinessChange, run_id=run, ready=True)
