"""Issue 15.11: `q` while a bulk action runs asks whether to stop after the current batch;
yes writes that batch, leaves the rest untouched and quits; no lets the action finish."""

from __future__ import annotations

import threading

from tuitest_support import (
    make_app,
    press,
    running,
    settle,
    type_text,
    wait_for_exit,
    wait_until,
)

from parkbench.core.lifecycle import RunStatus
from parkbench.tui.screens import loading
from parkbench.tui.screens.confirm_modal import ConfirmModal


def status_of(store, run_id: int) -> RunStatus:  # type: ignore[no-untyped-def]
    return store.get_run(run_id, check_disk=False).run.status


def _gated_review(store, monkeypatch):  # type: ignore[no-untyped-def]
    """store.review waits for ``gate`` on its first call: the action is mid-batch."""
    gate, entered = threading.Event(), threading.Event()
    real = store.review

    def review(*args, **kwargs):  # type: ignore[no-untyped-def]
        entered.set()
        assert gate.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "review", review)
    monkeypatch.setattr(loading, "ACTION_BATCH", 1, raising=False)
    return gate, entered


async def test_q_during_a_bulk_action_stops_after_the_batch(store, parked, monkeypatch):
    gate, entered = _gated_review(store, monkeypatch)
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "a")
        await settle(pilot)
        await press(pilot, "y")  # mark all three
        await settle(pilot)
        await press(pilot, "r")
        await settle(pilot)  # the marked runs' block reasons are counted first
        await type_text(pilot, "batch retry")
        await press(pilot, "ctrl+s")
        await wait_until(pilot, entered.is_set, 10, "the first batch to start")
        await press(pilot, "q")
        assert isinstance(app.screen, ConfirmModal)
        assert app.is_running
        await press(pilot, "y")
        gate.set()
        await wait_for_exit(app)
    statuses = [status_of(store, run_id) for run_id in parked]
    assert statuses.count(RunStatus.REQUEUED) == 1, statuses
    assert statuses.count(RunStatus.NEEDS_ATTENTION) == 2, statuses


async def test_answering_no_lets_the_action_finish(store, parked, monkeypatch):
    gate, entered = _gated_review(store, monkeypatch)
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "a")
        await settle(pilot)
        await press(pilot, "y")
        await settle(pilot)
        await press(pilot, "r")
        await settle(pilot)  # the marked runs' block reasons are counted first
        await type_text(pilot, "batch retry")
        await press(pilot, "ctrl+s")
        await wait_until(pilot, entered.is_set, 10, "the first batch to start")
        await press(pilot, "q")
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "n")
        gate.set()
        await settle(pilot)
        assert app.is_running
    assert all(status_of(store, run_id) is RunStatus.REQUEUED for run_id in parked)
