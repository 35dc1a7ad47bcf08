"""The watcher wakes on PostgreSQL NOTIFY (parkbench.core.watch.listen), and checks a batch's paths
against each root resolved once (parkbench.core.watch.disk) with the same results as check_path."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from watchtest_support import park_missing, watching, write

from parkbench.core.contracts import ArtifactState, check_path
from parkbench.core.db.engine import is_sqlite
from parkbench.core.store import Store
from parkbench.core.watch import ReceiptChange, ReceiptWatcher, RunDropped, RunWatched
from parkbench.core.watch.disk import DiskView

#: Far longer than any test: a change that arrives came through NOTIFY, not the poll.
NO_POLL = {"poll_interval_s": 3600.0, "reconcile_interval_s": 3600.0}


def _listen_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "receipt-watcher-listen"]


def _postgres_only(store: Store) -> None:
    if is_sqlite(store.engine):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite relies on the watcher's poll")


async def test_notify_brings_parked_and_unparked_runs_without_a_poll(store, workspace):
    _postgres_only(store)
    async with watching(store, **NO_POLL) as rec:
        run = park_missing(store, workspace, ["ok.txt"])
        await rec.expect(RunWatched, run_id=run)
        write(workspace / "ok.txt")
        await rec.expect(ReceiptChange, run_id=run, new_state=ArtifactState.PRESENT)
        assert store.force_fail([run], reason="not needed", actor="alice")[0].ok
        await rec.expect(RunDropped, run_id=run)
        assert rec.watcher.run_ids() == frozenset()
        # (the first run may have come with the watcher's first poll; this one cannot)
        later = park_missing(store, workspace, ["later.txt"], title="later")
        await rec.expect(RunWatched, run_id=later)
    assert _listen_threads() == []  # stopping the watcher ends its listener


async def test_a_stop_cancelled_midway_still_ends_the_listener(store, workspace):
    """An exiting TUI cancels its watcher's task, and its closing loop cancels it again while
    it stops: the listener thread must end (and be joined) all the same."""
    _postgres_only(store)
    park_missing(store, workspace, ["ok.txt"])
    watcher = ReceiptWatcher(store, **NO_POLL)
    await watcher.start()
    assert len(_listen_threads()) == 1
    stopping = asyncio.create_task(watcher.stop())
    await asyncio.sleep(0)  # one loop turn: stop() is now waiting on the engine
    assert not stopping.done()
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert _listen_threads() == []


async def test_the_listener_survives_the_server_ending_its_session(store, workspace, pg_admin_url):
    _postgres_only(store)
    database = store.engine.url.database
    async with watching(store, **NO_POLL) as rec:
        first = park_missing(store, workspace, ["a.txt"])
        await rec.expect(RunWatched, run_id=first)
        engine = sa.create_engine(pg_admin_url)
        try:
            with engine.connect() as conn:
                ended = (
                    conn.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = 'parkbench-listen' AND datname = :db"
                        ),
                        {"db": database},
                    )
                    .scalars()
                    .all()
                )
        finally:
            engine.dispose()
        assert ended == [True]
        # Parked while the feed reconnects or after: NOTIFY, or the reconcile after the gap.
        second = park_missing(store, workspace, ["b.txt"], title="second")
        await rec.expect(RunWatched, run_id=second)


async def test_no_listener_on_sqlite(tmp_path, workspace):
    with Store.open(f"sqlite:///{tmp_path / 'pb.db'}") as store:
        park_missing(store, workspace, ["ok.txt"])
        async with watching(store) as rec:
            assert rec.watcher.run_ids() != frozenset()
            assert _listen_threads() == []


def test_a_batch_checks_like_check_path(tmp_path: Path) -> None:
    """One realpath per root per batch: states and details equal check_path's, however the
    root or the path is reached (root through a symlink, escaping link, missing root)."""
    real = tmp_path / "real"
    write(real / "ok.txt")
    (real / "dir").mkdir()
    outside = tmp_path / "outside"
    write(outside / "secret.txt")
    os.symlink(outside, real / "escape")
    os.symlink(real, tmp_path / "linked")
    roots = [str(real), str(tmp_path / "linked"), str(tmp_path / "gone")]
    rels = ["ok.txt", "dir", "missing.txt", "escape/secret.txt", "../x", "sub/../ok.txt"]
    items = [(root, rel) for root in roots for rel in rels]
    batch = DiskView().check_paths(items)
    assert [(r, p) for r, p, _, _ in batch] == items
    for root, rel, check, _ in batch:
        expected = check_path(root, rel)
        assert (check.state, check.detail) == (expected.state, expected.detail), (root, rel)
    states = {(r, p): c.state for r, p, c, _ in batch}
    assert states[(str(tmp_path / "linked"), "ok.txt")] is ArtifactState.PRESENT
    assert states[(str(real), "escape/secret.txt")] is ArtifactState.UNSAFE
    assert states[(str(tmp_path / "gone"), "ok.txt")] is ArtifactState.MISSING
