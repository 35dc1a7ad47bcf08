"""The optional auto-action: requeue, as the system, runs whose missing receipts arrived."""

from __future__ import annotations

from parkbench.core.errors import ParkbenchError
from parkbench.core.lifecycle import Action, ActorKind, RunStatus
from parkbench.core.records import Expectation
from parkbench.core.store import Store
from parkbench.core.watch.index import ParkedRun
from parkbench.core.watch.records import AutoRequeued

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
