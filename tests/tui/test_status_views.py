"""Issue 15.9: each status view offers what the lifecycle allows there, hides the rest,
and names its sort after the column it sorts (the README says the same)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tuitest_support import make_app, press, running, screen_text, settle

from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store

README = Path(__file__).resolve().parents[2] / "README.md"
#: view -> (footer labels shown, footer labels hidden)
OFFERED = {
    RunStatus.QUEUED: ({"Fail", "Mark", "Mark all"}, {"Requeue", "Release"}),
    RunStatus.CLAIMED: ({"Fail", "Release", "Mark"}, {"Requeue"}),
    RunStatus.FAILED: (set(), {"Requeue", "Fail", "Release", "Mark", "Mark all"}),
}


def footer_labels(app) -> str:  # type: ignore[no-untyped-def]
    return screen_text(app).splitlines()[-1]


@pytest.mark.parametrize("status", list(OFFERED), ids=lambda s: s.value)
async def test_a_view_offers_only_its_actions(store: Store, parked, workspace, status):
    store.enqueue("Queued work", workspace, actor="ci")
    store.claim_next("agent-q")  # claims the oldest queued run... none is: parked are blocked
    store.enqueue("More queued work", workspace, actor="ci")
    store.force_fail([parked[2]], reason="gone", actor="bob")
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        app.main.show_status(status)
        await settle(pilot)
        assert app.main.runs.highlighted is not None
        shown, hidden = OFFERED[status]
        footer = footer_labels(app)
        for label in shown:
            assert f" {label}" in footer, (label, footer)
        for label in hidden:
            assert f" {label} " not in f"{footer} ", (label, footer)
        if not shown:  # a browsing view: space and `a` do nothing
            await press(pilot, "space", "a")
            await settle(pilot)
            assert app.main.runs.marks == {} and app.screen is app.main


async def test_the_sort_label_names_the_column_it_sorts(store: Store, parked, workspace):
    store.enqueue("Queued work", workspace, actor="ci")
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        assert "sort blocked time" in screen_text(app).splitlines()[1]
        await press(pilot, "s")  # queued: the column is "Since"
        await settle(pilot)
        lines = screen_text(app).splitlines()
        assert "Since" in lines[2] and "Blocked" not in lines[2]
        assert "sort time in status" in lines[1]


def test_the_readme_says_what_the_views_offer() -> None:
    text = README.read_text(encoding="utf-8")
    assert "(read-only)" not in text.split("## Using it", 1)[1].split("\n## ", 1)[0]
    assert "queued — fail; claimed — fail, release" in text
