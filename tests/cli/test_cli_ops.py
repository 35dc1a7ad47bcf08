"""Operations commands: recover (--now), db path, db upgrade."""

from __future__ import annotations

from pathlib import Path

from clitest_support import invoke, past_clock
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
    iso = invoke("recover", "--db", db_url, "--json", "--now",
                 _iso(until + 1000))
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
    assert done.json() == {"url": f"sqlite:///{target}", "backend": "sqlite",
                           "path": str(target), "exists": False,
                           "source": "--db", "profile": None, "config": None}
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
