"""Clock skew: a worker or sweeper whose clock is minutes off must not bend a lease.

Lease times come from one clock (parkbench.core.db.engine.database_clock): on PostgreSQL the
server's (each process measures its offset to the server once and corrects every reading),
on SQLite the machine's (WAL needs every process on the one machine, so they share its
clock). Here a process's own clock is skewed by monkeypatching
parkbench.core.db.engine.system_clock - what the machine reports - and the store it opens
with the *default* clock must still act on server time: no lease outliving its expiry, none
expiring early. A store built with the skewed clock itself (``Store(engine, clock=...)``)
shows what would happen without the correction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

import parkbench.core.db.engine
from parkbench.core.errors import LeaseExpiredError
from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store

postgres_only = pytest.mark.parametrize("backend", ["postgres"], indirect=True)
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
MINUTES_5 = 5 * 60 * 1000
SKEWS = pytest.mark.parametrize("skew_ms", [-MINUTES_5, MINUTES_5], ids=["behind", "ahead"])


def _server_now(engine: sa.Engine) -> Callable[[], int]:
    def now() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint")
                ).scalar_one()
            )

    return now


@contextmanager
def _skewed_clock(monkeypatch: pytest.MonkeyPatch, skew_ms: int) -> Iterator[None]:
    """Inside, this process's clock reads ``skew_ms`` off (stores opened outside it must not
    be used inside: their clocks read the same patched function)."""
    true_clock = parkbench.core.db.engine.system_clock
    with monkeypatch.context() as patch:
        patch.setattr(parkbench.core.db.engine, "system_clock", lambda: true_clock() + skew_ms)
        yield


def _wait_until_past(server_now: Callable[[], int], instant_ms: int) -> None:
    """Wait (on the server's clock) until ``instant_ms`` has passed; about a second here."""
    deadline = time.monotonic() + 10
    while server_now() <= instant_ms:
        assert time.monotonic() < deadline, "the server clock did not advance"
        time.sleep(0.05)


@postgres_only
@SKEWS
def test_skewed_worker_leases_run_on_server_time(
    db_url: str, workspace, monkeypatch: pytest.MonkeyPatch, skew_ms: int
) -> None:
    with Store.open(db_url) as honest:
        server_now = _server_now(honest.engine)
        run_id = honest.enqueue("skewed worker", workspace).run_id
        with _skewed_clock(monkeypatch, skew_ms), Store.open(db_url) as worker:
            # Store.open's default clock is database_clock(): the server's, corrected.
            naive = Store(worker.engine, clock=parkbench.core.db.engine.system_clock)
            assert abs(naive.clock() - server_now() - skew_ms) < 2_000, "the skew is in place"
            assert abs(worker.clock() - server_now()) < 2_000, "the default clock is the server's"

            before = server_now()
            claim = worker.claim_next("skewed", lease_s=1)
            assert claim is not None and claim.run_id == run_id
            # The lease ends one second from now on the server, not five minutes off it.
            assert before + 1_000 - 500 <= claim.lease_until_ms <= server_now() + 1_000 + 500

            _wait_until_past(server_now, claim.lease_until_ms)
            with pytest.raises(LeaseExpiredError):
                worker.heartbeat(run_id, claim.claim_token, lease_s=60)
            assert worker.recover_expired().requeued == (run_id,)
            assert honest.get_run(run_id).run.status is RunStatus.QUEUED


@postgres_only
@SKEWS
def test_skewed_sweeper_never_expires_a_live_lease(
    db_url: str, workspace, monkeypatch: pytest.MonkeyPatch, skew_ms: int
) -> None:
    with Store.open(db_url) as honest:
        server_now = _server_now(honest.engine)
        run_id = honest.enqueue("honest worker", workspace).run_id
        claim = honest.claim_next("honest", lease_s=60)
        assert claim is not None and claim.run_id == run_id
        with _skewed_clock(monkeypatch, skew_ms), Store.open(db_url) as sweeper:
            assert sweeper.recover_expired().total == 0
            assert honest.get_run(run_id).run.status is RunStatus.CLAIMED
            if skew_ms > 0:
                # Counter-check: trusting the fast clock would knock the live lease off.
                naive = Store(sweeper.engine, clock=parkbench.core.db.engine.system_clock)
                assert naive.clock() > claim.lease_until_ms
        assert honest.heartbeat(run_id, claim.claim_token, lease_s=60) > server_now()


@postgres_only
def test_a_lease_that_expired_is_not_revived_by_a_slow_clock(
    db_url: str, workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counterfactual, spelled out: the worker's own slow clock would extend it."""
    with Store.open(db_url) as honest:
        server_now = _server_now(honest.engine)
        run_id = honest.enqueue("slow clock", workspace).run_id
        claim = honest.claim_next("w", lease_s=1)
        assert claim is not None
        _wait_until_past(server_now, claim.lease_until_ms)
        with _skewed_clock(monkeypatch, -MINUTES_5), Store.open(db_url) as corrected:
            with pytest.raises(LeaseExpiredError):
                corrected.heartbeat(run_id, claim.claim_token)
            naive = Store(corrected.engine, clock=parkbench.core.db.engine.system_clock)
            assert naive.heartbeat(run_id, claim.claim_token) > 0, (
                "without the server offset the stale lease would have been extended"
            )


@sqlite_only
def test_sqlite_leases_use_the_machine_clock(db_url: str) -> None:
    """One machine, one clock: every process on it reads the same time, nothing to correct."""
    with Store.open(db_url) as store:
        engine_module = parkbench.core.db.engine
        assert engine_module.database_clock(store.engine) is engine_module.system_clock
        assert abs(store.clock() - time.time() * 1000) < 1_000
