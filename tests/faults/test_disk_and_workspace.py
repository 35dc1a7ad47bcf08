"""Bad environments, continued: a full disk mid-write, a vanished workspace, no server.

A full disk is simulated twice: for real, on a size-limited tmpfs (needs root and mount
permission; skipped with the reason otherwise), and always through SQLite's own
``max_page_count`` limit, which makes SQLite fail the write with the very SQLITE_FULL error
a full disk gives. Both must roll the write back whole and name the problem.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from faults import invariants
from faults.environments import RECEIPT, assert_clear_error, fill_disk, populate, tmpfs
from parkbench.core.contracts import ArtifactState
from parkbench.core.errors import DatabaseError, MissingArtifactsError, ValidationError
from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
BIG = "x" * 20_000  # needs fresh pages: more than any slack left in a page or the WAL


def _big_writes(store: Store, held, workspace: Path):
    return (
        lambda: store.block(held[0].run_id, held[0].claim_token, reason=BIG),
        lambda: store.fail(held[0].run_id, held[0].claim_token, reason=BIG),
        lambda: store.enqueue(BIG, workspace, metadata={"note": BIG}),
    )


def _assert_full_then_recovers(store: Store, held, workspace: Path, free_space) -> None:
    before = invariants.snapshot(store.engine)
    for write in _big_writes(store, held, workspace):
        with pytest.raises(DatabaseError) as caught:
            write()
        assert_clear_error(caught.value, "database", "disk is full")
    assert invariants.snapshot(store.engine) == before, "a failed write left something behind"
    assert store.get_run(held[0].run_id).run.status is RunStatus.CLAIMED
    free_space()
    assert store.block(held[0].run_id, held[0].claim_token, reason=BIG) is RunStatus.NEEDS_ATTENTION
    assert invariants.integrity_check(store.engine) == ["ok"]
    assert invariants.check(store.engine).violations == []


def test_full_disk_on_a_tiny_tmpfs(tmp_path: Path) -> None:
    small = tmp_path / "small"
    with tmpfs(small, "1m") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (needs root and mount permission); "
                        "test_full_disk_via_sqlite_page_limit covers the same path")  # fmt: skip
        workspace = small / "workspace"
        workspace.mkdir()
        with Store.open(f"sqlite:///{small / 'parkbench.db'}") as store:
            held = populate(store, workspace)
            filler = fill_disk(small)
            _assert_full_then_recovers(store, held, workspace, filler.unlink)


@sqlite_only
def test_full_disk_via_sqlite_page_limit(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        held = populate(store, workspace)

        def cap(dbapi_connection, _record) -> None:
            pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

        event.listen(store.engine, "connect", cap)
        store.engine.dispose()  # every connection from now on is capped

        def free_space() -> None:
            event.remove(store.engine, "connect", cap)
            store.engine.dispose()

        _assert_full_then_recovers(store, held, workspace, free_space)


# -- the workspace vanished ---------------------------------------------------------------------


def test_vanished_workspace(db_url: str, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    (workspace / "receipts").mkdir(parents=True)
    (workspace / RECEIPT).write_text("done\n")
    with Store.open(db_url) as store:
        for policy in ("reject", "park"):
            contract = {"required_paths": [RECEIPT, "out/result.json"], "missing_policy": policy}
            store.enqueue(f"{policy} policy", workspace, metadata={"completion_contract": contract})
        reject = store.claim_next("w", lease_s=600)
        park = store.claim_next("w", lease_s=600)
        assert reject is not None and park is not None
        shutil.rmtree(workspace)

        detail = store.get_run(reject.run_id)
        assert [(a.path, a.state) for a in detail.artifacts] == [
            (RECEIPT, ArtifactState.MISSING),
            ("out/result.json", ArtifactState.MISSING),
        ]
        assert all(a.detail == "workspace root not found" for a in detail.artifacts)

        before = invariants.snapshot(store.engine)
        with pytest.raises(MissingArtifactsError) as caught:
            store.complete(reject.run_id, reject.claim_token)
        assert_clear_error(caught.value, "missing_artifacts", RECEIPT, "out/result.json")
        assert invariants.snapshot(store.engine) == before  # refused whole: still claimed
        assert store.get_run(reject.run_id).run.status is RunStatus.CLAIMED

        parked = store.complete(park.run_id, park.claim_token)
        assert parked.status is RunStatus.NEEDS_ATTENTION
        assert set(parked.missing) == {RECEIPT, "out/result.json"}
        assert RECEIPT in (store.get_run(park.run_id).run.block_reason or "")

        with pytest.raises(ValidationError) as refused:
            store.enqueue("into the void", workspace)
        assert_clear_error(refused.value, "validation", "not a directory")
        assert [r.id for r in store.list_runs().rows] == [park.run_id]
        assert invariants.check(store.engine).violations == []


# -- no server -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "mention"),
    [
        ("postgresql+psycopg://parkbench@127.0.0.1:1/parkbench?connect_timeout=2", "reach"),
        ("sqlite:////nonexistent-directory/for/parkbench.db", "does not exist"),
    ],
    ids=["postgres-nothing-listening", "sqlite-missing-directory"],
)
def test_unreachable_database(url: str, mention: str) -> None:
    for read_only in (False, True):
        with pytest.raises(DatabaseError) as caught:
            Store.open(url, read_only=read_only)
        assert_clear_error(caught.value, "database", mention)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_postgres_server_refuses_writes_on_a_read_only_open(db_url: str, workspace: Path) -> None:
    """Not just the store's own guard: the session itself is read-only on the server."""
    with Store.open(db_url) as store:
        populate(store, workspace)
    with Store.open(db_url, read_only=True) as viewer:
        assert viewer.list_runs().rows
        with pytest.raises(DatabaseError) as guarded:
            viewer.force_fail([1], reason="no")
        assert_clear_error(guarded.value, "database", "read-only")
        with (
            pytest.raises(DatabaseError) as refused,
            viewer._translated(),
            viewer.engine.begin() as conn,
        ):
            conn.execute(sa.text("DELETE FROM events"))
        assert_clear_error(refused.value, "database", "read-only")
