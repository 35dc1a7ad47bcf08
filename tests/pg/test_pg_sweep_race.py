"""Two expiry sweeps and several claimers racing on PostgreSQL: no deadlock, nothing lost.

Each sweep step locks its candidate rows in id order and skips rows another transaction
holds (``FOR UPDATE SKIP LOCKED``), so two sweepers can never wait on each other in a cycle.
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from faults.invariants import check
from testkit import FakeClock

from parkbench.core.errors import ParkbenchError
from parkbench.core.models import runs
from parkbench.core.store import Store
from pg.pgtest_support import seed_queued

RUNS = 600
SWEEPS = 25
#: Every sweep runs this far ahead of the shared clock: it takes fresh claims too, so the
#: sweepers and the claimers fight over the same rows.
AHEAD_MS = 5_000


def test_two_sweepers_and_claimers_never_deadlock(pg_url: str, tmp_path: Path) -> None:
    clock = FakeClock()
    stores = [Store.open(pg_url, clock=clock) for _ in range(5)]
    setup, *racers = stores
    try:
        seed_queued(setup.engine, str(tmp_path), RUNS, now_ms=clock())
        with setup.engine.begin() as conn:  # every third run has a max runtime: all 3 steps
            conn.execute(sa.update(runs).where(runs.c.id % 3 == 0).values(max_runtime_ms=1_500))
        for _ in range(RUNS // 2):  # half claimed on a 1 s lease that will have run out
            assert setup.claim_next("early", lease_s=1) is not None
        clock.advance(2)
        failures: list[str] = []
        done = threading.Event()
        start = threading.Barrier(len(racers))

        def sweeper(store: Store) -> None:
            start.wait()
            try:
                for _ in range(SWEEPS):
                    store.recover_expired(now=clock() + AHEAD_MS)
            except Exception as error:  # any failure here, a deadlock included, is a bug
                failures.append(f"sweep: {error!r}")

        def claimer(store: Store, name: str) -> None:
            start.wait()
            while not done.is_set():
                try:
                    claim = store.claim_next(name, lease_s=1)
                    if claim is None:
                        return
                    store.heartbeat(claim.run_id, claim.claim_token, lease_s=5)
                    store.complete(claim.run_id, claim.claim_token)
                except ParkbenchError as error:
                    if error.code == "database":  # a deadlock is translated to this
                        failures.append(f"{name}: {error!r}")
                        return
                    # lease_expired / invalid_transition: a sweep took the run first
                except Exception as error:
                    failures.append(f"{name}: {error!r}")
                    return

        threads = [
            threading.Thread(target=sweeper, args=(racers[0],)),
            threading.Thread(target=sweeper, args=(racers[1],)),
            threading.Thread(target=claimer, args=(racers[2], "c1")),
            threading.Thread(target=claimer, args=(racers[3], "c2")),
        ]
        for thread in threads[:2]:
            thread.start()
        for thread in threads[2:]:
            thread.start()
        for thread in threads[:2]:
            thread.join(120)
        done.set()
        for thread in threads[2:]:
            thread.join(120)
        assert not any(t.is_alive() for t in threads), "a racer is stuck"
        assert failures == []
        setup.recover_expired(now=clock() + 10 * AHEAD_MS)
        report = check(setup.engine)
        assert report.violations == [], report.violations
        assert report.runs == RUNS and "claimed" not in report.by_status
    finally:
        for store in stores:
            store.close()


def test_a_sweep_skips_a_row_another_transaction_holds(
    pg_url: str, tmp_path: Path, monkeypatch
) -> None:
    """The lock-order rule, deterministically: a sweep never waits on a held row (the wait
    is what two sweepers locking in different orders turn into a deadlock)."""
    from parkbench.core.db.info import ENV_BUSY_TIMEOUT

    monkeypatch.setenv(ENV_BUSY_TIMEOUT, "100")  # a wait would fail after 100 ms
    clock = FakeClock()
    with Store.open(pg_url, clock=clock) as store:
        ids = seed_queued(store.engine, str(tmp_path), 3, now_ms=clock())
        for _ in ids:
            assert store.claim_next("w", lease_s=1) is not None
        clock.advance(2)
        held = sa.create_engine(pg_url)
        try:
            with held.connect() as conn, conn.begin():
                lock = sa.select(runs.c.id).where(runs.c.id == ids[1]).with_for_update()
                conn.execute(lock).one()
                first = store.recover_expired()
                assert sorted(first.requeued) == [ids[0], ids[2]]
            second = store.recover_expired()  # the lock is gone: the next sweep takes it
            assert second.requeued == (ids[1],)
        finally:
            held.dispose()
