"""Helpers shared by the lease-core tests: fast seeding, table scans, race participants.

Not a test module (no ``test_`` prefix). The race participants live here, at module level,
because ``multiprocessing``'s spawn start method imports them by name in each child.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from parkbench.core.causes import cause_key
from parkbench.core.models import events, runs, tasks, workspaces

#: Every table Parkbench writes; scanned whole by the "no raw token anywhere" checks.
TABLES = (workspaces, tasks, runs, events)


def stored_texts(conn: sa.Connection) -> Iterator[tuple[str, str, object, str]]:
    """Every text cell in every Parkbench table: (table, column, row id, value)."""
    for table in TABLES:
        for row in conn.execute(sa.select(table)).mappings():
            for column, value in row.items():
                if isinstance(value, str):
                    yield table.name, column, row["id"], value


def bulk_seed(
    engine: Engine,
    root: str | os.PathLike[str],
    *,
    queued: int,
    parked: int = 0,
    start_ms: int,
    priorities: int = 1,
    title: str = "seeded task",
) -> tuple[list[int], list[int]]:
    """Insert ``queued`` queued runs and ``parked`` parked runs, each on its own task.

    Bulk ``executemany`` on the real schema (the Store would take one transaction per run),
    with the same rows and enqueue/claim/block events the Store itself would have written.
    Returns (queued run ids, parked run ids).
    """
    root = os.path.realpath(root)
    total = queued + parked
    with engine.begin() as conn:
        workspace_id = conn.execute(
            sa.select(workspaces.c.id).where(workspaces.c.root == root)
        ).scalar()
        if workspace_id is None:
            workspace_id = conn.execute(
                workspaces.insert().returning(workspaces.c.id),
                {"name": os.path.basename(root), "root": root, "created_at": start_ms},
            ).scalar_one()
        task_rows = [
            {
                "title": f"{title} {i}",
                "workspace_id": workspace_id,
                "priority": i % priorities,
                "max_attempts": 3,
                "max_runtime_ms": None,
                "metadata_json": "{}",
                "created_at": start_ms + i,
            }
            for i in range(total)
        ]
        task_ids = [
            r[0]
            for r in conn.execute(
                tasks.insert().returning(tasks.c.id, sort_by_parameter_order=True), task_rows
            )
        ]
        run_rows = []
        for i, task_id in enumerate(task_ids):
            is_parked = i >= queued
            at = start_ms + i
            run_rows.append(
                {
                    "task_id": task_id,
                    "workspace_id": workspace_id,
                    "attempt": 1,
                    "max_attempts": 3,
                    "priority": i % priorities,
                    "status": "needs_attention" if is_parked else "queued",
                    "previous_run_id": None,
                    "root_run_id": None,
                    "lineage_depth": 0,
                    "worker": "seed-worker" if is_parked else None,
                    "claim_token_hash": None,
                    "lease_until": None,
                    "heartbeat_at": at if is_parked else None,
                    "max_runtime_ms": None,
                    "runtime_deadline": None,
                    "block_reason": f"seeded block reason {i}" if is_parked else None,
                    "cause_key": cause_key(f"seeded block reason {i}") if is_parked else None,
                    "failure_reason": None,
                    "result_json": None,
                    "metadata_json": "{}",
                    "attempt_limit_overridden": False,
                    "version": 3 if is_parked else 1,
                    "queued_at": at,
                    "claimed_at": at if is_parked else None,
                    "blocked_at": at if is_parked else None,
                    "finished_at": None,
                    "status_changed_at": at,
                }
            )
        run_ids = [
            r[0]
            for r in conn.execute(
                runs.insert().returning(runs.c.id, sort_by_parameter_order=True), run_rows
            )
        ]
        event_rows = []
        for i, (task_id, run_id) in enumerate(zip(task_ids, run_ids, strict=True)):
            at = start_ms + i
            base = {"run_id": run_id, "task_id": task_id, "reason": None, "created_at": at}
            base |= {"token_hash_prefix": None, "details_json": None}
            event_rows.append(
                base
                | {"actor_kind": "worker", "actor": "seed", "action": "enqueue"}
                | {"from_status": None, "to_status": "queued"}
            )
            if i >= queued:
                event_rows.append(
                    base
                    | {"actor_kind": "worker", "actor": "seed-worker", "action": "claim"}
                    | {"from_status": "queued", "to_status": "claimed"}
                )
                event_rows.append(
                    base
                    | {"actor_kind": "worker", "actor": "seed-worker", "action": "block"}
                    | {"from_status": "claimed", "to_status": "needs_attention"}
                    | {"reason": f"seeded block reason {i}"}
                )
        conn.execute(events.insert(), event_rows)
    return run_ids[:queued], run_ids[queued:]


# -- race participants (run in spawned OS processes) --------------------------------------


def _write_result(out_path: str, body: dict[str, Any]) -> None:
    Path(out_path).write_text(json.dumps(body))


def claim_until_empty(url: str, name: str, barrier: Any, out_path: str) -> None:
    """Claim and complete until the queue is empty; record every claim and every error."""
    from parkbench.core.store import Store

    claimed: list[int] = []
    errors: list[str] = []
    store = Store.open(url)
    try:
        barrier.wait(timeout=120)
        while True:
            try:
                claim = store.claim_next(name, lease_s=600)
            except Exception as error:  # recorded, not raised: the test counts errors
                errors.append(f"claim: {error!r}")
                continue
            if claim is None:
                break
            claimed.append(claim.run_id)
            try:
                store.complete(claim.run_id, claim.claim_token)
            except Exception as error:
                errors.append(f"complete {claim.run_id}: {error!r}")
            if len(errors) > 50:
                break
    except Exception:
        errors.append(traceback.format_exc())
    finally:
        store.close()
        _write_result(out_path, {"claimed": claimed, "errors": errors})


def race_worker(url: str, trials: list[tuple[int, str]], barrier: Any, out_path: str) -> None:
    """For each trial: wait at the barrier, then complete (even) or block (odd) the run."""
    from parkbench.core.store import Store

    outcomes: list[str] = []
    store = Store.open(url)
    try:
        for i, (run_id, token) in enumerate(trials):
            barrier.wait(timeout=60)
            try:
                if i % 2 == 0:
                    store.complete(run_id, token)
                else:
                    store.block(run_id, token, reason="worker gave up")
                outcomes.append("ok")
            except Exception as error:
                outcomes.append(getattr(error, "code", repr(error)))
    except Exception:
        outcomes.append(traceback.format_exc())
    finally:
        store.close()
        _write_result(out_path, {"outcomes": outcomes})


def race_reviewer(url: str, trials: list[tuple[int, int]], barrier: Any, out_path: str) -> None:
    """For each trial: wait at the barrier, then force-fail (even) or force-release (odd)
    the run, conditional on the claimed status and version the reviewer saw."""
    from parkbench.core.lifecycle import RunStatus
    from parkbench.core.records import Expectation
    from parkbench.core.store import Store

    outcomes: list[str] = []
    store = Store.open(url)
    try:
        for i, (run_id, version) in enumerate(trials):
            seen = {run_id: Expectation(RunStatus.CLAIMED, version)}
            barrier.wait(timeout=60)
            try:
                act = store.force_fail if i % 2 == 0 else store.force_release
                [result] = act(
                    [run_id], reason="reviewer decided", actor="rita", expected=seen, force=True
                )
                outcomes.append("ok" if result.ok else result.error.code)  # type: ignore[union-attr]
            except Exception as error:
                outcomes.append(getattr(error, "code", repr(error)))
    except Exception:
        outcomes.append(traceback.format_exc())
    finally:
        store.close()
        _write_result(out_path, {"outcomes": outcomes})


def wait_all(processes: list[Any], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for process in processes:
        process.join(max(0.1, deadline - time.monotonic()))
    stuck = [p for p in processes if p.is_alive()]
    for process in stuck:
        process.kill()
        process.join()
    assert not stuck, f"{len(stuck)} race process(es) still running after {timeout_s} s"
    assert all(p.exitcode == 0 for p in processes), [p.exitcode for p in processes]
