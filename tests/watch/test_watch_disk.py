"""disk.DiskView: the roots and real directories one pass of checks shares, and forgets."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from watchtest_support import write

from parkbench.core.contracts import ArtifactState, check_path
from parkbench.core.watch.disk import DiskView


def test_a_view_trusts_what_it_saw_until_it_forgets_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    write(root / "d" / "a.txt")
    write(outside / "a.txt")
    write(outside / "b.txt")
    view = DiskView()
    [(_, _, first, _)] = view.check_paths([(str(root), "d/a.txt")])
    assert first.state is ArtifactState.PRESENT

    shutil.rmtree(root / "d")
    os.symlink(outside, root / "d")  # now leads out of the workspace
    # The view still takes d for the real directory it saw (what an event from the root
    # must make it forget); a fresh check resolves the link.
    [(_, _, stale, _)] = view.check_paths([(str(root), "d/b.txt")])
    assert stale.state is ArtifactState.PRESENT
    assert check_path(str(root), "d/b.txt").state is ArtifactState.UNSAFE
    view.forget(str(root))
    rechecked = view.check_paths([(str(root), "d/a.txt"), (str(root), "d/b.txt")])
    assert [c.state for _, _, c, _ in rechecked] == [ArtifactState.UNSAFE] * 2
    assert [c.state for _, _, c, _ in DiskView().check_paths([(str(root), "d/a.txt")])] == [
        ArtifactState.UNSAFE
    ]


def test_a_view_resolves_each_root_once(tmp_path: Path) -> None:
    real = tmp_path / "real"
    write(real / "ok.txt")
    os.symlink(real, tmp_path / "linked")
    view = DiskView()
    items = [(str(tmp_path / "linked"), "ok.txt")] * 2
    assert [c.state for _, _, c, _ in view.check_paths(items)] == [ArtifactState.PRESENT] * 2
    # Re-pointing the root's link is a new identity for the root probe to report; until the
    # root is forgotten the view keeps the real root it resolved.
    (tmp_path / "linked").unlink()
    (tmp_path / "empty").mkdir()
    os.symlink(tmp_path / "empty", tmp_path / "linked")
    assert view.check_paths(items[:1])[0][2].state is ArtifactState.PRESENT
    view.forget(str(tmp_path / "linked"))
    assert view.check_paths(items[:1])[0][2].state is ArtifactState.MISSING
