"""The SQLite worker path (core.sqlite_worker): the store's claim and heartbeat, without
SQLAlchemy.

It must write exactly what Store.claim_next and Store.heartbeat write (sweep, moves, audit
events), refuse exactly as they refuse, take only the databases it can handle, leave every
other one untouched for the store, and report driver failures with the store's own
`database` errors.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from testkit import FakeClock

from core import sqlite_codegen, sqlite_worker, tokens
from core.db import ENV_BUSY_TIMEOUT
from core.dbinfo import sqlite_file
from core.errors import DatabaseError, ParkbenchError, ValidationError
from core.store import Store

pytestmark = pytest.mark.sqlite_only


def _dump(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            for table in ("tasks", "runs", "events")
        }


@pytest.fixture
def deterministic_tokens(monkeypatch: pytest.MonkeyPatch):
    """tokens.mint yields pkb_claim_000...1, ...2: restart the sequence with ``reset()``."""
    counter = itertools.count(1)

    def mint() -> str:
        return f"{tokens.TOKEN_PREFIX}{next(counter):043d}"

    def reset() -> None:
        nonlocal counter
        counter = itertools.count(1)

    monkeypatch.setattr(tokens, "mint", mint)
    return reset


@pytest.fixture
def seeded(tmp_path: Path, workspace: Path, clock: FakeClock) -> Path:
    """A database whose next claim must first sweep one lease of each expiry kind."""
    path = tmp_path / "seeded.db"
    with Store.open(f"sqlite:///{path}", clock=clock) as store:
        store.enqueue("last attempt", workspace, priority=9, max_attempts=1)
        store.enqueue("attempts left", workspace, priority=8, max_attempts=3)
        store.enqueue("runtime bound", workspace, priority=7, max_runtime_s=10)
        for _ in range(3):
            assert store.claim_next("old-worker", lease_s=30) is not None
        store.enqueue("bounded by runtime", workspace, priority=1, max_runtime_s=20)
        store.enqueue("plain", workspace)
        store.enqueue("plain, later", workspace)
        clock.advance(60)  # every lease above is past its end; one ran past its runtime
    return path


def test_writes_exactly_what_the_store_writes(
    seeded: Path, tmp_path: Path, clock: FakeClock, deterministic_tokens
) -> None:
    by_store, by_fast_path = tmp_path / "store.db", tmp_path / "fast.db"
    shutil.copy(seeded, by_store)
    shutil.copy(seeded, by_fast_path)
    with Store.open(f"sqlite:///{by_store}", clock=clock) as store:
        from_store = [store.claim_next("w", lease_s=45) for _ in range(6)]
    deterministic_tokens()
    fast = [
        sqlite_worker.claim_next(f"sqlite:///{by_fast_path}", "w", lease_s=45, clock=clock)
        for _ in range(6)
    ]
    assert fast == from_store
    assert [c is None for c in fast] == [False] * 4 + [True] * 2  # then the queue is empty
    assert _dump(by_fast_path) == _dump(by_store)
    actions = [row[5] for row in _dump(by_fast_path)["events"]]
    assert {"runtime_park", "expire_retry", "expire_park"} <= set(actions)


def test_the_sweep_runs_before_the_claim(seeded: Path, clock: FakeClock) -> None:
    claimed = sqlite_worker.claim_next(f"sqlite:///{seeded}", "fresh", clock=clock)
    assert claimed is not None
    with Store.open(f"sqlite:///{seeded}", clock=clock) as store:
        # Run 2's lease expired with attempts left: swept back to the queue, then taken.
        assert (claimed.run_id, claimed.attempt) == (2, 2)
        assert store.get_run(2, check_disk=False).run.worker == "fresh"
        assert store.get_run(1, check_disk=False).run.status == "needs_attention"
        assert "max runtime" in (store.get_run(3, check_disk=False).run.block_reason or "")


def _heartbeats(
    path: Path, calls: list[tuple[int, str, float | None]], clock: FakeClock, *, fast: bool
) -> list[object]:
    """Each (run, token, lease) heartbeat's result: the new lease end, or (error code,
    message) when refused; the clock moves 10 s between calls."""
    outcomes: list[object] = []
    with Store.open(f"sqlite:///{path}", clock=clock) as store:
        for run_id, token, lease in calls:
            try:
                if fast:
                    until = sqlite_worker.heartbeat(
                        f"sqlite:///{path}", run_id, token, lease_s=lease, clock=clock
                    )
                else:
                    until = store.heartbeat(run_id, token, lease_s=lease)
                outcomes.append(until)
            except ParkbenchError as error:
                outcomes.append((error.code, str(error)))
            clock.advance(10)
    return outcomes


def test_heartbeat_writes_and_refuses_exactly_as_the_store(
    tmp_path: Path, workspace: Path, clock: FakeClock, deterministic_tokens
) -> None:
    seeded = tmp_path / "heartbeat.db"
    with Store.open(f"sqlite:///{seeded}", clock=clock) as store:
        plain = store.enqueue("plain", workspace, priority=3).run_id
        bounded = store.enqueue("runtime bound", workspace, priority=2, max_runtime_s=25).run_id
        blocked = store.enqueue("blocked", workspace, priority=1).run_id
        tokens_of = {}
        for _ in range(3):
            claimed = store.claim_next("agent", lease_s=15)
            assert claimed is not None
            tokens_of[claimed.run_id] = claimed.claim_token
        store.block(blocked, tokens_of[blocked], reason="needs a human")
    start = clock.now_ms
    calls = [
        (plain, tokens_of[plain], 60),  # extended
        (bounded, tokens_of[bounded], 60),  # capped at its max runtime
        (plain, tokens_of[plain], None),  # the default lease
        (999, tokens_of[plain], None),  # not_found
        (plain, tokens_of[bounded], None),  # invalid_token
        (blocked, tokens_of[blocked], None),  # invalid_transition (parked)
        (bounded, tokens_of[bounded], 60),  # past its max runtime: lease_expired
        (plain, tokens_of[plain], 0),  # validation, before any read
    ]
    by_store, by_fast_path = tmp_path / "store.db", tmp_path / "fast.db"
    shutil.copy(seeded, by_store)
    shutil.copy(seeded, by_fast_path)
    from_store = _heartbeats(by_store, calls, clock, fast=False)
    clock.now_ms = start
    fast = _heartbeats(by_fast_path, calls, clock, fast=True)
    assert fast == from_store
    codes = [o[0] for o in fast if isinstance(o, tuple)]
    assert codes == [
        "not_found", "invalid_token", "invalid_transition", "lease_expired", "validation"
    ]  # fmt: skip
    assert _dump(by_fast_path) == _dump(by_store)
    # An expired lease is refused too (the lease of `plain` ran out 300 s after its last beat).
    clock.advance(400)
    with pytest.raises(ParkbenchError) as expired:
        sqlite_worker.heartbeat(f"sqlite:///{by_fast_path}", plain, tokens_of[plain], clock=clock)
    assert expired.value.code == "lease_expired"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///:memory:",
        "sqlite:///file:x.db?mode=ro&uri=true",
        "sqlite:///x.db?timeout=5",
        "sqlite+pysqlite:///x.db",
        "postgresql+psycopg://u@localhost/db",
    ],
)
def test_urls_it_leaves_to_the_store(url: str) -> None:
    assert sqlite_file(url) is None
    with pytest.raises(sqlite_worker.NotHandled):
        sqlite_worker.claim_next(url, "w")
    with pytest.raises(sqlite_worker.NotHandled):
        sqlite_worker.heartbeat(url, 1, "pkb_claim_" + "A" * 43)


def test_a_missing_file_is_left_for_the_store_to_create(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with pytest.raises(sqlite_worker.NotHandled):
        sqlite_worker.claim_next(str(path), "w")  # a bare path, as --db takes it
    assert not path.exists()


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


def test_an_older_schema_is_left_untouched(seeded: Path) -> None:
    with sqlite3.connect(seeded) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0002'")
    before = _bytes(seeded)
    with pytest.raises(sqlite_worker.NotHandled):
        sqlite_worker.claim_next(f"sqlite:///{seeded}", "w")
    with sqlite3.connect(seeded) as conn:  # nothing was claimed or swept
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (
            len(_dump(seeded)["events"]),
        )
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0002",)
    assert _bytes(seeded) == before


def test_a_file_not_in_wal_mode_goes_to_the_store(seeded: Path) -> None:
    with sqlite3.connect(seeded) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
    with pytest.raises(sqlite_worker.NotHandled):
        sqlite_worker.claim_next(f"sqlite:///{seeded}", "w")


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 100])
def test_something_else_goes_to_the_store(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "odd.db"
    path.write_bytes(content)
    with pytest.raises(sqlite_worker.NotHandled):
        sqlite_worker.claim_next(f"sqlite:///{path}", "w")
    assert path.read_bytes() == content


def test_a_held_write_lock_is_the_stores_database_error(
    seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_BUSY_TIMEOUT, "50")
    holder = sqlite3.connect(seeded, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseError, match="database is locked"):
            sqlite_worker.claim_next(f"sqlite:///{seeded}", "w")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not [e for e in _dump(seeded)["events"] if e[4] == "w"]


@pytest.mark.parametrize(("worker", "lease"), [("  ", None), ("w", 0), ("w", 86_401)])
def test_bad_input_is_refused_before_the_database(worker: str, lease: float | None) -> None:
    with pytest.raises(ValidationError):
        sqlite_worker.claim_next("sqlite:////nonexistent/dir/x.db", worker, lease_s=lease)


def test_the_compiled_statements_are_current() -> None:
    assert sqlite_codegen.TARGET.read_text() == sqlite_codegen.render(), (
        "core/sqlite_compiled.py is stale: run `python -m core.sqlite_codegen`"
    )


def test_the_fast_path_imports_no_sqlalchemy(seeded: Path) -> None:
    probe = (
        "import sys; from core import sqlite_worker; "
        f"print(sqlite_worker.claim_next({str(seeded)!r}, 'probe') is not None, "
        "sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'alembic', 'platformdirs', 'textual', 'rich')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["True", "[]"]


def test_out_of_range_and_damaged_rows_fail_as_in_the_store(seeded: Path, clock: FakeClock) -> None:
    url = f"sqlite:///{seeded}"
    token = tokens.TOKEN_PREFIX + "A" * 43
    with pytest.raises(ValidationError, match="out of range"):
        sqlite_worker.heartbeat(url, 2**70, token, clock=clock)
    with sqlite3.connect(seeded) as conn:
        conn.execute("UPDATE runs SET status = 'half-written' WHERE id = 2")
        conn.execute(
            "UPDATE runs SET claim_token_hash = ? WHERE id = 2", (tokens.hash_token(token),)
        )
    with pytest.raises(DatabaseError, match="damaged data") as fast:
        sqlite_worker.heartbeat(url, 2, token, clock=clock)
    with Store.open(url, clock=clock) as store, pytest.raises(DatabaseError) as slow:
        store.heartbeat(2, token)
    assert (fast.value.message, fast.value.hint) == (slow.value.message, slow.value.hint)
