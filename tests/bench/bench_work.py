"""`parkbench work`: how fast a waiting worker picks up new work, and its cost per run.

    .venv/bin/python tests/bench/bench_work.py                 # SQLite; PostgreSQL too when
    export PARKBENCH_TEST_PG_URL=$(bash .ci/pg.sh start)       # this is set
    .venv/bin/python tests/bench/bench_work.py --pickups 20 --runs 200 --shell-runs 10

Pickup: one `parkbench work --wait --json -- true` process; each round waits for its
"waiting" line, enqueues one run (timed from just before the enqueue commits), and reads
lines until "claimed": enqueue -> claimed, min / median / max over the rounds.
Targets: median <= 100 ms on PostgreSQL (LISTEN/NOTIFY), <= 600 ms on SQLite (the polled
change marker).

Overhead: `parkbench work --max-runs N -- true` over N queued runs, against the baseline a
shell worker would be without it, in the same run: a loop of `parkbench lease claim --json`
plus `parkbench lease complete` per run (two interpreter starts a run). Seconds per run of
each and the ratio. Target: work >= 3x faster.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from testkit import create_pg_database, drop_pg_database  # noqa: E402

from parkbench.core.store import Store  # noqa: E402

PARKBENCH = str(Path(sys.executable).with_name("parkbench"))
ENV = {k: v for k, v in os.environ.items() if not k.startswith("PARKBENCH_")}


def _stats(values: list[float]) -> str:
    return (
        f"min {min(values) * 1000:7.1f} ms  median {statistics.median(values) * 1000:7.1f} ms"
        f"  max {max(values) * 1000:7.1f} ms  (n={len(values)})"
    )


def pickup(url: str, workspace: Path, rounds: int) -> list[float]:
    worker = subprocess.Popen(
        [PARKBENCH, "work", "--worker", "bench", "--db", url, "--wait", "--json", "--", "true"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=ENV,
    )
    assert worker.stdout is not None
    latencies = []
    try:
        with Store.open(url) as store:
            for _ in range(rounds):
                while json.loads(worker.stdout.readline())["event"] != "waiting":
                    pass
                time.sleep(0.3)  # let the worker settle into its wait: the case measured
                start = time.perf_counter()
                store.enqueue("pickup", workspace)
                while json.loads(worker.stdout.readline())["event"] != "claimed":
                    pass
                latencies.append(time.perf_counter() - start)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return latencies


def overhead(url: str, workspace: Path, runs: int, shell_runs: int) -> tuple[float, float]:
    with Store.open(url) as store:
        for _ in range(runs + shell_runs):
            store.enqueue("overhead", workspace)
    start = time.perf_counter()
    subprocess.run(
        [
            PARKBENCH,
            "work",
            "--worker",
            "bench",
            "--db",
            url,
            "--max-runs",
            str(runs),
            "--",
            "true",
        ],
        check=True,
        env=ENV,
        capture_output=True,
    )
    per_work = (time.perf_counter() - start) / runs
    start = time.perf_counter()
    for _ in range(shell_runs):
        claim = json.loads(
            subprocess.run(
                [PARKBENCH, "lease", "claim", "--worker", "sh", "--db", url, "--json"],
                check=True,
                env=ENV,
                capture_output=True,
                text=True,
            ).stdout
        )
        subprocess.run(
            [PARKBENCH, "lease", "complete", str(claim["run_id"]), "--db", url],
            check=True,
            capture_output=True,
            env=ENV | {"PARKBENCH_TOKEN": claim["claim_token"]},
        )
    per_shell = (time.perf_counter() - start) / shell_runs
    return per_work, per_shell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pickups", type=int, default=15)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--shell-runs", type=int, default=10)
    args = parser.parse_args()
    pg_admin = os.environ.get("PARKBENCH_TEST_PG_URL")
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        targets = [("sqlite", f"sqlite:///{tmp}/work.db", None)]
        if pg_admin:
            pg_url = create_pg_database(pg_admin)
            targets.append(("postgres", pg_url, pg_url))
        try:
            for name, url, _ in targets:
                Store.open(url).close()
                print(
                    f"{name:8} pickup enqueue -> claimed: "
                    f"{_stats(pickup(url, workspace, args.pickups))}"
                )
                per_work, per_shell = overhead(url, workspace, args.runs, args.shell_runs)
                print(
                    f"{name:8} per run: work {per_work * 1000:.1f} ms, shell claim+complete "
                    f"{per_shell * 1000:.1f} ms: work is {per_shell / per_work:.1f}x faster"
                )
        finally:
            for _, _, drop in targets:
                if drop and pg_admin:
                    drop_pg_database(pg_admin, drop)


if __name__ == "__main__":
    main()
