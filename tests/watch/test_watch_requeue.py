"""Auto-requeue: off by default, only for runs parked for missing receipts, exactly once."""

from __future__ import annotations

import asyncio

from watchtest_support import park_blocked, park_missing, watching, write

from parkbench.core.contracts import ArtifactState
from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import RunFilter
from parkbench.core.watch import (
    AUTO_ACTOR,
    AutoRequeued,
    ReadinessChange,
    ReceiptChange,
    RunDropped,
)

P = ArtifactState.PRESENT


def status_of(store, run_id: int) -> RunStatus:
    return store.get_run(run_id, check_disk=False).run.status


async def test_off_by_default(store, workspace):
    run = park_missing(store, workspace, ["ok.txt"])
    fence = park_missing(store, workspace, ["fence.txt"], title="fence")
    async with watching(store) as rec:
        write(workspace / "ok.txt")
        await rec.expect(ReadinessChange, run_id=run, ready=True)
        write(workspace / "fence.txt")  # a later step: any auto-action would be done by now
        await rec.expect(ReceiptChange, run_id=fence, new_state=P)
        assert not rec.matching(AutoRequeued)
        assert rec.watcher.ready_run_ids() == {run, fence}
    assert status_of(store, run) is RunStatus.NEEDS_ATTENTION


async def test_requeues_once_as_the_system(store, workspace):
    run = park_missing(store, workspace, ["a.txt", "b/c.txt"])
    async with watching(store, auto_requeue=True) as rec:
        write(workspace / "a.txt")
        write(workspace / "b" / "c.txt")
        done = await rec.expect(AutoRequeued, run_id=run)
        assert done.ok and done.new_run_id is not None
        await rec.expect(RunDropped, run_id=run)
        assert rec.watcher.run_ids() == frozenset()
    detail = store.get_run(run, check_disk=False)
    assert detail.run.status is RunStatus.REQUEUED
    requeue = detail.events[-1]
    assert (requeue.action, requeue.actor_kind, requeue.actor) == ("requeue", "system", AUTO_ACTOR)
    assert (
        requeue.reason and "a.txt, b/c.txt" in requeue.reason and "automatically" in requeue.reason
    )
    assert status_of(store, done.new_run_id) is RunStatus.QUEUED


async def test_exactly_once_under_repeated_events_and_two_watchers(store, workspace):
    run = park_missing(store, workspace, ["a.txt", "b.txt"])
    fence = park_blocked(store, workspace, ["fence0.txt", "fence1.txt"], title="fence")
    async with (
        watching(store, auto_requeue=True) as first,
        watching(store, auto_requeue=True) as second,
    ):
        for round_ in range(20):  # a storm of writes, rewrites, deletes and re-creations
            write(workspace / "a.txt", f"v{round_}")
            write(workspace / "b.txt", f"v{round_}")
            if round_ % 3 == 0:
                (workspace / "b.txt").unlink()
            await asyncio.sleep(0)
        write(workspace / "b.txt")
        results = await asyncio.gather(
            first.expect(RunDropped, run_id=run), second.expect(RunDropped, run_id=run)
        )
        assert len(results) == 2
        # more events after the requeue change nothing
        for i, rec in enumerate((first, second)):
            mark = rec.mark()
            (workspace / "a.txt").unlink()
            write(workspace / "a.txt")
            write(workspace / f"fence{i}.txt")
            await rec.expect(ReceiptChange, since=mark, path=f"fence{i}.txt", new_state=P)
    outcomes = first.matching(AutoRequeued, run_id=run) + second.matching(AutoRequeued, run_id=run)
    assert [o.ok for o in outcomes].count(True) == 1
    assert all(o.error_code == "conflict" for o in outcomes if not o.ok)
    trail = store.get_run(run, check_disk=False).events
    assert [e.action for e in trail].count("requeue") == 1
    successors = store.list_runs(RunFilter(status=RunStatus.QUEUED)).rows
    assert [r.previous_run_id for r in successors] == [run]
    assert status_of(store, fence) is RunStatus.NEEDS_ATTENTION  # blocked, not requeued


async def test_only_runs_parked_for_missing_receipts(store, workspace):
    blocked = park_blocked(store, workspace, ["ok.txt"])
    missing = park_missing(store, workspace, ["ok.txt"], title="missing")
    async with watching(store, auto_requeue=True) as rec:
        write(workspace / "ok.txt")
        await rec.expect(AutoRequeued, run_id=missing, ok=True)
        assert rec.watcher.ready_run_ids() == {blocked}
    assert status_of(store, blocked) is RunStatus.NEEDS_ATTENTION
    assert not rec.matching(AutoRequeued, run_id=blocked)


async def test_receipts_already_present_at_start(store, workspace):
    run = park_missing(store, workspace, ["ok.txt"])
    write(workspace / "ok.txt")  # arrived while nobody watched
    async with watching(store, auto_requeue=True) as rec:
        await rec.expect(AutoRequeued, run_id=run, ok=True)
    assert status_of(store, run) is RunStatus.REQUEUED
