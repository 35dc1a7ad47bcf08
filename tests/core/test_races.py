"""Races between real OS processes (multiprocessing, spawn) on one database.

- Four claimers drain one queue: every run claimed exactly once, by the process that says it
  claimed it, every run completed, and no error reaches a caller (SQLite's busy/locked
  handling stays inside the core).
- A reviewer races a worker on the same claimed run, many times: exactly one of them wins,
  the other gets ``conflict`` or ``invalid_transition``, and exactly one event is written.

SQLite drains 2,000 runs; PostgreSQL (when configured) a smaller queue, since the
PostgreSQL backend's own suite runs the large version.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from coretest_support import bulk_seed, claim_until_empty, race_reviewer, race_worker, wait_all

from parkbench.core.db.engine import make_engine, system_clock
from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import events, runs
from parkbench.core.store import Store

CLAIMERS = 4
QUEUE = {"sqlite": 2_000, "postgres": 600}
TRIALS = {"sqlite": 60, "postgres": 40}
SPAWN = multiprocessing.get_context("spawn")
PROCESS_TIMEOUT_S = 600  # generous: CI machines are shared; a hang still fails


def _seed(db_url: str, workspace: Path, count: int) -> list[int]:
    Store.open(db_url).close()  # create the schema before any child opens the database
    engine = make_engine(db_url)
    try:
        queued, _ = bulk_seed(engine, workspace, queued=count, start_ms=system_clock() - 60_000)
    finally:
        engine.dispose()
    return queued


def test_four_processes_drain_the_queue_without_double_claims_or_errors(
    db_url: str, backend: str, workspace: Path, tmp_path: Path
) -> None:
    seeded = _seed(db_url, workspace, QUEUE[backend])
    barrier = SPAWN.Barrier(CLAIMERS)
    outputs = [tmp_path / f"claimer-{i}.json" for i in range(CLAIMERS)]
    processes = [
        SPAWN.Process(target=claim_until_empty, args=(db_url, f"p{i}", barrier, str(out)))
        for i, out in enumerate(outputs)
    ]
    started = time.monotonic()
    for process in processes:
        process.start()
    wait_all(processes, PROCESS_TIMEOUT_S)
    elapsed = time.monotonic() - started
    reports = [json.loads(out.read_text()) for out in outputs]

    errors = [e for r in reports for e in r["errors"]]
    assert errors == [], errors[:5]
    claimed_by = {f"p{i}": r["claimed"] for i, r in enumerate(reports)}
    every_claim = [run_id for claims in claimed_by.values() for run_id in claims]
    assert len(every_claim) == len(set(every_claim)), "a run was claimed twice"
    assert sorted(every_claim) == sorted(seeded), "a run was lost"
    # Real contention: more than one process got work.
    assert sum(1 for claims in claimed_by.values() if claims) >= 2, {
        k: len(v) for k, v in claimed_by.items()
    }

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            statuses = Counter(
                conn.execute(sa.select(runs.c.status).where(runs.c.id.in_(seeded))).scalars()
            )
            claim_events = conn.execute(
                sa.select(events.c.run_id, events.c.actor).where(events.c.action == "claim")
            ).all()
            completes = Counter(
                conn.execute(
                    sa.select(events.c.run_id).where(events.c.action == "complete")
                ).scalars()
            )
    finally:
        engine.dispose()
    assert statuses == {RunStatus.COMPLETED.value: len(seeded)}
    per_run = Counter(run_id for run_id, _ in claim_events)
    assert set(per_run) == set(seeded) and set(per_run.values()) == {1}
    assert set(completes) == set(seeded) and set(completes.values()) == {1}
    # Each claim event names the process that reported the claim.
    owner = {run_id: name for name, claims in claimed_by.items() for run_id in claims}
    assert all(owner[run_id] == actor for run_id, actor in claim_events)
    print(f"{backend}: {len(seeded)} runs drained by {CLAIMERS} processes in {elapsed:.1f} s")


def test_a_reviewer_racing_a_worker_on_one_run_has_exactly_one_winner(
    db_url: str, backend: str, workspace: Path, tmp_path: Path
) -> None:
    count = TRIALS[backend]
    seeded = _seed(db_url, workspace, count)
    worker_trials: list[tuple[int, str]] = []
    reviewer_trials: list[tuple[int, int]] = []
    with Store.open(db_url) as store:
        for _ in range(count):
            claim = store.claim_next("racer", lease_s=3600)
            assert claim is not None
            version = store.get_run(claim.run_id, check_disk=False).run.version
            worker_trials.append((claim.run_id, claim.claim_token))
            reviewer_trials.append((claim.run_id, version))
    assert sorted(r for r, _ in worker_trials) == sorted(seeded)

    barrier = SPAWN.Barrier(2)
    worker_out, reviewer_out = tmp_path / "worker.json", tmp_path / "reviewer.json"
    processes = [
        SPAWN.Process(target=race_worker, args=(db_url, worker_trials, barrier, str(worker_out))),
        SPAWN.Process(
            target=race_reviewer, args=(db_url, reviewer_trials, barrier, str(reviewer_out))
        ),
    ]
    for process in processes:
        process.start()
    wait_all(processes, PROCESS_TIMEOUT_S)
    worker = json.loads(worker_out.read_text())["outcomes"]
    reviewer = json.loads(reviewer_out.read_text())["outcomes"]
    assert len(worker) == len(reviewer) == count, (worker[-1:], reviewer[-1:])

    with Store.open(db_url) as store:
        wins = Counter()
        for i, ((run_id, _), w, r) in enumerate(zip(worker_trials, worker, reviewer, strict=True)):
            assert sorted([w, r]) in (
                ["conflict", "ok"],
                ["invalid_transition", "ok"],
            ), (i, w, r)
            detail = store.get_run(run_id, check_disk=False)
            if w == "ok":
                wins["worker"] += 1
                expected = RunStatus.COMPLETED if i % 2 == 0 else RunStatus.NEEDS_ATTENTION
            else:
                wins["reviewer"] += 1
                expected = RunStatus.FAILED if i % 2 == 0 else RunStatus.QUEUED
            assert detail.run.status is expected, (i, w, r, detail.run.status)
            # enqueue, claim, and exactly one event from the winner
            assert [e.action for e in detail.events][:2] == ["enqueue", "claim"]
            assert len(detail.events) == 3, [e.action for e in detail.events]
            winner = detail.events[-1]
            assert winner.actor_kind == ("worker" if w == "ok" else "human")
    print(f"{backend}: {dict(wins)} over {count} races")
