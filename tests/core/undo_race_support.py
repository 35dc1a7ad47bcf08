"""The two sides of the undo-vs-claim race (tests/core/test_undo_race.py), each run in its
own spawned process: importable by name, writing what it saw to a JSON file.

Each trial is paced by the parent through one barrier of three: the parent requeues a run
(its successor the only queued run) and publishes the source in ``source``, then everyone
passes the barrier, the two sides act at once, and everyone meets at the barrier again.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Any


def _write(out_path: str, body: dict[str, Any]) -> None:
    Path(out_path).write_text(json.dumps(body))


def race_claimer(url: str, trials: int, barrier: Any, out_path: str) -> None:
    """For each trial: claim the next queued run (the trial's successor, if still there)."""
    from parkbench.core.store import Store

    claimed: list[int | None] = []
    errors: list[str] = []
    store = Store.open(url)
    try:
        for _ in range(trials):
            barrier.wait(timeout=60)
            try:
                claim = store.claim_next("racer", lease_s=3600)
                claimed.append(None if claim is None else claim.run_id)
            except Exception as error:
                errors.append(getattr(error, "code", repr(error)))
            barrier.wait(timeout=60)
    except Exception:
        errors.append(traceback.format_exc())
    finally:
        store.close()
        _write(out_path, {"claimed": claimed, "errors": errors})


def race_undoer(url: str, trials: int, source: Any, barrier: Any, out_path: str) -> None:
    """For each trial: undo the requeue of the trial's source, as the reviewer saw its
    successor (queued, at the version the requeue created it with)."""
    from parkbench.core.lifecycle import RunStatus
    from parkbench.core.records import Expectation
    from parkbench.core.store import Store

    outcomes: list[str] = []
    store = Store.open(url)
    try:
        for _ in range(trials):
            barrier.wait(timeout=60)
            try:
                store.undo_requeue(
                    source.value,
                    reason="wrong run",
                    actor="rita",
                    expected=Expectation(RunStatus.QUEUED, 1),
                )
                outcomes.append("ok")
            except Exception as error:
                outcomes.append(getattr(error, "code", repr(error)))
            barrier.wait(timeout=60)
    except Exception:
        outcomes.append(traceback.format_exc())
    finally:
        store.close()
        _write(out_path, {"outcomes": outcomes})
