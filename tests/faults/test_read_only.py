"""Read-only files, directories and mounts; receipts the worker may not read.

Root ignores permission bits, so these run the store in a subprocess as an unprivileged user
(``nobody`` via setpriv/runuser when the suite runs as root; the current user otherwise), and
use a read-only bind mount, which refuses even root. ``Store.open(url, read_only=True)`` must
read in all of them (a WAL database in a read-only place has no ``-shm`` to open: the core
falls back to SQLite's immutable mode), and a normal open must fail with a `database` error
whose hint names the read-only way in.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from faults import invariants
from faults.environments import (
    PROBE,
    Unprivileged,
    assert_clear_error,
    checkpoint,
    populate,
    read_only_view,
    shared_dir,
)
from parkbench.core.errors import DatabaseError
from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def other_user() -> Unprivileged:
    runner = Unprivileged()
    if runner.skip_reason:
        pytest.skip(runner.skip_reason)
    return runner


@pytest.fixture
def shared(request: pytest.FixtureRequest) -> Iterator[Path]:
    path = shared_dir("pkb-faults-")
    yield path
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
    path.chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)


def _parked_database(directory: Path) -> tuple[str, int, bytes]:
    """A populated database closed cleanly (no -wal/-shm left), and one parked run's id."""
    url = f"sqlite:///{directory / 'parkbench.db'}"
    workspace = directory / "workspace"
    workspace.mkdir()
    with Store.open(url) as store:
        populate(store, workspace)
        parked = store.list_runs().rows[0].id
    checkpoint(directory / "parkbench.db")
    return url, parked, (directory / "parkbench.db").read_bytes()


def _assert_read_only_probe(result: dict, parked: int) -> None:
    assert result["open"] == "ok", result
    assert result["listed"] == [parked]
    assert result["status"] == RunStatus.NEEDS_ATTENTION.value
    assert isinstance(result["write"], dict) and result["write"]["code"] == "database"
    assert "read-only" in result["write"]["message"]


@pytest.mark.parametrize("directory_writable", [False, True], ids=["ro-dir", "rw-dir"])
def test_read_only_file_for_another_user(
    other_user: Unprivileged, shared: Path, directory_writable: bool
) -> None:
    url, parked, blob = _parked_database(shared)
    (shared / "parkbench.db").chmod(0o444)
    shared.chmod(0o777 if directory_writable else 0o555)

    normal = other_user.json(PROBE, url, "0", str(parked))
    if directory_writable:
        # SQLite opens the file read-only by itself and can make its -shm: reads work, the
        # first write fails.
        assert normal["open"] == "ok" and normal["listed"] == [parked], normal
        refusal = normal["write"]
    else:
        refusal = normal["open"]
    assert isinstance(refusal, dict), normal
    assert refusal["code"] == "database" and "read-only" in refusal["message"], refusal
    assert "--read-only" in refusal["hint"]

    _assert_read_only_probe(other_user.json(PROBE, url, "1", str(parked)), parked)
    assert (shared / "parkbench.db").read_bytes() == blob


def test_read_only_mount(tmp_path: Path) -> None:
    source = tmp_path / "data"
    source.mkdir()
    _url, parked, blob = _parked_database(source)
    with read_only_view(source, tmp_path / "ro") as mounted:
        if not mounted:
            pytest.skip("cannot bind-mount read-only here (needs root and mount permission)")
        ro_url = f"sqlite:///{tmp_path / 'ro' / 'parkbench.db'}"
        with pytest.raises(DatabaseError) as caught:
            Store.open(ro_url)
        assert_clear_error(caught.value, "database")
        assert "--read-only" in caught.value.hint

        with Store.open(ro_url, read_only=True) as viewer:
            assert [r.id for r in viewer.list_runs().rows] == [parked]
            assert viewer.get_run(parked).run.block_reason == "needs a credential"
            assert viewer.counts_by_status()["claimed"] == 2
            with pytest.raises(DatabaseError) as refused:
                viewer.recover_expired()
            assert_clear_error(refused.value, "database", "read-only")
    assert (source / "parkbench.db").read_bytes() == blob


