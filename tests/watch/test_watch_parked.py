"""The watcher follows the parked set: runs come and go, workspaces with them."""

from __future__ import annotations

from watchtest_support import as_root, park_blocked, park_missing, watching, write

from parkbench.core.contracts import ArtifactState
from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import Expectation
from parkbench.core.watch import ReceiptChange, RunDropped, RunWatched, WorkspaceState
from parkbench.core.watch.parked import ParkedFeed

P, M = ArtifactState.PRESENT, ArtifactState.MISSING


async def test_a_run_parked_after_start_is_watched(store, workspace, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    async with watching(store) as rec:
        assert rec.watcher.run_ids() == frozenset()
        assert rec.watcher.workspaces() == {}
        run = park_missing(store, workspace, ["ok.txt"])
        watched = await rec.expect(RunWatched, run_id=run)
        assert (watched.workspace, watched.ready) == (as_root(workspace), False)
        assert [c.to_dict() for c in watched.receipts] == [{"path": "ok.txt", "state": "missing"}]
        write(workspace / "ok.txt")
        await rec.expect(ReceiptChange, run_id=run, new_state=P)

        # a second workspace, first seen after start, is watched as well
        second = park_missing(store, other, ["b.txt"], title="other")
        await rec.expect(RunWatched, run_id=second)
        assert rec.watcher.workspaces() == {
            as_root(workspace): WorkspaceState.OK,
            as_root(other): WorkspaceState.OK,
        }
        write(other / "b.txt")
        await rec.expect(ReceiptChange, run_id=second, new_state=P)


async def test_requeued_failed_and_released_runs_are_dropped(store, tmp_path):
    roots = [tmp_path / name for name in ("a", "b", "c", "d")]
    for root in roots:
        root.mkdir()
    runs = [park_missing(store, root, ["ok.txt"], title=root.name) for root in roots]
    async with watching(store) as rec:
        assert rec.watcher.run_ids() == set(runs)
        seen = {r: Expectation(RunStatus.NEEDS_ATTENTION) for r in runs}
        assert store.requeue([runs[0]], reason="try again", actor="alice", expected=seen)[0].ok
        assert store.force_fail([runs[1]], reason="hopeless", actor="alice")[0].ok
        assert store.force_release([runs[2]], reason="give back", actor="alice")[0].ok
        for run, root in zip(runs[:3], roots, strict=False):
            await rec.expect(RunDropped, run_id=run, workspace=as_root(root))
        assert rec.watcher.run_ids() == {runs[3]}
        # their workspaces are no longer watched: only d is left
        assert rec.watcher.workspaces() == {as_root(roots[3]): WorkspaceState.OK}
        mark = rec.mark()
        for root in roots:
            write(root / "ok.txt")
        await rec.expect(ReceiptChange, since=mark, run_id=runs[3], new_state=P)
        assert [r.run_id for r in rec.matching(ReceiptChange)] == [runs[3]]


async def test_a_nudge_refreshes_the_parked_set_without_waiting_for_the_poll(store, workspace):
    async with watching(store, poll_interval_s=3600) as rec:
        run = park_missing(store, workspace, ["ok.txt"])
        rec.watcher.nudge()
        await rec.expect(RunWatched, run_id=run)


async def test_runs_changed_fetches_named_runs_and_none_reconciles(store, workspace, tmp_path):
    async with watching(store, poll_interval_s=3600) as rec:
        first = park_missing(store, workspace, ["one.txt"], title="one")
        rec.watcher.runs_changed([first])
        await rec.expect(RunWatched, run_id=first)
        other = tmp_path / "other"
        other.mkdir()
        second = park_blocked(store, other, ["two.txt"], title="two")
        rec.watcher.runs_changed(None)  # "changes may have been missed"
        await rec.expect(RunWatched, run_id=second)
        assert rec.watcher.run_ids() == {first, second}


def test_feed_loads_in_keyset_pages_and_skips_runs_without_a_contract(store, workspace):
    with_contract = [park_missing(store, workspace, [f"r{i}.txt"], title=f"t{i}") for i in range(5)]
    store.enqueue("plain", workspace)
    claim = store.claim_next("agent")
    assert claim is not None
    store.block(claim.run_id, claim.claim_token, reason="no contract here")
    feed = ParkedFeed(store, page_size=2)
    loaded = feed.load()
    assert sorted(run.run_id for run in loaded) == with_contract
    assert {run.parked_by for run in loaded} == {"park_missing"}
    assert feed.moved_run_ids() == []  # nothing new since the load


def test_feed_delta_reports_each_move_once(store, workspace):
    feed = ParkedFeed(store)
    feed.load()
    run = park_missing(store, workspace, ["ok.txt"])
    assert feed.moved_run_ids() == [run]
    assert feed.moved_run_ids() == []  # inside the look-back window, but already handled
    store.force_release([run], reason="back to the queue", actor="alice")
    assert feed.moved_run_ids() == [run]
    assert feed.fetch([run]) == {run: None}


def test_feed_reconcile_catches_what_a_delta_missed(store, workspace):
    feed = ParkedFeed(store)
    feed.load()
    run = park_blocked(store, workspace, ["ok.txt"])
    feed.marker += 100_000  # as if the event had committed late, behind the window
    assert feed.moved_run_ids() == []
    assert feed.stale({}) == [run]
    parked = feed.fetch([run])[run]
    assert parked is not None and parked.parked_by == "block"
    assert feed.stale({run: parked.version}) == []
    assert feed.stale({run: parked.version, 999: 1}) == [999]  # watched, but not parked
