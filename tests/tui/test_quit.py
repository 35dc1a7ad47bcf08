"""Issue 15.10: quitting is clean at any instant, even before the first frame is drawn:
no "Task exception was never retrieved" (a worker's WorkerCancelled) on the terminal."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from tuitest_support import SIZE, make_app, settle


def _record_loop_errors() -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: errors.append(context))
    return errors


@pytest.fixture
def slow_watcher_stop(monkeypatch):  # type: ignore[no-untyped-def]
    """The receipt watcher takes a moment to stop (its threads join), as on a real disk:
    the app is unmounting while the cancelled worker is still running."""
    from parkbench.core.watch import ReceiptWatcher

    real_exit = ReceiptWatcher.__aexit__

    async def slow_exit(self, *exc: object) -> Any:  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.05)
        return await real_exit(self, *exc)

    monkeypatch.setattr(ReceiptWatcher, "__aexit__", slow_exit)


@pytest.mark.parametrize("wait_first", [False, True], ids=["at-once", "after-load"])
async def test_quit_at_start_leaves_no_unretrieved_worker_error(
    store, parked, wait_first, slow_watcher_stop
):
    errors = _record_loop_errors()
    app = make_app(store, live=True, receipts=True)
    async with app.run_test(size=SIZE) as pilot:
        if wait_first:
            await settle(pilot)
        await pilot.press("q")
    assert app.return_code == 0
    for _ in range(3):  # the warning is logged when the orphaned task is collected
        gc.collect()
        await asyncio.sleep(0)
    assert not [str(error.get("exception") or error.get("message")) for error in errors]