@sqlite_only
def test_read_only_open_sees_live_writes_and_cannot_write(db_url: str, workspace: Path) -> None:
    """Where the WAL index is reachable the viewer is a live reader, not a stale snapshot."""
    with Store.open(db_url) as writer, Store.open(db_url, read_only=True) as viewer:
        held = populate(writer, workspace)
        assert viewer.read_only and not writer.read_only
        assert len(viewer.list_runs().rows) == 1
        writer.block(held[0].run_id, held[0].claim_token, reason="second one parked")
        assert len(viewer.list_runs().rows) == 2
        before = invariants.snapshot(writer.engine)
        # Under the store's own guard, the connection refuses writes too (query_only).
        with (
            pytest.raises(DatabaseError) as refused,
            viewer._translated(),
            viewer.engine.begin() as conn,
        ):
            conn.execute(sa.text("DELETE FROM events"))
        assert_clear_error(refused.value, "database", "read-only")
        assert invariants.snapshot(writer.engine) == before


@sqlite_only
def test_read_only_open_never_creates_or_upgrades(db_url: str, workspace: Path) -> None:
    path = Path(sa.engine.make_url(db_url).database or "")
    with pytest.raises(DatabaseError) as missing:
        Store.open(db_url, read_only=True)
    assert_clear_error(missing.value, "database", "no database")
    assert not path.exists()

    with Store.open(db_url) as store:
        populate(store, workspace)
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    checkpoint(path)
    blob = path.read_bytes()
    with pytest.raises(DatabaseError) as older:
        Store.open(db_url, read_only=True)
    assert_clear_error(older.value, "database", "older", "0001")
    assert "db upgrade" in older.value.hint
    assert path.read_bytes() == blob


#: As the other user: enqueue with a contract, claim, look at the receipts, try to complete.
RECEIPT_PROBE = r"""
import json, sys
from parkbench.core.errors import ParkbenchError
from parkbench.core.store import Store
url, workspace = sys.argv[1], sys.argv[2]
contract = {"completion_contract": {"required_paths": ["private/receipt.txt", "public/ok.txt"]}}
with Store.open(url) as store:
    store.enqueue("needs two receipts", workspace, metadata=contract, actor="probe")
    claim = store.claim_next("unprivileged-worker", lease_s=600)
    out = {"artifacts": [a.to_dict() for a in store.get_run(claim.run_id).artifacts]}
    try:
        store.complete(claim.run_id, claim.claim_token)
        out["complete"] = "ok"
    except ParkbenchError as e:
        out["complete"] = {"code": e.code, "message": e.message, "hint": e.hint}
    out["status"] = store.get_run(claim.run_id, check_disk=False).run.status.value
print(json.dumps(out))
"""


def test_receipt_the_worker_may_not_read(
    other_user: Unprivileged, shared: Path, backend: str, db_url: str
) -> None:
    workspace = shared / "workspace"
    (workspace / "public").mkdir(parents=True)
    (workspace / "public" / "ok.txt").write_text("ok\n")
    (workspace / "private").mkdir()
    (workspace / "private" / "receipt.txt").write_text("written by someone else\n")
    (workspace / "private").chmod(0o000)  # exists, but the worker cannot see inside
    if backend == "sqlite":  # the other user needs a database it can write
        (shared / "db").mkdir(mode=0o777)
        (shared / "db").chmod(0o777)
        db_url = f"sqlite:///{shared / 'db' / 'parkbench.db'}"

    result = other_user.json(RECEIPT_PROBE, db_url, str(workspace))
    states = {a["path"]: (a["state"], a.get("detail")) for a in result["artifacts"]}
    assert states == {
        "private/receipt.txt": ("missing", "permission denied"),
        "public/ok.txt": ("present", None),
    }
    assert isinstance(result["complete"], dict), result
    assert result["complete"]["code"] == "missing_artifacts"
    assert "private/receipt.txt" in result["complete"]["message"]
    assert "public/ok.txt" not in result["complete"]["message"]
    assert result["status"] == RunStatus.CLAIMED.value
