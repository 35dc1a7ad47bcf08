"""Crash safety: SIGKILL worker and reviewer processes mid-transition, then prove nothing broke.

Each backend gets a few hundred real OS processes doing random worker and reviewer
transitions on one database, each killed with SIGKILL 5-80 ms into its life (a third or
more inside a write: a due kill is aimed while fewer were; the report says where).
Afterwards the database must be sound, every run's status explained by its event trail, no
run claimed without a lease, and the expiry sweep must return every orphaned lease to the
queue or park it as the spec says.
The long variant (>= 2,000 kills) is tests/bench/bench_crash.py.

How we know the kills hit the production path (issue 14):
- there is one execution path per backend: every Store write runs through
  StoreBase._write / _write_statements (core/store/base.py); the old direct path, which the
  previous lab switched off by attaching begin/commit listeners, is gone;
- the kill-loop children call public Store methods with no listener, wrapper or tracer
  attached; ``test_the_lab_attaches_nothing_to_the_store`` checks the engine's listeners
  are exactly those make_engine installs;
- a kill counts as "interrupted" only when the database says so at the instant of the kill
  (faults.killsite: the victim is SIGSTOPped, then SQLite's WAL write lock must be held by
  the victim's pid, which only a BEGIN IMMEDIATE from StoreBase._write takes, or
  PostgreSQL's pg_stat_activity must show its backend mid-statement or mid-transaction);
- ``test_sigkilled_cli_claims_lose_nothing`` kills real ``parkbench lease claim``
  processes (the installed console script, checked through /proc/PID/cmdline), the path
  every CLI worker takes, inside their write.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from faults import cli_crash, crashlab, invariants, killsite, recovery
from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store

KILLS = {"sqlite": 200, "postgres": 100}
CLI_KILLS = {"sqlite": 24, "postgres": 12}
SEEDED_TASKS = 150

pytestmark = pytest.mark.slow


def _assert_sound(store: Store) -> invariants.Report:
    assert invariants.integrity_check(store.engine) == ["ok"]
    report = invariants.check(store.engine)
    assert report.violations == [], "\n".join(report.violations)
    return report


@pytest.mark.parametrize("seed", [20260901])
def test_sigkilled_workers_and_reviewers_lose_nothing(
    backend: str, db_url: str, tmp_path: Path, seed: int
) -> None:
    workspace = crashlab.prepare_workspace(tmp_path / "workspace")
    crashlab.seed_database(db_url, workspace, SEEDED_TASKS, seed)

    kills = crashlab.run_kill_loop(db_url, workspace, kills=KILLS[backend], parallel=4, seed=seed)
    print(f"\n[{backend}] {kills.summary()}")

    assert kills.unexpected_exits == [], "children died of something other than SIGKILL"
    assert kills.kills >= KILLS[backend]
    # The point is to interrupt writes: many kills must land inside one, as the database
    # saw it at the kill (faults.killsite), not as the victim reported it.
    assert kills.interrupted >= kills.kills // 4, kills.killed_while
    _assert_recovers(backend, db_url, moved=("completed", "failed", "requeued"))


def test_sigkilled_cli_claims_lose_nothing(backend: str, db_url: str, tmp_path: Path) -> None:
    """Real `parkbench lease claim` processes, killed at random instants and inside their
    claim transaction; then the same checks as above."""
    workspace = crashlab.prepare_workspace(tmp_path / "workspace")
    crashlab.seed_database(db_url, workspace, SEEDED_TASKS, seed=7)

    kills, commands = cli_crash.cli_kill_loop(db_url, kills=CLI_KILLS[backend], seed=7)
    print(f"\n[{backend} CLI] {kills.summary()}")

    assert kills.unexpected_exits == [], kills.unexpected_exits
    assert kills.kills >= CLI_KILLS[backend]
    assert commands and all(
        c[:3] == (str(cli_crash.PARKBENCH), "lease", "claim") for c in commands
    ), commands
    assert kills.interrupted >= CLI_KILLS[backend] // 8, kills.killed_while
    # After the kills the same command still claims: no lock or half-written row left over.
    argv = [str(cli_crash.PARKBENCH), "lease", "claim", "--worker", "survivor", "--json"]
    survivor = subprocess.run([*argv, "--db", db_url], capture_output=True, text=True, timeout=120)
    assert survivor.returncode == 0, survivor.stderr
    assert json.loads(survivor.stdout)["claim_token"]
    _assert_recovers(backend, db_url, moved=("claimed",))  # the claims that got through


def test_the_lab_attaches_nothing_to_the_store(db_url: str) -> None:
    """The lab's children open the store as the CLI does and add no listener to it."""
    with Store.open(db_url) as plain:
        expected = _listener_counts(plain.engine)
    with Store.open(killsite.application_name(db_url, crashlab.child_name(0))) as store:
        crashlab.Child("worker", store, random.Random(0), 0, _no_shared())
        assert _listener_counts(store.engine) == expected


