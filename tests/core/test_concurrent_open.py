"""A fresh database opened by several processes at once: every one of them succeeds.

Real processes, as in a CI job with parallel agents on a fresh database: each imports the
core, says so, waits for the common start signal, then opens the store (which creates the
schema) and enqueues one task. Creation is serialised (SQLite: the write lock is taken
before the "need to migrate?" check; PostgreSQL: an advisory lock around it), so the others
wait for the first one and then find the schema at head.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from parkbench.core.db.engine import HEAD_REVISION, make_engine
from parkbench.core.models import metadata

PROCESSES = 8

OPENER = r"""
import sys
from parkbench.core.errors import ParkbenchError
from parkbench.core.store import Store
print("ready", flush=True)
sys.stdin.readline()  # the common start signal
try:
    with Store.open(sys.argv[1]) as store:
        print(store.enqueue(f"task {sys.argv[2]}", sys.argv[3]).run_id, flush=True)
except ParkbenchError as error:
    print(f"{error.code}: {error.message}", file=sys.stderr)
    sys.exit(5)
"""


def _open_all_at_once(url: str, workspace: Path) -> list[int]:
    children = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, url, str(n), str(workspace)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    try:
        for child in children:  # everyone has paid for its imports before anyone opens
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        outcomes = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    failures = [
        (child.returncode, err.strip()[-500:])
        for child, (_out, err) in zip(children, outcomes, strict=True)
        if child.returncode != 0
    ]
    assert failures == []
    return sorted(int(out) for out, _err in outcomes)


@pytest.mark.slow  # 8 interpreters importing the core: ~10 s of CPU per backend
def test_parallel_opens_of_a_fresh_database_all_succeed(db_url: str, workspace: Path) -> None:
    run_ids = _open_all_at_once(db_url, workspace)
    assert len(set(run_ids)) == PROCESSES
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
            assert [v for (v,) in versions] == [HEAD_REVISION]  # migrated once, to head
            assert set(metadata.tables) <= set(sa.inspect(conn).get_table_names())
            queued = conn.execute(sa.text("SELECT count(*) FROM runs")).scalar_one()
            assert queued == PROCESSES
    finally:
        engine.dispose()
