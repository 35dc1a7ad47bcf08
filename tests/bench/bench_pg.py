"""Claim+complete throughput on PostgreSQL, side by side with procrastinate, plus SQLite.

    .venv/bin/pip install procrastinate      # benchmark only; not a Parkbench dependency
    export PARKBENCH_TEST_PG_URL=$(bash .ci/pg.sh start)
    .venv/bin/python tests/bench/bench_pg.py                          # 1, 4, 8 workers; 5 reps
    .venv/bin/python tests/bench/bench_pg.py --jobs 4000 --workers 1,8 --repeat 3

For every repetition and worker count, each system gets a fresh database (PostgreSQL: a new
database on the same server; SQLite: a new file) seeded with the same number of jobs in bulk
(untimed: Parkbench rows as Store.enqueue writes them, procrastinate through its own
``batch_defer_async``). Then N worker processes start together at a barrier and each loops
"fetch the next job, finish it" until the queue is empty — no job body:

    parkbench   Store.claim_next(worker) + Store.complete(run_id, token)
    procrastinate   JobManager.fetch_job(queues=None, worker_id) + finish_job(SUCCEEDED)

Two figures per measurement:

- jobs/s: jobs / (last worker's end - first worker's start), wall clock;
- jobs per CPU-second: jobs / (CPU time of the worker processes + CPU time of the server
  processes serving their connections, read from /proc: the server is on this machine).
  On a shared machine this one is far steadier: other jobs' load barely moves it, and on
  N idle cores the wall figure tends to N x this one.

The systems take turns inside each repetition (alternating who goes first), so background
load hits them alike. Prints min / median / max over the repetitions and the ratio
parkbench/procrastinate of the medians. A separate table times defer: one process enqueueing
jobs one at a time through each API.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # the pg package: its helpers

import sqlalchemy as sa  # noqa: E402
from pg.pgtest_support import create_database, drop_database, seed_queued  # noqa: E402

from parkbench.core.store import Store  # noqa: E402

SPAWN = multiprocessing.get_context("spawn")
_TICKS = os.sysconf("SC_CLK_TCK")


def _server_cpu(pids: set[int]) -> float:
    """CPU seconds (user + system) of the server processes behind our connections."""
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


# -- workers (spawned processes) ----------------------------------------------------------------


def parkbench_worker(url: str, name: str, barrier: Any, results: Any) -> None:
    with Store.open(url) as store:
        backends: set[int] = set()
        if store.engine.dialect.name == "postgresql":

            @sa.event.listens_for(store.engine, "connect")
            def _remember(dbapi_connection: Any, _record: Any) -> None:
                backends.add(dbapi_connection.info.backend_pid)

            store.engine.dispose()  # so that every connection from here on is remembered
            store.counts_by_status()
        barrier.wait(timeout=300)
        cpu, server, start = time.process_time(), _server_cpu(backends), time.monotonic()
        done = 0
        while (claim := store.claim_next(name)) is not None:
            store.complete(claim.run_id, claim.claim_token)
            done += 1
        end = time.monotonic()
        used = time.process_time() - cpu + _server_cpu(backends) - server
        results.put((start, end, done, used))


def _procrastinate_app(conninfo: str) -> Any:
    import procrastinate

    app = procrastinate.App(
        # One connection, as each Parkbench worker uses: its server process is measured.
        connector=procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=1)
    )
    app.task(name="noop")(_noop)
    return app


def _noop() -> None:
    """The benchmark's job: no body."""


def procrastinate_worker(conninfo: str, _name: str, barrier: Any, results: Any) -> None:
    from procrastinate import jobs

    logging.getLogger("procrastinate").setLevel(logging.ERROR)

    async def main() -> None:
        app = _procrastinate_app(conninfo)
        async with app.open_async():
            manager = app.job_manager
            worker_id = await manager.register_worker()
            row = await app.connector.execute_query_one_async("SELECT pg_backend_pid() AS pid")
            backends = {row["pid"]}
            barrier.wait(timeout=300)
            cpu, server, start = time.process_time(), _server_cpu(backends), time.monotonic()
            done = 0
            while (job := await manager.fetch_job(queues=None, worker_id=worker_id)) is not None:
                await manager.finish_job(job, jobs.Status.SUCCEEDED, delete_job=False)
                done += 1
            end = time.monotonic()
            used = time.process_time() - cpu + _server_cpu(backends) - server
            results.put((start, end, done, used))

    asyncio.run(main())


# -- one measurement ------------------------------------------------------------------------------


