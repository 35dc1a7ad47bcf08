"""SVG snapshot of the Causes screen (``c``) on the review snapshots' data set (SQLite).

Update after an intended UI change with
``pytest tests/tui/test_causes_snapshot.py --snapshot-update`` and review the SVG.
"""

from __future__ import annotations

from test_snapshots import snap_store, snapshot_app  # noqa: F401 (a fixture)
from tuitest_support import SIZE, settle


def test_causes_screen(snap_compare, snap_store):  # type: ignore[no-untyped-def]  # noqa: F811
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("down")  # the second cause, described below the table
        await settle(pilot)

    assert snap_compare(snapshot_app(snap_store), terminal_size=SIZE, run_before=run_before)
