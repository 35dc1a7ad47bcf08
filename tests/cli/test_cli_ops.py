"""Operations commands: recover (--now), db path, db upgrade."""

from __future__ import annotations

from pathlib import Path

from clitest_support import invoke, past_clock
from testkit import FakeClock

from parkbench.core.store import Store


def test_recover_now_iso_and_epoch(db_url: str, workspace: Path) -> None:
    with Store.open(db_url, clock=past_clock(days=2)) as store:
        store.enqueue("retry me", workspace, max_attempts=2)
        store.enqueue("park me", workspace, max_attempts=1)
        first = store.claim_next("agent", lease_s=60)
        second = store.claim_next("agent", lease_s=60)
        assert first is not None and second is not None
        earliest = min(first.lease_until_ms, second.lease_until_ms)
        until = max(first.lease_until_ms, second.lease_until_ms)
    before = invoke("recover", "--now", str((earliest - 1000) / 1000), "--db", db_url, "--json")
    assert before.json() == {"requeued": [], "parked": [], "runtime_parked": [], "total": 0}
    iso = invoke("recover", "--db", db_url, "--json", "--now", _iso(until + 1000))
    assert iso.code == 0
    body = iso.json()
    assert body["requeued"] == [first.run_id] and body["parked"] == [second.run_id]
    assert body["total"] == 2
    again = invoke("recover", "--db", db_url)
    assert again.stdout.startswith("recovered 0 run(s)")


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def test_db_path_does_not_create_anything(tmp_path: Path) -> None:
    target = tmp_path / "later.db"
    done = invoke("db", "path", "--db", str(target), "--json")
    assert done.json() == {
        "url": f"sqlite:///{target}",
        "backend": "sqlite",
        "path": str(target),
        "exists": False,
        "source": "--db",
        "profile": None,
        "config": None,
    }
    assert not target.exists()
    assert invoke("db", "path", "--db", str(target)).stdout == f"{target}\n"
    via_env = invoke("db", "path", "--json", env={"PARKBENCH_DB": f"sqlite:///{target}"})
    assert via_env.json()["path"] == str(target)


def test_db_path_hides_the_password() -> None:
    url = "postgresql+psycopg://alice:s3cret@db.example:5432/parkbench"
    done = invoke("db", "path", "--db", url, "--json").json()
    assert "s3cret" not in str(done) and done["backend"] == "postgresql" and done["path"] is None
    assert "s3cret" not in invoke("db", "path", "--db", url).stdout


def test_db_upgrade_creates_then_reports_current(db_url: str) -> None:
    first = invoke("db", "upgrade", "--db", db_url, "--json").json()
    assert first["from_revision"] is None and first["changed"] is True
    second = invoke("db", "upgrade", "--db", db_url, "--json").json()
    assert second["from_revision"] == second["revision"] == first["revision"]
    assert second["changed"] is False
    assert "schema is current" in invoke("db", "upgrade", "--db", db_url).stdout


# -- recover --now in the future (issue 19 item 9) --------------------------------------------


def _live_lease(db_url: str, workspace: Path):
    with Store.open(db_url) as store:
        store.enqueue("still working", workspace, max_attempts=2)
        claim = store.claim_next("agent", lease_s=600)
        assert claim is not None
        return claim, store.clock()


def test_recover_refuses_a_now_more_than_a_minute_ahead(db_url: str, workspace: Path) -> None:
    claim, now = _live_lease(db_url, workspace)
    ahead = _iso(now + 3_600_000)
    refused = invoke("recover", "--now", ahead, "--db", db_url, "--json")
    assert refused.code == 2
    error = refused.error()
    assert error["code"] == "validation" and "ahead of the database clock" in error["message"]
    assert "--force" in error["hint"]
    human = invoke("recover", "--now", ahead, "--db", db_url)
    assert human.code == 2 and "hint:" in human.stderr and "--force" in human.stderr
    with Store.open(db_url) as store:
        run = store.get_run(claim.run_id, check_disk=False).run
        assert run.status.value == "claimed" and run.lease_until_ms == claim.lease_until_ms
    # within a minute is a clock difference, not a time travel: allowed
    near = invoke("recover", "--now", _iso(now + 30_000), "--db", db_url, "--json")
    assert near.code == 0 and near.json()["total"] == 0
    # --force sweeps as of that time: the live lease expires
    forced = invoke("recover", "--now", ahead, "--force", "--db", db_url, "--json")
    assert forced.code == 0 and forced.json()["requeued"] == [claim.run_id]


def test_a_forced_future_sweep_leaves_the_automatic_sweep_on(
    workspace: Path, tmp_path: Path
) -> None:
    """The last-sweep mark is never set ahead of the clock, so claims keep sweeping."""
    clock = FakeClock()
    with Store.open(f"sqlite:///{tmp_path / 'sweep.db'}", clock=clock) as store:
        store.recover_expired(now=clock.now_ms + 86_400_000)  # a day ahead, forced
        store.enqueue("short lease", workspace, max_attempts=2)
        claim = store.claim_next("dies", lease_s=10)
        assert claim is not None
        clock.advance(60)  # the lease ran out 50 s ago; the worker is gone
        again = store.claim_next("next")
        assert again is not None and again.run_id == claim.run_id  # swept, retried, claimed
        assert again.attempt == 2
