"""RootWatches probes: the directories above the roots, not every root, unless one changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from parkbench.core.watch import WorkspaceState, disk
from parkbench.core.watch.roots import RootWatches


async def test_a_probe_stats_the_roots_only_below_a_changed_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a" / "ws1").mkdir(parents=True)
    (tmp_path / "b" / "ws2").mkdir(parents=True)
    one, two = (os.path.realpath(tmp_path / p) for p in ("a/ws1", "b/ws2"))
    probed: list[str] = []
    real_probe = disk.probe_root

    def counting(root: str) -> disk.RootStatus:
        probed.append(root)
        return real_probe(root)

    monkeypatch.setattr(disk, "probe_root", counting)
    roots = RootWatches(lambda *_: None, debounce_ms=50, step_ms=10, roots_per_watch=25)
    wanted = frozenset({one, two})
    try:
        await roots.sync(wanted)
        assert sorted(probed) == [one, two]  # first sight
        probed.clear()
        assert (await roots.sync(wanted, probe_ancestors=True)).records == []
        assert probed == []  # nothing above them changed: no root stat-ed

        (tmp_path / "a").rename(tmp_path / "a-moved")  # no event reaches ws1's watch
        synced = await roots.sync(wanted, probe_ancestors=True)
        assert probed == [one]
        assert [(r.workspace, r.state) for r in synced.records] == [(one, WorkspaceState.MISSING)]
        probed.clear()
        await roots.sync(wanted, sweep=True)
        assert sorted(probed) == [one, two]
    finally:
        await roots.close()


def test_parents_of_a_root() -> None:
    assert disk.parents("/a/b/ws") == ["/a/b", "/a", "/"]
    assert disk.parents("/") == []
