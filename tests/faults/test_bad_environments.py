"""Bad environments at the store level: a clear `database` error with a hint, data untouched.

Locked past the busy timeout, truncated / corrupt / foreign / not-SQLite files, a schema
newer than the code, a full disk mid-write, an unreachable server, a vanished workspace.
Read-only files, directories and mounts, and receipts without permission, are in
test_read_only.py. Every case checks the error's shape (stable code, one-line message, hint)
and that no row was lost or half-written (a digest of every row before and after).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from faults import invariants
from faults.environments import (
    assert_clear_error,
    checkpoint,
    populate,
    sqlite_file,
    sqlite_write_lock,
    table_rootpage,
)
from parkbench.core.errors import DatabaseError, ParkbenchError
from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
postgres_only = pytest.mark.parametrize("backend", ["postgres"], indirect=True)
BUSY_MS = 250


def _writes(store: Store, held, workspace: Path) -> dict[str, Callable[[], object]]:
    """One of each kind of write: worker, reviewer, system."""
    parked = store.list_runs().rows[0].id
    return {
        "enqueue": lambda: store.enqueue("blocked by the lock", workspace),
        "claim": lambda: store.claim_next("w2"),
        "heartbeat": lambda: store.heartbeat(held[0].run_id, held[0].claim_token),
        "block": lambda: store.block(held[0].run_id, held[0].claim_token, reason="r"),
        "requeue": lambda: store.requeue([parked], reason="try again", actor="alice"),
        "recover": lambda: store.recover_expired(),
    }


def _assert_locked_out(store: Store, held, workspace: Path) -> None:
    for name, write in _writes(store, held, workspace).items():
        began = time.monotonic()
        with pytest.raises(DatabaseError) as caught:
            write()
        waited = time.monotonic() - began
        assert_clear_error(caught.value, "database", "locked", f"{BUSY_MS} ms")
        assert BUSY_MS / 1000 * 0.8 <= waited < 5, f"{name} waited {waited:.2f} s"
    # Readers are not writers: the reviewer can still look while the lock is held.
    assert store.list_runs().rows
    assert store.get_run(held[0].run_id).run.status is RunStatus.CLAIMED
    assert store.counts_by_status()["claimed"] == 2


@sqlite_only
def test_sqlite_locked_longer_than_the_busy_timeout(
    db_url: str, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARKBENCH_BUSY_TIMEOUT_MS", str(BUSY_MS))
    with Store.open(db_url) as store:
        held = populate(store, workspace)
        before = invariants.snapshot(store.engine)
        with sqlite_write_lock(sqlite_file(db_url)):
            _assert_locked_out(store, held, workspace)
        assert invariants.snapshot(store.engine) == before
        # The lock gone, the same write goes through.
        assert store.heartbeat(held[0].run_id, held[0].claim_token) > 0


@postgres_only
def test_postgres_locked_longer_than_the_lock_timeout(
    db_url: str, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARKBENCH_BUSY_TIMEOUT_MS", str(BUSY_MS))
    with Store.open(db_url) as store:
        held = populate(store, workspace)
        before = invariants.snapshot(store.engine)
        other = sa.create_engine(db_url)
        try:
            # A table lock that lets readers in but no writer: SQLite's write lock, on PG.
            with other.connect() as conn, conn.begin():
                conn.exec_driver_sql("LOCK TABLE runs IN EXCLUSIVE MODE")
                _assert_locked_out(store, held, workspace)
            assert invariants.snapshot(store.engine) == before
            # A single row lock (a stuck reviewer transaction): that run's writes time out,
            # claim_next skips it and hands out other work.
            parked = store.list_runs().rows[0].id
            with other.connect() as conn, conn.begin():
                conn.execute(
                    sa.text("SELECT id FROM runs WHERE id = :id FOR UPDATE"), {"id": parked}
                )
                with pytest.raises(DatabaseError) as caught:
                    store.force_fail([parked], reason="stuck")
                assert_clear_error(caught.value, "database", "locked")
                claim = store.claim_next("w2")
                assert claim is not None and claim.run_id != parked
        finally:
            other.dispose()
        assert store.get_run(parked).run.status is RunStatus.NEEDS_ATTENTION


# -- damaged files -----------------------------------------------------------------------------

PAGE = 4096


def _damaged(name: str, data: bytes, path: Path) -> bytes:
    rng = random.Random(name)
    blob = bytearray(data)
    if name == "truncated_to_the_header":
        return data[:50]
    if name == "truncated_by_half":
        return data[: len(data) // 2]
    if name == "truncated_by_one_page":
        return data[:-PAGE]
    if name in ("runs_root_page_zeroed", "runs_root_page_garbage"):
        root = table_rootpage(path, "runs")
        page = bytes(PAGE) if name.endswith("zeroed") else rng.randbytes(PAGE)
        blob[(root - 1) * PAGE : root * PAGE] = page
    elif name == "header_garbled":
        blob[16:100] = rng.randbytes(84)
    elif name == "schema_page_garbage":
        blob[100:PAGE] = rng.randbytes(PAGE - 100)
    elif name == "text_file":
        return b"this is a shopping list, not a database\n" * 200
    elif name == "png_image":
        return b"\x89PNG\r\n\x1a\n" + rng.randbytes(20_000)
    return bytes(blob)


DAMAGE = (
    "truncated_to_the_header", "truncated_by_half", "truncated_by_one_page",
    "runs_root_page_zeroed", "runs_root_page_garbage", "header_garbled", "schema_page_garbage",
    "text_file", "png_image",
)  # fmt: skip


def _use(store_url: str, read_only: bool) -> list[str]:
    """Open and use a store until the first failure; the steps that succeeded, in order."""
    done: list[str] = []
    with Store.open(store_url, read_only=read_only) as store:
        done.append("open")
        store.counts_by_status()
        done.append("counts")
        store.list_runs()
        done.append("list")
        store.get_run(1)
        done.append("show")
        if not read_only:
            store.claim_next("w")
            done.append("claim")
    return done


@sqlite_only
@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("read_only", [False, True], ids=["read-write", "read-only"])
def test_damaged_file_is_a_database_error_and_left_untouched(
    db_url: str, workspace: Path, damage: str, read_only: bool
) -> None:
    path = sqlite_file(db_url)
    with Store.open(db_url) as store:
        populate(store, workspace)
    checkpoint(path)
    blob = _damaged(damage, path.read_bytes(), path)
    path.write_bytes(blob)

    done: list[str] = []
    with pytest.raises(DatabaseError) as caught:
        done = _use(db_url, read_only)
    assert_clear_error(caught.value, "database")
    assert any(
        phrase in caught.value.message
        for phrase in ("corrupt or not a SQLite database", "damaged data", "not a Parkbench")
    ), caught.value.message
    assert "claim" not in done
    assert path.read_bytes() == blob, "a damaged database must be left exactly as found"


@sqlite_only
def test_random_byte_damage_never_escapes_as_anything_but_a_parkbench_error(
    db_url: str, workspace: Path
) -> None:
    """Seeded fuzz: flip bytes anywhere; every step succeeds or fails with a stable code."""
    path = sqlite_file(db_url)
    with Store.open(db_url) as store:
        populate(store, workspace)
    checkpoint(path)
    pristine = path.read_bytes()
    outcomes: dict[str, int] = {}
    for seed in range(120):
        rng = random.Random(seed)
        blob = bytearray(pristine)
        for _ in range(rng.choice((1, 4, 16))):
            at = rng.randrange(len(blob) - 16)
            width = rng.choice((1, 4, 16))
            blob[at : at + width] = rng.randbytes(width)
        path.write_bytes(bytes(blob))
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        try:
            _use(db_url, read_only=False)
            key = "usable"
        except ParkbenchError as error:
            assert_clear_error(error, error.code)
            key = error.code
        outcomes[key] = outcomes.get(key, 0) + 1
    assert outcomes.get("database", 0) > 0, outcomes


def _stamp_revision(engine: sa.Engine, revision: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_schema_newer_than_the_code_is_refused_untouched(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        populate(store, workspace)
        _stamp_revision(store.engine, "9999")
        before = invariants.snapshot(store.engine)
    file_before = sqlite_file(db_url).read_bytes() if db_url.startswith("sqlite") else None
    for read_only in (False, True):
        with pytest.raises(DatabaseError) as caught:
            Store.open(db_url, read_only=read_only)
        assert_clear_error(caught.value, "database", "9999", "newer")
    engine = sa.create_engine(db_url)
    try:
        assert invariants.snapshot(engine) == before
    finally:
        engine.dispose()
    if file_before is not None:
        assert sqlite_file(db_url).read_bytes() == file_before


@sqlite_only
def test_a_sqlite_file_of_another_application_is_refused_untouched(db_url: str) -> None:
    import sqlite3

    path = sqlite_file(db_url)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.execute("INSERT INTO recipes VALUES ('soup')")
    conn.commit()
    conn.close()
    blob = path.read_bytes()
    with pytest.raises(DatabaseError) as caught:
        Store.open(db_url)
    assert_clear_error(caught.value, "database", "not a Parkbench database")
    assert path.read_bytes() == blob
