"""Races across OS processes on one PostgreSQL database: no double claim, no lost run, no
error leaking out of lock contention, and exactly one winner when two parties act on a run.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import events, runs
from parkbench.core.store import Store
from pg.pgtest_support import act_in_step, claim_until_empty, seed_queued

SPAWN = multiprocessing.get_context("spawn")
WORKERS = 8
RUNS = 10_000


def _collect(results, count: int) -> list:
    return [results.get(timeout=300) for _ in range(count)]


def test_eight_processes_claim_ten_thousand_runs_exactly_once(
    pg_url: str, pg_store: Store, tmp_path: Path
) -> None:
    seeded = seed_queued(pg_store.engine, str(tmp_path), RUNS, now_ms=pg_store.clock())
    barrier = SPAWN.Barrier(WORKERS)
    results = SPAWN.Queue()
    procs = [
        SPAWN.Process(target=claim_until_empty, args=(pg_url, f"w{i}", barrier, results))
        for i in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    reports = _collect(results, WORKERS)
    for proc in procs:
        proc.join(timeout=60)

    assert [r["errors"] for r in reports] == [[]] * WORKERS
    done = [run_id for r in reports for run_id in r["done"]]
    doubles = [run_id for run_id, n in Counter(done).items() if n > 1]
    assert doubles == []  # 0 double
    assert sorted(done) == sorted(seeded)  # 0 lost
    assert all(len(r["done"]) > 0 for r in reports), "every process got work"
    # claim_next said "nothing" only when nothing was claimable: at most the runs the
    # other processes had locked in claims of their own were still queued at that moment.
    assert all(0 <= r["queued"] <= WORKERS - 1 for r in reports), [r["queued"] for r in reports]

    with pg_store.engine.connect() as conn:
        statuses = dict(
            conn.execute(sa.select(runs.c.status, sa.func.count()).group_by(runs.c.status)).all()
        )
        assert statuses == {RunStatus.COMPLETED.value: RUNS}
        per_run = conn.execute(
            sa.select(
                events.c.action, sa.func.count(), sa.func.count(sa.distinct(events.c.run_id))
            ).group_by(events.c.action)
        ).all()
    # One claim and one completion per run: every transition audited exactly once.
    assert {a: (n, d) for a, n, d in per_run} == {
        "enqueue": (RUNS, RUNS),
        "claim": (RUNS, RUNS),
        "complete": (RUNS, RUNS),
    }


def _head_to_head(url: str, plans: dict[str, list[tuple]]) -> dict[str, list[str]]:
    """Run two participants in lockstep (a barrier before every trial); their outcomes."""
    barrier = SPAWN.Barrier(len(plans))
    results = SPAWN.Queue()
    procs = [
        SPAWN.Process(target=act_in_step, args=(url, role, plan, barrier, results))
        for role, plan in plans.items()
    ]
    for proc in procs:
        proc.start()
    outcomes = dict(_collect(results, len(procs)))
    for proc in procs:
        proc.join(timeout=60)
    return outcomes


def _versions(store: Store, run_ids: list[int]) -> dict[int, int]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(runs.c.id, runs.c.version).where(runs.c.id.in_(run_ids)))
        return dict(rows.all())


TRIALS = 60


def test_a_reviewer_and_the_worker_acting_at_once_exactly_one_wins(
    pg_url: str, pg_store: Store, tmp_path: Path
) -> None:
    seeded = seed_queued(pg_store.engine, str(tmp_path), TRIALS, now_ms=pg_store.clock())
    claims = [pg_store.claim_next("agent", lease_s=600) for _ in seeded]
    assert all(claims)
    versions = _versions(pg_store, seeded)
    # Requeue applies to parked runs only, so against a claimed run it must lose; release
    # and fail are legal on a claimed run and race the completion for real.
    actions = ["release", "fail", "requeue"]
    plans = {
        "worker": [(c.run_id, "complete", c.claim_token) for c in claims],
        "reviewer": [
            (c.run_id, actions[i % 3], ("claimed", versions[c.run_id]))
            for i, c in enumerate(claims)
        ],
    }
    outcomes = _head_to_head(pg_url, plans)
    for i, claim in enumerate(claims):
        pair = (outcomes["worker"][i], outcomes["reviewer"][i])
        assert sorted(pair).count("ok") == 1, (claim.run_id, actions[i % 3], pair)
        if actions[i % 3] == "requeue":
            assert pair[0] == "ok"  # a claimed (or by then completed) run is never requeued
        loser = pair[1] if pair[0] == "ok" else pair[0]
        assert loser in ("conflict", "invalid_transition"), pair
    with pg_store.engine.connect() as conn:
        final = dict(conn.execute(sa.select(runs.c.id, runs.c.status)).all())
        moves = Counter(
            conn.execute(
                sa.select(events.c.run_id).where(events.c.from_status == "claimed")
            ).scalars()
        )
    for i, claim in enumerate(claims):
        worker_won = outcomes["worker"][i] == "ok"
        expected = (
            "completed" if worker_won else {"release": "queued", "fail": "failed"}[actions[i % 3]]
        )
        assert final[claim.run_id] == expected
        assert moves[claim.run_id] == 1  # one move out of "claimed", audited once


@pytest.mark.parametrize("with_expectation", [True, False], ids=["seen-version", "blind"])
def test_two_reviewers_acting_on_one_parked_run_one_gets_a_refusal(
    pg_url: str, pg_store: Store, tmp_path: Path, with_expectation: bool
) -> None:
    seeded = seed_queued(pg_store.engine, str(tmp_path), TRIALS, now_ms=pg_store.clock())
    for _ in seeded:
        claim = pg_store.claim_next("agent", lease_s=600)
        assert claim is not None
        pg_store.block(claim.run_id, claim.claim_token, reason="needs a decision")
    versions = _versions(pg_store, seeded)
    other = ["requeue", "fail", "release"]

    def seen(run_id: int) -> tuple[str, int] | None:
        return ("needs_attention", versions[run_id]) if with_expectation else None

    plans = {
        "alice": [(run_id, "requeue", seen(run_id)) for run_id in seeded],
        "bob": [(run_id, other[i % 3], seen(run_id)) for i, run_id in enumerate(seeded)],
    }
    outcomes = _head_to_head(pg_url, plans)
    refusals = {"conflict"} if with_expectation else {"conflict", "invalid_transition"}
    for i, run_id in enumerate(seeded):
        pair = (outcomes["alice"][i], outcomes["bob"][i])
        assert sorted(pair).count("ok") == 1, (run_id, other[i % 3], pair)
        assert (set(pair) - {"ok"}) <= refusals, pair
    with pg_store.engine.connect() as conn:
        successors = Counter(
            conn.execute(
                sa.select(runs.c.previous_run_id).where(runs.c.previous_run_id.is_not(None))
            ).scalars()
        )
        human_moves = Counter(
            conn.execute(
                sa.select(events.c.run_id).where(
                    events.c.actor_kind == "human", events.c.from_status == "needs_attention"
                )
            ).scalars()
        )
    for i, run_id in enumerate(seeded):
        requeued = outcomes["alice"][i] == "ok" or (
            other[i % 3] == "requeue" and outcomes["bob"][i] == "ok"
        )
        assert successors[run_id] == (1 if requeued else 0)  # never two successors
        assert human_moves[run_id] == 1
