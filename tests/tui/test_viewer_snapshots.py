"""SVG snapshots of the file viewer (issue 20 §2) at a fixed size: a text receipt, a
binary file and a directory listing. Update with ``--snapshot-update`` after checking."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from tuitest_support import SIZE, make_app, park, settle

from parkbench.core.store import Store

#: Paths show on screen, so the workspace sits at the same place on every run.
WORKSPACE = Path("/tmp/parkbench-snapshot/viewer")


@pytest.fixture
def viewer_store(tmp_path: Path, clock):  # type: ignore[no-untyped-def]
    shutil.rmtree(WORKSPACE, ignore_errors=True)
    (WORKSPACE / "out").mkdir(parents=True)
    (WORKSPACE / "logs").mkdir()
    (WORKSPACE / "out" / "report.md").write_text(
        "# Nightly report\n\nAll 12 partitions backfilled.\n"
        "Hostile: \x1b[31mred\x1b[0m [bold]markup[/] \u202eevil\n\tindented line\n"
    )
    (WORKSPACE / "out" / "image.png").write_bytes(bytes(range(256)) * 2)
    (WORKSPACE / "logs" / "run.log").write_text("started\n" * 100)
    (WORKSPACE / "notes.txt").write_text("see report\n")
    with Store.open(f"sqlite:///{tmp_path / 'snap.db'}", clock=clock) as store:
        park(
            store,
            WORKSPACE,
            "Backfill the partitions",
            "Done, but check the report",
            worker="agent-ada",
            required=["out/report.md", "out/image.png", "out/missing.json"],
            clock=clock,
        )
        yield store


def viewer_app(store: Store):  # type: ignore[no-untyped-def]
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    return make_app(store)


@pytest.mark.parametrize(
    ("choice", "presses"),
    [("text", 0), ("binary", 1), ("directory", 3)],
    ids=["text", "binary", "directory"],
)
def test_viewer(snap_compare, viewer_store, choice, presses):
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        for _ in range(presses):
            await pilot.press("down")
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(viewer_app(viewer_store), terminal_size=SIZE, run_before=run_before)
