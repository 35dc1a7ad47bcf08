"""Undo of a requeue racing a worker that claims the new run, in two OS processes (spawn),
many times, on each backend: for every requeue exactly one of them wins. Either the undo
went through (the successor canceled and never claimed, the source parked again) or the
claim did (the successor claimed once, the source still requeued, the undo a ``conflict``);
never both, never neither, and no other error."""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter
from pathlib import Path

from coretest_support import wait_all
from undo_race_support import race_claimer, race_undoer

from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store

TRIALS = {"sqlite": 40, "postgres": 30}
SPAWN = multiprocessing.get_context("spawn")
PROCESS_TIMEOUT_S = 600


def _requeue_one(store: Store, workspace: Path, i: int) -> tuple[int, int]:
    """A fresh run parked and requeued: (source, successor), the successor the one queued run."""
    store.enqueue(f"task {i}", workspace, actor="producer")
    claim = store.claim_next("setup", lease_s=3600)
    assert claim is not None
    store.block(claim.run_id, claim.claim_token, reason="stuck")
    [result] = store.requeue([claim.run_id], reason="go on", actor="alice")
    assert result.ok and result.new_run_id is not None
    return claim.run_id, result.new_run_id


def test_undo_racing_a_claim_of_the_new_run_has_exactly_one_winner(
    db_url: str, backend: str, workspace: Path, tmp_path: Path
) -> None:
    count = TRIALS[backend]
    Store.open(db_url).close()  # the schema, before either child opens the database
    barrier = SPAWN.Barrier(3)
    source = SPAWN.Value("q", 0)
    claimer_out, undoer_out = tmp_path / "claimer.json", tmp_path / "undoer.json"
    processes = [
        SPAWN.Process(target=race_claimer, args=(db_url, count, barrier, str(claimer_out))),
        SPAWN.Process(target=race_undoer, args=(db_url, count, source, barrier, str(undoer_out))),
    ]
    for process in processes:
        process.start()
    pairs: list[tuple[int, int]] = []
    try:
        with Store.open(db_url) as store:
            for i in range(count):
                pairs.append(_requeue_one(store, workspace, i))
                source.value = pairs[-1][0]
                barrier.wait(timeout=120)  # go
                barrier.wait(timeout=120)  # both acted
    finally:
        wait_all(processes, PROCESS_TIMEOUT_S)
    claimer = json.loads(claimer_out.read_text())
    undone = json.loads(undoer_out.read_text())["outcomes"]
    assert claimer["errors"] == [] and len(claimer["claimed"]) == count, claimer
    assert len(undone) == count and set(undone) <= {"ok", "conflict"}, undone
    claimed = [run_id for run_id in claimer["claimed"] if run_id is not None]
    assert len(claimed) == len(set(claimed)), "a run was claimed twice"

    wins: Counter[str] = Counter()
    with Store.open(db_url) as store:
        for (source, new), outcome in zip(pairs, undone, strict=True):
            src = store.get_run(source, check_disk=False, events_limit=None)
            succ = store.get_run(new, check_disk=False, events_limit=None)
            actions = [e.action for e in succ.events]
            if outcome == "ok":
                wins["undo"] += 1
                assert new not in claimed
                assert src.run.status is RunStatus.NEEDS_ATTENTION
                assert succ.run.status is RunStatus.CANCELED
                assert actions == ["enqueue", "undo_requeue"]
                assert src.events[-1].action == "undo_requeue"
            else:
                wins["claim"] += 1
                assert new in claimed
                assert src.run.status is RunStatus.REQUEUED
                assert succ.run.status is RunStatus.CLAIMED
                assert actions == ["enqueue", "claim"]
                assert src.events[-1].action == "requeue"
        # Every successor the claimer took is one the undo lost.
        assert sorted(claimed) == sorted(
            new for (_, new), outcome in zip(pairs, undone, strict=True) if outcome != "ok"
        )
    print(f"{backend}: {dict(wins)} over {count} races")
