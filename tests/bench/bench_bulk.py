"""Bulk reviewer actions: requeue / fail / release of N marked parked runs, SQLite and PostgreSQL.

    export PARKBENCH_TEST_PG_URL=$(bash .ci/pg.sh start)    # optional: PostgreSQL too
    .venv/bin/python tests/bench/bench_bulk.py --runs 10000 --repeat 3 [--pg URL] [--no-pg]

Each repetition seeds a fresh database with 2 x N parked (needs_attention) runs, each on its
own task with its enqueue/claim/block events, and records every run's status and version as
a mark would. Then, in alternating order:

- store: ``Store.review(action, batch, expected=...)`` a batch of 500 at a time (what the CLI
  and the review app do), on N of the runs;
- raw baseline: the same number of runs moved by one ``UPDATE runs SET status, version WHERE
  id IN (batch)`` per batch and transaction, through SQLAlchemy (no fence, no audit event,
  no successor): the floor for touching that many rows.

Printed: seconds for N runs, min / median over the repetitions, store / raw. Target: <= 5 s for
10,000 runs on both backends. Then the peak RSS growth of a process doing the action on
1,000 and on N runs (a fresh process each, ``ru_maxrss`` after minus before): flat means the
two are about the same.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "core"))

import sqlalchemy as sa  # noqa: E402
from coretest_support import bulk_seed  # noqa: E402
from testkit import PG_ENV, create_pg_database, drop_pg_database  # noqa: E402

from parkbench.core.db.engine import make_engine, system_clock  # noqa: E402
from parkbench.core.lifecycle import Action, RunStatus  # noqa: E402
from parkbench.core.models import runs  # noqa: E402
from parkbench.core.records import Expectation  # noqa: E402
from parkbench.core.store import Store  # noqa: E402

BATCH = 500
RAW_TARGET = {
    Action.REQUEUE: RunStatus.REQUEUED,
    Action.FAIL: RunStatus.FAILED,
    Action.RELEASE: RunStatus.QUEUED,
}
TARGET_S = 5.0


class Database:
    """A fresh database for one measurement (a SQLite file, or a PostgreSQL database)."""

    def __init__(self, backend: str, pg_admin: str | None, tmp: Path) -> None:
        self.backend, self.pg_admin = backend, pg_admin
        if backend == "sqlite":
            self.url = f"sqlite:///{tempfile.mkstemp(suffix='.db', dir=tmp)[1]}"
        else:
            assert pg_admin
            self.url = create_pg_database(pg_admin)

    def drop(self) -> None:
        if self.backend == "postgres":
            assert self.pg_admin
            drop_pg_database(self.pg_admin, self.url)
        else:
            path = Path(self.url.removeprefix("sqlite:///"))
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


def seed(url: str, workspace: Path, count: int) -> list[int]:
    Store.open(url).close()
    engine = make_engine(url)
    try:
        _, parked = bulk_seed(engine, workspace, queued=0, parked=count, start_ms=system_clock())
    finally:
        engine.dispose()
    return parked


def marks(store: Store, run_ids: list[int]) -> dict[int, Expectation]:
    """What the review app's mark-all records: each run's status and version now."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(runs.c.id, runs.c.status, runs.c.version).where(runs.c.id.in_(run_ids))
        )
        return {i: Expectation(RunStatus(s), v) for i, s, v in rows}


def store_action(store: Store, action: Action, expected: dict[int, Expectation]) -> int:
    """The bulk action as the CLI and the app run it: a batch of results at a time, counted."""
    ids = list(expected)
    ok = 0
    for lo in range(0, len(ids), BATCH):
        batch = ids[lo : lo + BATCH]
        results = store.review(
            action, batch, reason="bench", actor="bench", expected={i: expected[i] for i in batch}
        )
        ok += sum(result.ok for result in results)
    return ok


def raw_action(store: Store, action: Action, run_ids: list[int]) -> int:
    target = RAW_TARGET[action].value
    moved = 0
    for lo in range(0, len(run_ids), BATCH):
        with store.engine.begin() as conn:
            moved += conn.execute(
                runs.update()
                .where(runs.c.id.in_(run_ids[lo : lo + BATCH]))
                .values(status=target, version=runs.c.version + 1)
            ).rowcount
    return moved


