"""Real files, real watches: each file-system change reaches the stream with the right state."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from watchtest_support import as_root, park_missing, watching, write

from parkbench.core.contracts import ArtifactState
from parkbench.core.watch import ReadinessChange, ReceiptChange, WorkspaceChange, WorkspaceState

P, M = ArtifactState.PRESENT, ArtifactState.MISSING
NAF, UNSAFE = ArtifactState.NOT_A_FILE, ArtifactState.UNSAFE


async def test_create_then_delete(store, workspace):
    run = park_missing(store, workspace, ["receipts/ok.txt"])
    async with watching(store) as rec:
        assert [c.state for c in rec.watcher.receipts(run)] == [M]
        assert rec.watcher.ready_run_ids() == frozenset()

        write(workspace / "receipts" / "ok.txt")  # the directory is new too
        change = await rec.expect(ReceiptChange, run_id=run, new_state=P)
        assert (change.path, change.old_state, change.workspace) == (
            "receipts/ok.txt",
            M,
            as_root(workspace),
        )
        await rec.expect(ReadinessChange, run_id=run, ready=True)
        assert rec.watcher.ready_run_ids() == {run}
        assert rec.watcher.is_ready(run)

        mark = rec.mark()
        (workspace / "receipts" / "ok.txt").unlink()
        await rec.expect(ReceiptChange, since=mark, run_id=run, old_state=P, new_state=M)
        await rec.expect(ReadinessChange, since=mark, run_id=run, ready=False)
        assert rec.watcher.ready_run_ids() == frozenset()


async def test_replace_a_file_with_a_directory(store, workspace):
    write(workspace / "out" / "result.json")
    run = park_missing(store, workspace, ["out/result.json", "never.txt"])
    async with watching(store) as rec:
        assert [c.state for c in rec.watcher.receipts(run)] == [P, M]
        (workspace / "out" / "result.json").unlink()
        (workspace / "out" / "result.json").mkdir()
        change = await rec.expect(ReceiptChange, run_id=run, new_state=NAF)
        assert change.old_state in (P, M)  # one batch or two, it ends as not_a_file
        assert rec.watcher.receipts(run)[0].state is NAF
        # a file deep inside the directory changes nothing about the required path
        mark = rec.mark()
        write(workspace / "out" / "result.json" / "inner.txt")
        write(workspace / "never.txt")
        await rec.expect(ReceiptChange, since=mark, path="never.txt", new_state=P)
        assert not rec.matching(ReceiptChange, path="out/result.json", new_state=P)


async def test_symlink_escaping_the_root_stays_unsafe(store, workspace, outside):
    run = park_missing(store, workspace, ["ok.txt", "fence.txt"])
    write(outside / "ok.txt")
    async with watching(store) as rec:
        (workspace / "ok.txt").symlink_to(outside / "ok.txt")
        change = await rec.expect(ReceiptChange, run_id=run, path="ok.txt", new_state=UNSAFE)
        assert change.detail and "outside" in change.detail
        assert not rec.watcher.is_ready(run)
        # writing through the link, or to its target, never makes it present
        mark = rec.mark()
        write(outside / "ok.txt", "changed")
        (workspace / "ok.txt").write_text("through the link")
        write(workspace / "fence.txt")
        await rec.expect(ReceiptChange, since=mark, path="fence.txt", new_state=P)
        assert rec.watcher.receipts(run)[0].state is UNSAFE
        assert not rec.watcher.is_ready(run)
        # retargeted inside the root (atomically, as `ln -sfn` does), it counts
        mark = rec.mark()
        write(workspace / "data" / "ok.txt")
        (workspace / "tmp-link").symlink_to("data/ok.txt")
        os.replace(workspace / "tmp-link", workspace / "ok.txt")
        await rec.expect(ReceiptChange, since=mark, path="ok.txt", old_state=UNSAFE, new_state=P)
        await rec.expect(ReadinessChange, since=mark, run_id=run, ready=True)


async def test_file_appearing_behind_a_symlinked_directory(store, workspace):
    (workspace / "real").mkdir()
    (workspace / "link").symlink_to("real")
    run = park_missing(store, workspace, ["link/ok.txt"])
    async with watching(store) as rec:
        # the event names real/ok.txt; the index maps it back to the required link/ok.txt
        write(workspace / "real" / "ok.txt")
        await rec.expect(ReceiptChange, run_id=run, path="link/ok.txt", new_state=P)
        # retarget the directory link elsewhere: the receipt is gone again
        mark = rec.mark()
        (workspace / "empty").mkdir()
        (workspace / "link").unlink()
        (workspace / "link").symlink_to("empty")
        await rec.expect(ReceiptChange, since=mark, path="link/ok.txt", new_state=M)


async def test_rename_into_place(store, workspace):
    """The atomic-write pattern: write a temporary file, then rename it over the name."""
    run = park_missing(store, workspace, ["reports/summary.md"])
    (workspace / "reports").mkdir()
    async with watching(store) as rec:
        temporary = workspace / "reports" / ".summary.md.tmp"
        temporary.write_text("# done")
        os.replace(temporary, workspace / "reports" / "summary.md")
        await rec.expect(ReceiptChange, run_id=run, path="reports/summary.md", new_state=P)
        assert rec.watcher.ready_run_ids() == {run}
        assert all(r.path == "reports/summary.md" for r in rec.matching(ReceiptChange))


async def test_parent_directory_renamed_away_and_back(store, workspace):
    run = park_missing(store, workspace, ["receipts/a.txt", "receipts/b.txt"])
    write(workspace / "receipts" / "a.txt")
    write(workspace / "receipts" / "b.txt")
    async with watching(store) as rec:
        assert rec.watcher.is_ready(run)
        (workspace / "receipts").rename(workspace / "old")
        await rec.expect(ReadinessChange, run_id=run, ready=False)
        mark = rec.mark()
        await rec.wait_for(
            lambda r: isinstance(r, ReceiptChange) and r.new_state is M and r.path.endswith("b.txt")
        )
        (workspace / "old").rename(workspace / "receipts")
        await rec.expect(ReadinessChange, since=mark, run_id=run, ready=True)
        assert [c.state for c in rec.watcher.receipts(run)] == [P, P]


async def test_workspace_removed_and_recreated(store, workspace):
    write(workspace / "ok.txt")
    run = park_missing(store, workspace, ["ok.txt", "later.txt"])
    root = as_root(workspace)
    async with watching(store) as rec:
        shutil.rmtree(workspace)
        gone = await rec.expect(WorkspaceChange, workspace=root, state=WorkspaceState.MISSING)
        assert gone.detail
        await rec.expect(ReceiptChange, run_id=run, path="ok.txt", old_state=P, new_state=M)
        assert rec.watcher.workspaces() == {root: WorkspaceState.MISSING}

        mark = rec.mark()
        workspace.mkdir()
        write(workspace / "ok.txt")
        await rec.expect(WorkspaceChange, since=mark, workspace=root, state=WorkspaceState.OK)
        await rec.expect(ReceiptChange, since=mark, path="ok.txt", new_state=P)
        # the new directory is watched again: a later file is noticed
        mark = rec.mark()
        write(workspace / "later.txt")
        await rec.expect(ReceiptChange, since=mark, path="later.txt", new_state=P)
        await rec.expect(ReadinessChange, since=mark, run_id=run, ready=True)


async def test_workspace_renamed_away_is_reported_missing(store, workspace):
    run = park_missing(store, workspace, ["ok.txt"])
    async with watching(store) as rec:
        workspace.rename(workspace.with_name("moved"))
        await rec.expect(
            WorkspaceChange, workspace=as_root(workspace), state=WorkspaceState.MISSING
        )
        # events inside the moved directory do not count for the old root
        write(workspace.with_name("moved") / "ok.txt")
        mark = rec.mark()
        workspace.mkdir()
        await rec.expect(WorkspaceChange, since=mark, state=WorkspaceState.OK)
        assert rec.watcher.receipts(run)[0].state is M


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every directory regardless of mode")
async def test_unreadable_workspace_is_reported(store, workspace):
    park_missing(store, workspace, ["ok.txt"])
    async with watching(store) as rec:
        workspace.chmod(0)
        try:
            await rec.expect(WorkspaceChange, state=WorkspaceState.UNREADABLE)
        finally:
            workspace.chmod(0o755)
        await rec.expect(WorkspaceChange, state=WorkspaceState.OK)


async def test_two_runs_sharing_a_receipt_each_get_a_record(store, workspace, tmp_path: Path):
    first = park_missing(store, workspace, ["shared.txt"], title="one")
    second = park_missing(store, workspace, ["shared.txt", "own.txt"], title="two")
    async with watching(store) as rec:
        write(workspace / "shared.txt")
        await rec.expect(ReceiptChange, run_id=first, new_state=P)
        await rec.expect(ReceiptChange, run_id=second, new_state=P)
        await rec.expect(ReadinessChange, run_id=first, ready=True)
        assert rec.watcher.ready_run_ids() == {first}


async def test_workspace_replaced_by_a_file_then_a_directory_again(store, workspace):
    run = park_missing(store, workspace, ["ok.txt"])
    root = as_root(workspace)
    async with watching(store) as rec:
        workspace.rmdir()
        workspace.write_text("not a directory")
        await rec.expect(WorkspaceChange, workspace=root, state=WorkspaceState.MISSING)
        mark = rec.mark()
        workspace.unlink()
        workspace.mkdir()
        write(workspace / "ok.txt")
        await rec.expect(WorkspaceChange, since=mark, workspace=root, state=WorkspaceState.OK)
        await rec.expect(ReadinessChange, since=mark, run_id=run, ready=True)


async def test_a_directory_above_the_workspace_renamed_is_noticed(store, tmp_path):
    """No event reaches the root's own watch; the probe of the directories above finds it
    (the reconcile's sweep of every root is off here)."""
    workspace = tmp_path / "parent" / "ws"
    workspace.mkdir(parents=True)
    park_missing(store, workspace, ["ok.txt"])
    root = as_root(workspace)
    options = {"probe_interval_s": 0.05, "reconcile_interval_s": 3600.0}
    async with watching(store, **options) as rec:
        (tmp_path / "parent").rename(tmp_path / "elsewhere")
        await rec.expect(WorkspaceChange, workspace=root, state=WorkspaceState.MISSING)
        mark = rec.mark()
        workspace.mkdir(parents=True)
        await rec.expect(WorkspaceChange, since=mark, workspace=root, state=WorkspaceState.OK)
