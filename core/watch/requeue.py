"""The optional auto-action: requeue, as the system, runs whose missing receipts arrived."""

from __future__ import annotations

import asyncio

from parkbench.core.errors import ParkbenchError
from parkbench.core.lifecycle import Action, ActorKind, RunStatus
from parkbench.core.records import Expectation
from parkbench.core.store import Store
from parkbench.core.watch.index import ParkedRun, ReceiptIndex
from parkbench.core.watch.records import AutoRequeued, RunDropped, WatchRecord

#: Only runs parked by this action (completion found receipts missing) are requeued.
PARKED_FOR_RECEIPTS = Action.PARK_MISSING.value
_SHOWN_PATHS = 5


def reason_for(run: ParkedRun) -> str:
    shown = ", ".join(run.required[:_SHOWN_PATHS])
    if len(run.required) > _SHOWN_PATHS:
        shown += f", and {len(run.required) - _SHOWN_PATHS} more"
    return (
        f"all {len(run.required)} required receipt(s) are present now ({shown}); "
        "requeued automatically by the receipt watcher"
    )


def requeue_runs(store: Store, runs: list[ParkedRun], actor: str) -> list[AutoRequeued]:
    """Requeue each run if it is still parked at the version the watcher saw (blocking).

    The expectation makes this a conditional transition like a reviewer's: if anything moved
    the run since (a human, another watcher, a second event), it fails with ``conflict``.
    """
    results: list[AutoRequeued] = []
    for run in runs:
        try:
            [result] = store.review(
                Action.REQUEUE,
                [run.run_id],
                reason=reason_for(run),
                actor=actor,
                expected={run.run_id: Expectation(RunStatus.NEEDS_ATTENTION, run.version)},
                actor_kind=ActorKind.SYSTEM,
            )
        except ParkbenchError as error:  # the database is away: the watcher retries later
            results.append(AutoRequeued(run.run_id, False, None, error.code, error.message))
            continue
        if result.ok:
            results.append(AutoRequeued(run.run_id, True, result.new_run_id))
        else:
            assert result.error is not None
            refused = result.error
            results.append(AutoRequeued(run.run_id, False, None, refused.code, refused.message))
    return results


class AutoRequeue:
    """The watcher's auto-requeue step (mixed into
    :class:`parkbench.core.watch.watcher.ReceiptWatcher`)."""

    store: Store
    actor: str
    auto_requeue: bool
    _index: ReceiptIndex
    _candidates: set[int]  # ready runs to consider
    _attempted: set[tuple[int, int]]  # (run, version) auto-requeued once
    _nudged: bool

    async def _requeue_ready(self, records: list[WatchRecord]) -> None:
        """Requeue (as the system) runs parked for missing receipts that are now all present.

        Each ``(run, version)`` is tried once, and the store applies it only if the run is
        still parked at that version: under repeated events, or several watchers at once, a
        run is requeued at most once.
        """
        candidates, self._candidates = self._candidates, set()
        if not self.auto_requeue:
            return
        due: list[ParkedRun] = []
        for run_id in sorted(candidates):
            run = self._index.get(run_id)
            if run is None or not self._index.is_ready(run_id):
                continue
            if (
                run.parked_by == PARKED_FOR_RECEIPTS
                and (run_id, run.version) not in self._attempted
            ):
                due.append(run)
        if not due:
            return
        self._attempted.update((run.run_id, run.version) for run in due)
        by_id = {run.run_id: run for run in due}
        for result in await asyncio.to_thread(requeue_runs, self.store, due, self.actor):
            records.append(result)
            if result.ok:
                if (gone := self._index.remove(result.run_id)) is not None:
                    records.append(RunDropped(result.run_id, gone.workspace))
            elif result.error_code == "database":  # try again on a later step
                run = by_id[result.run_id]
                self._attempted.discard((run.run_id, run.version))
                self._candidates.add(run.run_id)
            else:
                self._nudged = True  # it moved under us: fetch it again