def _time(work: Callable[[], int], expected: int) -> tuple[float, float]:
    """(wall s, CPU s of this process) of ``work``, which returns how many runs it moved."""
    started, cpu = time.perf_counter(), time.process_time()
    done = work()
    elapsed = time.perf_counter() - started, time.process_time() - cpu
    assert done == expected, f"{done} of {expected} runs moved"
    return elapsed


Timing = tuple[float, float]


def measure(
    backend: str, pg_admin: str | None, tmp: Path, action: Action, count: int, rep: int
) -> tuple[Timing, Timing]:
    db = Database(backend, pg_admin, tmp)
    try:
        parked = seed(db.url, tmp / "ws", 2 * count)
        mine, raw_ids = parked[:count], parked[count:]
        with Store.open(db.url) as store:
            expected = marks(store, mine)
            times: dict[str, Timing] = {}
            order = ("store", "raw") if rep % 2 == 0 else ("raw", "store")
            for side in order:
                if side == "store":
                    times[side] = _time(lambda: store_action(store, action, expected), count)
                else:
                    times[side] = _time(lambda: raw_action(store, action, raw_ids), count)
        return times["store"], times["raw"]
    finally:
        db.drop()


def _rss_child(url: str, action: str, count: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    with Store.open(url) as store:
        ids = seed_ids(store, count)
        expected = marks(store, ids)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        store_action(store, Action(action), expected)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put((after - before) / 1024)


def seed_ids(store: Store, count: int) -> list[int]:
    with store.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(runs.c.id)
                .where(runs.c.status == RunStatus.NEEDS_ATTENTION.value)
                .order_by(runs.c.id)
                .limit(count)
            ).scalars()
        )


def rss_growth(backend: str, pg_admin: str | None, tmp: Path, action: Action, count: int) -> float:
    """MiB the peak RSS of a fresh process grows by while it acts on ``count`` runs."""
    db = Database(backend, pg_admin, tmp)
    try:
        seed(db.url, tmp / "ws", count)
        spawn = multiprocessing.get_context("spawn")
        out = spawn.Queue()
        child = spawn.Process(target=_rss_child, args=(db.url, action.value, count, out))
        child.start()
        growth = out.get(timeout=600)
        child.join()
        return float(growth)
    finally:
        db.drop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get(PG_ENV))
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-rss", action="store_true")
    parser.add_argument(
        "--actions", default="requeue,fail,release", help="comma-separated subset to time"
    )
    args = parser.parse_args()
    backends = ["sqlite"] + ([] if args.no_pg or not args.pg else ["postgres"])
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    missed = False
    with tempfile.TemporaryDirectory(prefix="pb-bench-bulk-") as name:
        tmp = Path(name)
        (tmp / "ws").mkdir()
        for backend in backends:
            for action in [Action(name) for name in args.actions.split(",")]:
                store_s, store_cpu, raw_s = [], [], []
                for rep in range(args.repeat):
                    mine, raw = measure(backend, args.pg, tmp, action, args.runs, rep)
                    store_s.append(mine[0])
                    store_cpu.append(mine[1])
                    raw_s.append(raw[0])
                median = statistics.median(store_s)
                missed |= median > TARGET_S and args.runs >= 10_000
                print(
                    f"{backend:8} {action.value:8} {args.runs:,} runs: store "
                    f"{min(store_s):.2f} / {median:.2f} s (min / median; CPU of this process "
                    f"{min(store_cpu):.2f} / {statistics.median(store_cpu):.2f} s), "
                    f"{args.runs / median:,.0f} runs/s; raw UPDATE {min(raw_s):.3f} / "
                    f"{statistics.median(raw_s):.3f} s; store/raw "
                    f"{median / statistics.median(raw_s):.1f}x"
                )
            if not args.no_rss:
                small = rss_growth(backend, args.pg, tmp, Action.FAIL, 1_000)
                large = rss_growth(backend, args.pg, tmp, Action.FAIL, args.runs)
                print(
                    f"{backend:8} peak RSS growth (fail): 1,000 runs {small:.1f} MiB, "
                    f"{args.runs:,} runs {large:.1f} MiB"
                )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
