"""Big destructive batches: failing more than 1,000 runs asks the reviewer to type the count
(in the reason modal); a wrong count is refused with nothing changed, the right one fails
them all. A fail of exactly 1,000, or a big requeue, asks for the reason only."""

from __future__ import annotations

from textual.widgets import Input
from tuitest_support import make_app, press, running, screen_text, settle, type_text

from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.records import Expectation
from parkbench.core.store import NewTask, Store
from parkbench.tui.screens.actions import TYPED_CONFIRM_OVER, action_modal
from parkbench.tui.screens.main import MainScreen
from parkbench.tui.screens.reason_modal import ReasonModal

BIG = TYPED_CONFIRM_OVER + 1


def _park_many(store: Store, workspace, count: int) -> None:  # type: ignore[no-untyped-def]
    store.enqueue_many([NewTask(f"backfill {i}", workspace) for i in range(count)], actor="ci")
    while (claim := store.claim_next("agent-1")) is not None:
        store.block(claim.run_id, claim.claim_token, reason="quota exceeded")


def test_only_a_fail_of_more_than_a_thousand_runs_asks_for_the_count() -> None:
    def modal(action: Action, count: int) -> ReasonModal:
        expected = {i: Expectation(RunStatus.NEEDS_ATTENTION, 2) for i in range(1, count + 1)}
        return action_modal(action, expected, 0, {}, marked=True)

    assert modal(Action.FAIL, BIG).confirm_count == BIG
    assert modal(Action.FAIL, TYPED_CONFIRM_OVER).confirm_count is None
    assert modal(Action.REQUEUE, BIG).confirm_count is None
    assert modal(Action.RELEASE, BIG).confirm_count is None


async def test_failing_more_than_a_thousand_runs_needs_the_typed_count(store, workspace):
    _park_many(store, workspace, BIG)
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await press(pilot, "a")
        await settle(pilot)
        await press(pilot, "y")  # mark all 1,001 (the count was asked first)
        await settle(pilot)
        assert len(app.main.runs.marks) == BIG
        await press(pilot, "f")
        modal = app.screen
        assert isinstance(modal, ReasonModal) and modal.confirm_count == BIG
        assert f"Type the number of runs ({BIG:,}) to confirm" in screen_text(app)
        before = store.change_marker()
        await type_text(pilot, "project dropped")
        await press(pilot, "enter")  # no count typed: refused, the count field focused
        assert app.screen is modal and app.focused is modal.query_one("#reason-count", Input)
        assert f"Type {BIG} to confirm" in screen_text(app)
        await type_text(pilot, "1000")
        await press(pilot, "enter")  # the wrong count: refused
        assert app.screen is modal
        assert "'1000' is not the count" in screen_text(app)
        assert store.change_marker() == before
        assert store.counts_by_status()["needs_attention"] == BIG
        field = modal.query_one("#reason-count", Input)
        field.value = ""
        await type_text(pilot, f"{BIG:,}")  # "1,001": the separator is allowed
        await press(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert store.counts_by_status().get("failed") == BIG
        assert notices[-1].message == f"{BIG:,} failed"
