"""The main screen shows parked runs, their receipts, and the highlighted run's detail."""

from __future__ import annotations

import os

from tuitest_support import SIZE, make_app, park, press, screen_text, settle

from parkbench.core.lifecycle import RunStatus
from parkbench.tui.widgets.detail_pane import DetailPane
from parkbench.tui.widgets.run_list import RunList


async def test_list_shows_each_parked_run(store, parked):
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        lines = text.splitlines()
        header = next(line for line in lines if "Run" in line and "Reason" in line)
        assert all(label in header for label in ("Task", "Att", "Worker", "Blocked", "Rcpts"))
        first = next(line for line in lines if "Summarise the logs" in line)
        # id, attempt, worker, blocked since (the app's now is 1 h after the first park),
        # receipts (1 of 2 present), the first line of the reason only
        for cell in (str(parked[0]), "1/3", "agent-1", "1h ago", "1/2", "need an API key"):
            assert cell in first, (cell, first)
        assert "see ticket 12" not in first
        second = next(line for line in lines if "Rebuild the index" in line)
        assert " - " in second and "disk full" in second and "59m ago" in second
        assert "1/1" in next(line for line in lines if "Translate docs" in line)
        # the header counts runs by status
        assert "parked 3" in lines[0] and "queued" not in lines[0]  # zero counts left out
        assert "needs attention (3)" in text


async def test_detail_pane_shows_reason_receipts_lineage_events(store, workspace, clock):
    (workspace / "out").mkdir()
    (workspace / "out" / "present.txt").write_text("ok")
    (workspace / "out" / "folder").mkdir()
    run_id = park(
        store,
        workspace,
        "Ship the report",
        "line one of the reason\nline two\nline three",
        required=["out/present.txt", "out/missing.txt", "out/folder", "link/escape.txt"],
        clock=clock,
    )
    # A symlink created after enqueue that leads out of the workspace: unsafe.
    os.symlink("/", workspace / "link")
    [requeued] = store.requeue([run_id], reason="try again", actor="bob")
    claim = store.claim_next("agent-9")
    assert claim is not None and claim.run_id == requeued.new_run_id
    store.block(claim.run_id, claim.claim_token, reason="still stuck")

    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        detail = app.main.query_one(DetailPane)
        assert detail.detail is not None and detail.detail.run.id == claim.run_id
        body = detail.render_detail(detail.detail).plain
        assert "Ship the report" in body
        assert "still stuck" in body
        assert "Receipts (1/4 present, policy reject)" in body
        assert "✓ present    out/present.txt" in body
        assert "✗ missing    out/missing.txt" in body
        assert "✗ not a file out/folder" in body
        assert "⚠ unsafe     link/escape.txt" in body
        # lineage: the requeued source and this run
        assert f"run {run_id}  attempt 1  requeued" in body
        assert f"run {claim.run_id}  attempt 2  needs_attention  ← this run" in body
        # events with actors and reasons
        assert "human:bob  enqueue  ∅ → queued" in body
        assert "try again" in body
        assert "worker:agent-9  claim  queued → claimed" in body
        assert "worker:agent-9  block  claimed → needs_attention" in body
        # metadata (the contract)
        assert "completion_contract" in body
        # and the pane on screen wraps the full reason
        await press(pilot, "tab")
        assert app.focused is detail
        assert "line three" not in screen_text(app)  # this run's reason is "still stuck"


async def test_cursor_moves_and_detail_follows(store, parked):
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        runs = app.main.query_one(RunList)
        detail = app.main.query_one(DetailPane)
        assert runs.highlighted is not None and runs.highlighted.id == parked[0]
        await press(pilot, "down")
        await settle(pilot)
        assert runs.highlighted.id == parked[1]
        assert detail.detail is not None and detail.detail.run.id == parked[1]
        await press(pilot, "j", "j")  # past the end: stays on the last run
        await settle(pilot)
        assert runs.highlighted.id == parked[2]
        await press(pilot, "k")
        await settle(pilot)
        assert runs.highlighted.id == parked[1]
        await press(pilot, "home")
        await settle(pilot)
        assert runs.highlighted.id == parked[0]
        await press(pilot, "end")
        await settle(pilot)
        assert runs.highlighted.id == parked[2]
        await press(pilot, "pageup")
        await settle(pilot)
        assert runs.highlighted.id == parked[0]
        await press(pilot, "pagedown")
        await settle(pilot)
        assert runs.highlighted.id == parked[2]
        assert "disk full" in screen_text(app)
        await pilot.click(RunList, offset=(10, 2))  # the second row (line 0 is the header)
        await settle(pilot)
        assert runs.highlighted.id == parked[1]


async def test_empty_store_says_so(store):
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "No runs match this view." in text
        assert "No run selected." in text
        assert app.main.runs.highlighted is None
        # no action is offered without a run
        assert app.main.check_action("requeue", ()) is False
        assert store.counts_by_status()[RunStatus.NEEDS_ATTENTION.value] == 0


async def test_receipts_are_checked_again_on_refresh(store, workspace, parked):
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = next(line for line in screen_text(app).splitlines() if "Summarise" in line)
        assert "1/2" in row
        (workspace / "out" / "b.txt").write_text("now here")
        await press(pilot, "ctrl+r")
        await settle(pilot)
        row = next(line for line in screen_text(app).splitlines() if "Summarise" in line)
        assert "2/2" in row
        detail = app.main.query_one(DetailPane).detail
        assert detail is not None and all(a.state.value == "present" for a in detail.artifacts)
