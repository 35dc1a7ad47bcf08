"""SQLite's direct hot path (core.sqlite_direct): same statements, same transactions, same
errors as SQLAlchemy's path, which still serves whenever something listens to statements."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from core import sqlite_direct
from core.db import ENV_BUSY_TIMEOUT
from core.errors import DatabaseError, LeaseExpiredError
from core.lifecycle import RunStatus
from core.store import Store

pytestmark = pytest.mark.sqlite_only


def _shape(sql: str) -> str:
    """A traced statement with its values blanked, so two runs compare."""
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+\b|\bNULL\b", "?", sql)
    return re.sub(r"\s+", " ", sql).strip()


def _traced(store: Store) -> list[str]:
    """Every statement the driver runs from now on (pool reconnected with a tracer)."""
    seen: list[str] = []
    store.engine.dispose()

    @sa.event.listens_for(store.engine, "connect")
    def _trace(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    return seen


def _cycle(store: Store, workspace: Path) -> tuple[int, list[str]]:
    store.enqueue("t", workspace)
    store.recover_expired()  # so claim_next does not sweep inside the traced window
    seen = _traced(store)
    claim = store.claim_next("w")
    assert claim is not None
    assert store.complete(claim.run_id, claim.claim_token).status is RunStatus.COMPLETED
    return claim.run_id, [_shape(s) for s in seen]


def test_the_worker_hot_path_skips_sqlalchemy_but_not_the_transactions(
    tmp_path: Path, workspace: Path
) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'direct.db'}") as store:
        assert not sqlite_direct.observed(store.engine)
        run_id, statements = _cycle(store, workspace)
        verbs = [s.split()[0] for s in statements if not s.startswith("PRAGMA")]
        claim_tx = ["BEGIN", "UPDATE", "INSERT", "COMMIT"]
        complete_tx = ["BEGIN", "SELECT", "UPDATE", "INSERT", "COMMIT"]
        assert verbs == claim_tx + complete_tx
        assert statements.count("BEGIN IMMEDIATE") == 2
        actions = [e.action for e in store.get_run(run_id).events]
        assert actions == ["enqueue", "claim", "complete"]


def test_an_observed_engine_takes_sqlalchemys_path_with_the_same_statements(
    tmp_path: Path, workspace: Path
) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'direct.db'}") as store:
        _, direct = _cycle(store, workspace)
    with Store.open(f"sqlite:///{tmp_path / 'observed.db'}") as store:
        executed: list[str] = []

        @sa.event.listens_for(store.engine, "after_cursor_execute")
        def _seen(_c: object, _cur: object, statement: str, *_rest: object) -> None:
            executed.append(statement)

        assert sqlite_direct.observed(store.engine)
        run_id, observed = _cycle(store, workspace)
        assert any(s.startswith("UPDATE runs") for s in executed)  # the listener fired
        assert [e.action for e in store.get_run(run_id).events] == ["enqueue", "claim", "complete"]
    # Both paths send the database the very same statements.
    assert [s for s in observed if s != "ROLLBACK"] == [s for s in direct if s != "ROLLBACK"]


def test_a_refused_move_rolls_back_and_leaves_the_connection_clean(
    tmp_path: Path, workspace: Path, clock
) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'direct.db'}", clock=clock) as store:
        store.enqueue("a", workspace)
        store.enqueue("b", workspace)
        claim = store.claim_next("w", lease_s=10)
        assert claim is not None
        clock.advance(11)
        with pytest.raises(LeaseExpiredError):
            store.heartbeat(claim.run_id, claim.claim_token)
        # The pooled connection came back without an open transaction: writes go on.
        pooled = store.engine.raw_connection()
        assert not pooled.driver_connection.in_transaction  # type: ignore[union-attr]
        pooled.close()
        second = store.claim_next("w")
        assert second is not None and second.attempt in (1, 2)


def test_a_locked_database_is_the_database_error_and_the_store_recovers(
    tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_BUSY_TIMEOUT, "200")
    path = tmp_path / "locked.db"
    with Store.open(f"sqlite:///{path}") as store:
        store.enqueue("t", workspace)
        store.recover_expired()
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(DatabaseError) as locked:
                store.claim_next("w")
            assert "locked" in locked.value.message
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        claim = store.claim_next("w")
        assert claim is not None
        assert store.complete(claim.run_id, claim.claim_token).status is RunStatus.COMPLETED