def _race(target: Any, url: str, workers: int) -> tuple[float, float, int]:
    barrier = SPAWN.Barrier(workers)
    results = SPAWN.Queue()
    procs = [
        SPAWN.Process(target=target, args=(url, f"w{i}", barrier, results)) for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    reports = [results.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        if proc.exitcode != 0:
            raise SystemExit(f"a {target.__name__} process failed (exit {proc.exitcode})")
    start = min(r[0] for r in reports)
    end = max(r[1] for r in reports)
    done = sum(r[2] for r in reports)
    return done / (end - start), done / sum(r[3] for r in reports), done


def _conninfo(url: str) -> str:
    from parkbench.core.db.notify import libpq_conninfo

    return libpq_conninfo(url)


def measure(system: str, admin: str, jobs: int, workers: int, tmp: Path) -> tuple[float, float]:
    """(jobs per second, jobs per CPU-second) for one system at one worker count, on a
    fresh database."""
    if system == "sqlite":
        url = f"sqlite:///{tmp / f'bench-{time.monotonic_ns()}.db'}"
    else:
        url = create_database(admin)
    try:
        if system == "procrastinate":
            conninfo = _conninfo(url)

            async def seed() -> None:
                app = _procrastinate_app(conninfo)
                async with app.open_async():
                    await app.schema_manager.apply_schema_async()
                    await app.tasks["noop"].batch_defer_async(*[{} for _ in range(jobs)])

            asyncio.run(seed())
            rate, per_cpu, done = _race(procrastinate_worker, conninfo, workers)
        else:
            with Store.open(url) as store:
                seed_queued(store.engine, str(tmp), jobs, now_ms=store.clock())
            rate, per_cpu, done = _race(parkbench_worker, url, workers)
        if done != jobs:
            raise SystemExit(f"{system}: {done} of {jobs} jobs finished")
        return rate, per_cpu
    finally:
        if system != "sqlite":
            drop_database(admin, url)


def measure_defer(system: str, admin: str, jobs: int, tmp: Path) -> float:
    """One process deferring ``jobs`` jobs one call at a time: jobs per second."""
    url = create_database(admin)
    try:
        if system == "procrastinate":
            conninfo = _conninfo(url)

            async def defer() -> float:
                app = _procrastinate_app(conninfo)
                async with app.open_async():
                    await app.schema_manager.apply_schema_async()
                    task = app.tasks["noop"]
                    start = time.monotonic()
                    for _ in range(jobs):
                        await task.defer_async()
                    return time.monotonic() - start

            return jobs / asyncio.run(defer())
        with Store.open(url) as store:
            start = time.monotonic()
            for i in range(jobs):
                store.enqueue(f"job {i}", tmp)
            return jobs / (time.monotonic() - start)
    finally:
        drop_database(admin, url)


# -- the report -------------------------------------------------------------------------------


def _row(label: str, rates: list[float]) -> str:
    return f"{label:<24} {min(rates):>9,.0f} {statistics.median(rates):>9,.0f} {max(rates):>9,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=4000, help="jobs per measurement")
    parser.add_argument("--workers", default="1,4,8", help="worker process counts")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions")
    parser.add_argument("--defer-jobs", type=int, default=1000, help="jobs for the defer line")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--pg-url", default=os.environ.get("PARKBENCH_TEST_PG_URL"))
    args = parser.parse_args()
    admin = args.pg_url or subprocess.run(
        ["bash", str(ROOT / ".ci" / "pg.sh"), "start"], check=True, capture_output=True,
        text=True,
    ).stdout.strip()  # fmt: skip
    try:
        import procrastinate
    except ImportError:
        raise SystemExit(
            "install the baseline first: .venv/bin/pip install procrastinate"
        ) from None
    # procrastinate warns that the App lives in __main__; true, and harmless here.
    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    worker_counts = [int(n) for n in args.workers.split(",")]
    systems = ["parkbench", "procrastinate"] + ([] if args.no_sqlite else ["sqlite"])
    keys = [(s, w) for s in systems for w in worker_counts]
    rates: dict[tuple[str, int], list[float]] = {key: [] for key in keys}
    per_cpu: dict[tuple[str, int], list[float]] = {key: [] for key in keys}
    defers: dict[str, list[float]] = {"parkbench": [], "procrastinate": []}
    print(
        f"{args.jobs:,} jobs per measurement, {args.repeat} repetitions, "
        f"{os.cpu_count()} CPUs, procrastinate {procrastinate.__version__}, "
        f"server {sa.engine.make_url(admin).render_as_string(hide_password=True)}"
    )
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for rep in range(args.repeat):
            for workers in worker_counts:
                # Alternate who goes first so neither always runs on a warmer server.
                order = systems if rep % 2 == 0 else list(reversed(systems))
                for system in order:
                    rate, cpu_rate = measure(system, admin, args.jobs, workers, tmp)
                    rates[(system, workers)].append(rate)
                    per_cpu[(system, workers)].append(cpu_rate)
                    print(
                        f"  rep {rep + 1} {system:<13} {workers} workers: {rate:8,.0f} jobs/s"
                        f" {cpu_rate:8,.0f} jobs/CPU-s",
                        flush=True,
                    )
            for system in defers:
                defers[system].append(measure_defer(system, admin, args.defer_jobs, tmp))
    for title, table in (("jobs/s", rates), ("jobs/CPU-s", per_cpu)):
        print()
        print(f"{'claim+complete, ' + title:<24} {'min':>9} {'median':>9} {'max':>9}")
        for workers in worker_counts:
            for system in systems:
                label = "parkbench (sqlite)" if system == "sqlite" else f"{system} (pg)"
                print(_row(f"{label} x{workers}", table[(system, workers)]))
            ours = statistics.median(table[("parkbench", workers)])
            theirs = statistics.median(table[("procrastinate", workers)])
            print(f"{'':<24} parkbench/procrastinate (median): {ours / theirs:.2f}")
    print()
    print(f"{'defer, 1 process, jobs/s':<24} {'min':>9} {'median':>9} {'max':>9}")
    for system, values in defers.items():
        print(_row(f"{system} (pg)", values))


if __name__ == "__main__":
    main()