def _listener_counts(engine: sa.Engine) -> dict[str, int]:
    names = ("begin", "commit", "rollback", "before_cursor_execute", "after_cursor_execute")
    return {name: len(getattr(engine.dispatch, name)) for name in names}


def _no_shared() -> crashlab.Shared:
    return crashlab.Shared(ops=[0], doing=[crashlab.IDLE])


def _assert_recovers(backend: str, db_url: str, *, moved: tuple[str, ...]) -> None:
    """Sound after the kills, after sweeping every orphaned lease, after draining the queue;
    ``moved``: statuses some runs must have reached during the kills."""
    with Store.open(db_url) as store:
        if backend == "sqlite":
            # A checkpoint moves every committed frame into the file; still sound after it.
            with store.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        before = _assert_sound(store)
        assert before.runs >= SEEDED_TASKS
        assert sum(before.by_status.get(s, 0) for s in moved) > 0, before.by_status

        swept = recovery.sweep_past_every_lease(store)
        assert swept.violations == [], swept.violations
        after = _assert_sound(store)
        assert after.by_status.get(RunStatus.CLAIMED.value, 0) == 0

        recovery.drain(store, swept)
        assert swept.violations == [], swept.violations
        final = _assert_sound(store)
        assert final.by_status.get(RunStatus.QUEUED.value, 0) == 0
        assert final.by_status.get(RunStatus.CLAIMED.value, 0) == 0
        print(
            f"[{backend}] {before.runs} runs / {before.events} events checked; "
            f"{swept.expired} orphaned leases swept ({swept.recovered}); {swept.drained} drained"
        )


def test_a_kill_right_after_the_first_write_leaves_all_or_nothing(
    backend: str, db_url: str, tmp_path: Path
) -> None:
    """The worst moment, made deterministic: the process dies right after its first write
    statement. On SQLite that is after the run's UPDATE and before its audit event and the
    COMMIT: nothing may remain. Where the run and its event are one statement (PostgreSQL),
    it is after that statement: the whole claim, with its event, or nothing."""
    workspace = crashlab.prepare_workspace(tmp_path / "workspace")
    with Store.open(db_url) as store:
        run_id = store.enqueue("die after the first write", workspace).run_id
        snapshot = invariants.snapshot(store.engine)

    spawn = multiprocessing.get_context("spawn")
    proc = spawn.Process(target=crashlab.claim_and_die_after_the_first_write, args=(db_url,))
    proc.start()
    proc.join(60)
    assert proc.exitcode == -9

    with Store.open(db_url) as store:
        _assert_sound(store)  # in particular: a claimed run has exactly its claim event
        detail = store.get_run(run_id)
        if backend == "sqlite":
            assert invariants.snapshot(store.engine) == snapshot
            assert detail.run.status is RunStatus.QUEUED
        else:
            assert detail.run.status in (RunStatus.QUEUED, RunStatus.CLAIMED)
            assert [e.action for e in detail.events][-1] == (
                "claim" if detail.run.status is RunStatus.CLAIMED else "enqueue"
            )


def test_invariant_checker_catches_a_torn_write(db_url: str, tmp_path: Path) -> None:
    """The checker must be able to fail: an UPDATE without its event is reported."""
    workspace = crashlab.prepare_workspace(tmp_path / "workspace")
    with Store.open(db_url) as store:
        run_id = store.enqueue("torn", workspace).run_id
        with store.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE runs SET status = 'claimed', version = 2 WHERE id = :id"),
                {"id": run_id},
            )
        violations = invariants.check(store.engine).violations
    assert any("last event says queued" in v for v in violations), violations
    assert any("lacks a lease" in v for v in violations), violations
