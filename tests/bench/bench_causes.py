"""The grouped view ("Causes", issue 20 §1) at 10,000 and 100,000 parked runs.

    python tests/bench/bench_causes.py           # 10k and 100k (seeds /tmp/parkbench-bench-causes)
    python tests/bench/bench_causes.py --parked 10000 --reps 3

Setup (untimed, cached by size and seed): ``parkbench.core.demo.generate`` (what
``parkbench demo`` writes: ~45% of runs parked, a fifth of them with a completion contract,
reasons with numbers, paths, hashes and hostile text) with enough runs for ``--parked``
parked ones, on SQLite.

Timed, ``--reps`` times each, in this process: wall time and CPU time of the process (min
and median; on a machine shared by many processes the CPU time is the steadier figure):

  baseline    ``SELECT block_reason, count(*) ... WHERE status = 'needs_attention' GROUP BY
              block_reason``: the database's own grouping by exact text (the floor of any
              pass over the parked reasons)
  counts      ``counts_by_status`` (what the header reads)
  causes      ``Store.causes()``: the parked runs grouped by the database by their stored
              cause key and worker (``runs.cause_key``, written when each was parked; read
              from ``ix_runs_status_cause``), the buckets folded by cause and each cause's
              oldest run looked up for its example (what the screen's worker,
              ``parkbench causes`` and summary.json run)
  screen      ``c`` in the headless app to the Causes table drawn with its groups (worker,
              message, first render): what a reviewer waits for the first time
  reopen      the same, opened again with nothing changed (the groups are reused: the
              change marker, one indexed max(), says nothing moved)

Target (issue 20): the grouped view opens in <= 1 s at 100,000 parked runs. Figures on a
shared 2-core machine are noisy: compare medians with the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from parkbench.core.demo import DEMO_NOW_MS, generate  # noqa: E402
from parkbench.core.store import Store  # noqa: E402

PARKED_SHARE = 0.45  # of demo runs (parkbench.core.demo.STORIES)
TARGET_S = 1.0


def seeded(directory: Path, parked: int, seed: int) -> tuple[Path, int]:
    runs = int(parked / PARKED_SHARE) + 1000
    db = directory / f"causes-{runs}-{seed}.db"
    info = db.with_suffix(".json")
    if not info.exists():
        print(f"seeding {runs:,} demo runs into {db} (once) ...", flush=True)
        directory.mkdir(parents=True, exist_ok=True)
        db.unlink(missing_ok=True)
        started = time.perf_counter()
        with Store.open(f"sqlite:///{db}") as store:
            summary = generate(
                store.engine,
                runs=runs,
                seed=seed,
                workspace=directory / f"ws-{runs}-{seed}",
                now_ms=DEMO_NOW_MS,
            )
        info.write_text(json.dumps(summary.to_dict()))
        print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
    else:  # seeded by an older checkout: brought to this one's schema (untimed)
        Store.open(f"sqlite:///{db}", create=False).close()
    return db, json.loads(info.read_text())["by_status"]["needs_attention"]


Samples = list[tuple[float, float]]  # (wall s, CPU s of this process)


def timed(call: Callable[[], object], reps: int) -> Samples:
    samples = []
    for _ in range(reps):
        started, cpu = time.perf_counter(), time.process_time()
        call()
        samples.append((time.perf_counter() - started, time.process_time() - cpu))
    return samples


def baseline(store: Store) -> object:
    query = sa.text(
        "SELECT block_reason, count(*) FROM runs WHERE status = 'needs_attention' "
        "GROUP BY block_reason"
    )
    return store.read(lambda conn: conn.execute(query).all())


async def _screen_open(store: Store, reps: int, *, cold: bool) -> Samples:
    """``c`` (its action, called as the key calls it) to the table drawn with the groups.
    No Pilot waits inside the timing: ``Pilot.press`` also sleeps until the process looks
    idle, which on a shared machine is most of what it would measure."""
    from parkbench.tui.app import ParkbenchApp
    from parkbench.tui.screens.causes import CausesScreen

    app = ParkbenchApp(store, now=lambda: DEMO_NOW_MS, live=False, keymap={})
    samples = []
    async with app.run_test(size=(120, 40)) as pilot:
        while app.main.busy:
            await pilot.pause(0.05)
        for rep in range(reps if cold else reps + 1):  # reopen: the first open fills the cache
            if cold and app.main.causes_cache is not None:
                app.main.causes_cache.clear()
            started, cpu = time.perf_counter(), time.process_time()
            app.main.action_causes()
            while not isinstance(app.screen, CausesScreen) or not app.screen.loaded:
                await asyncio.sleep(0.001)
            await app.screen.wait_for_refresh()  # the table's first render
            if cold or rep:
                samples.append((time.perf_counter() - started, time.process_time() - cpu))
            app.screen.dismiss(None)
            while app.screen is not app.main:
                await asyncio.sleep(0.001)
    return samples


def describe(samples: Samples) -> str:
    wall = [w for w, _ in samples]
    cpu = [c for _, c in samples]
    return (
        f"wall min {min(wall) * 1000:6.0f} ms  median {statistics.median(wall) * 1000:6.0f} ms"
        f"   CPU min {min(cpu) * 1000:6.0f} ms  median {statistics.median(cpu) * 1000:6.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parked", type=int, action="append")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/parkbench-bench-causes"))
    parser.add_argument("--no-screen", action="store_true", help="skip the headless app")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}, {os.cpu_count()} CPUs")
    worst = 0.0
    for parked_wanted in args.parked or [10_000, 100_000]:
        db, parked = seeded(args.dir, parked_wanted, args.seed)
        with Store.open(f"sqlite:///{db}", read_only=True) as store:
            causes = store.causes()
            print(
                f"\n{parked:,} parked runs (SQLite, {db.stat().st_size / 2**20:.0f} MiB): "
                f"{causes.groups_total:,} causes, largest {causes.groups[0].count:,}"
                if causes.groups
                else f"\n{parked:,} parked runs: no causes"
            )
            rows = {
                "baseline": timed(lambda: baseline(store), args.reps),
                "counts": timed(store.counts_by_status, args.reps),
                "causes": timed(store.causes, args.reps),
            }
            if not args.no_screen:
                rows["screen"] = asyncio.run(_screen_open(store, args.reps, cold=True))
                rows["reopen"] = asyncio.run(_screen_open(store, args.reps, cold=False))
            for name, samples in rows.items():
                print(f"  {name:<9} {describe(samples)}")
            worst = max(worst, statistics.median(w for w, _ in rows.get("screen", rows["causes"])))
    verdict = "ok" if worst <= TARGET_S else "OVER"
    print(f"\ntarget: grouped view open <= {TARGET_S:g} s median: {verdict} ({worst:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
