"""Enqueue throughput: one task a call, and a batch, on SQLite and PostgreSQL.

    export PARKBENCH_TEST_PG_URL=$(bash .ci/pg.sh start)    # optional: PostgreSQL too
    .venv/bin/pip install procrastinate                      # optional: the defer baseline
    .venv/bin/python tests/bench/bench_enqueue.py --single 1000 --batch 10000 --repeat 3

Per repetition, each measurement gets a fresh database. Figures (min / median over the
repetitions, wall clock and CPU time of this process):

- single: Store.enqueue one task at a time (each its own transaction), tasks/s; on
  PostgreSQL beside procrastinate's ``defer_async`` one job at a time on the same server,
  in the same run, when procrastinate is installed. Target: >= 1.0x procrastinate.
- batch: Store.enqueue_many of N tasks in one call (what `enqueue --from` does), tasks/s.
  Target: >= 10,000 tasks/s on both backends.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from testkit import create_pg_database, drop_pg_database  # noqa: E402

from parkbench.core.store import NewTask, Store  # noqa: E402


def _timed(work: Callable[[], int]) -> tuple[float, float]:
    """(items per wall second, items per CPU second) of ``work``, which returns a count."""
    wall, cpu = time.perf_counter(), time.process_time()
    count = work()
    return count / (time.perf_counter() - wall), count / max(time.process_time() - cpu, 1e-9)


def single(url: str, workspace: Path, count: int) -> tuple[float, float]:
    with Store.open(url) as store:
        store.enqueue("warm-up", workspace)

        def work() -> int:
            for i in range(count):
                store.enqueue(f"task {i}", workspace)
            return count

        return _timed(work)


def batch(url: str, workspace: Path, count: int) -> tuple[float, float]:
    with Store.open(url) as store:
        store.enqueue("warm-up", workspace)
        tasks = [
            NewTask(
                f"task {i}",
                workspace,
                priority=i % 5,
                metadata={"completion_contract": {"required_paths": [f"out/{i}.md"]}},
            )
            for i in range(count)
        ]
        return _timed(lambda: len(store.enqueue_many(tasks)))


def procrastinate_defer(pg_url: str, count: int) -> tuple[float, float] | None:
    try:
        import procrastinate
    except ImportError:
        return None
    conninfo = pg_url.replace("postgresql+psycopg://", "postgresql://")
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))

    @app.task(name="noop")
    def noop() -> None: ...

    async def run() -> tuple[float, float]:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            await noop.defer_async()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(count):
                await noop.defer_async()
            return (
                count / (time.perf_counter() - wall),
                count / max(time.process_time() - cpu, 1e-9),
            )

    return asyncio.run(run())


def _line(name: str, values: list[tuple[float, float]]) -> str:
    walls = [v[0] for v in values]
    cpus = [v[1] for v in values]
    return (
        f"{name:<36} wall min {min(walls):9,.0f}  median {statistics.median(walls):9,.0f}"
        f"   per CPU-s median {statistics.median(cpus):9,.0f}   tasks/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pg_admin = os.environ.get("PARKBENCH_TEST_PG_URL")
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        for rep in range(args.repeat):
            backends = [("sqlite", lambda rep=rep, kind="": f"sqlite:///{tmp}/{kind}{rep}.db")]
            if pg_admin:
                backends.append(("postgres", lambda rep=rep, kind="": create_pg_database(pg_admin)))
            for name, make in backends:
                for kind, measure, count in (
                    ("single", single, args.single),
                    ("batch", batch, args.batch),
                ):
                    url = make(kind=kind)
                    try:
                        results.setdefault(f"{name} {kind} ({count:,})", []).append(
                            measure(url, workspace, count)
                        )
                    finally:
                        if name == "postgres":
                            drop_pg_database(pg_admin, url)  # type: ignore[arg-type]
                if name == "postgres":
                    url = make(kind="procrastinate")
                    try:
                        figure = procrastinate_defer(url, args.single)
                        if figure is not None:
                            results.setdefault(
                                f"postgres procrastinate defer ({args.single:,})", []
                            ).append(figure)
                    finally:
                        drop_pg_database(pg_admin, url)  # type: ignore[arg-type]
    for name, values in results.items():
        print(_line(name, values))
    if pg_admin and not any("procrastinate" in name for name in results):
        print(
            "postgres procrastinate defer: skipped, procrastinate is not installed"
            " (the baseline only: `.venv/bin/pip install procrastinate`)"
        )
    if not pg_admin:
        print("postgres: skipped, PARKBENCH_TEST_PG_URL is not set")
    print(f"load average: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
