"""Revision 0004 backfills runs.cause_key with exactly the keys the parking moves write, on
both backends: a database of parked, requeued and settled runs (the demo's stories, and one
run through each parking move of the store), taken back to 0003 and upgraded again, has
the same key on every row."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from test_cause_key import PARKS
from testkit import FakeClock

from parkbench.core.db import schema
from parkbench.core.db.engine import HEAD_REVISION
from parkbench.core.demo import DEMO_NOW_MS, generate
from parkbench.core.models import runs
from parkbench.core.store import Store

#: Enough demo runs that the backfill takes more than one batch of rows with a reason.
DEMO_RUNS = 11_000


def _keys(engine: sa.Engine) -> dict[int, str | None]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(runs.c.id, runs.c.cause_key)).all())


def _columns(engine: sa.Engine) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns("runs")}


def test_the_backfill_writes_the_keys_the_parking_moves_write(
    store: Store, workspace: Path, clock: FakeClock, tmp_path: Path
) -> None:
    for move, _, _ in PARKS.values():
        move(store, workspace, clock)
    generate(store.engine, runs=DEMO_RUNS, seed=7, workspace=tmp_path / "demo", now_ms=DEMO_NOW_MS)
    parked_by_store = store.causes().runs_total
    written = _keys(store.engine)
    keyed = [key for key in written.values() if key is not None]
    assert len(keyed) > 5000 and len(set(keyed)) > 20  # batches, and many causes

    engine = store.engine
    engine.dispose()
    with engine.begin() as conn:
        command.downgrade(schema.alembic_config(conn), "0003")
    assert schema.current_revision(engine) == "0003" and "cause_key" not in _columns(engine)
    schema.upgrade(engine)
    assert schema.current_revision(engine) == HEAD_REVISION

    assert _keys(engine) == written
    assert store.causes().runs_total == parked_by_store
