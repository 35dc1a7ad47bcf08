"""Receipt watcher figures: latency, idle CPU, a burst of files — with bare watchfiles as baseline.

    .venv/bin/python tests/bench/bench_watch.py                    # 10,000 runs, 100 workspaces
    .venv/bin/python tests/bench/bench_watch.py --large --only start  # 100,000 runs, 1,000 ws
    .venv/bin/python tests/bench/bench_watch.py --repeat 5 --idle-s 20
    PARKBENCH_TEST_PG_URL=$(bash .ci/pg.sh start) .venv/bin/python tests/bench/bench_watch.py --pg

Setup (untimed): ``--runs`` parked runs spread over ``--workspaces`` workspace directories,
each parked by ``park_missing`` and requiring one receipt ``receipts/r<run>.txt``, written in
bulk as the Store would write them. Then, per repetition:

start     ``async with ReceiptWatcher(store)`` until it is ready: every root watched, the
          parked set loaded, every receipt checked (the first pass), ``--start-repeat``
          times; and, as the review app runs it (``first_pass_in_background``), the time
          until it is up (roots watched) and until the first pass is done. Baseline in the
          same run: a bare loop of ``os.stat`` over the same receipt paths.
latency   A ReceiptWatcher over the whole set. ``--files`` receipts are written one at a time
          (each to a different run, round-robin over the workspaces, 50 ms apart); latency is
          from the file's ``close()`` (``time.monotonic``) to the ReceiptChange for it being
          yielded by ``watcher.batches()``. Baseline: a bare ``watchfiles.awatch`` over the
          same roots, time from ``close()`` to the raw event — at the watcher's step (20 ms),
          at its step before session 6 (10 ms) and at watchfiles' defaults (step 50 ms,
          debounce 1600 ms). The watcher at step 10 is measured too, for comparison.
idle      Process CPU time over ``--idle-s`` seconds of nothing happening, as % of one core:
          the ReceiptWatcher (its watches, its 0.5 s store poll and root probes); one bare
          awatch over every root (step 10); 100 bare awatch, one per root (step 10: the design
          the watcher's grouping avoids); and no watcher at all. Then the watcher, the
          watcher as it was before session 6 (step 10, up to 4 watches), one bare awatch and
          nothing at ``--idle-roots`` workspaces (1,000, one parked run each).
burst     ``--burst`` receipts created as fast as a separate writer process can; time from
          its first write to the last ReceiptChange, from its last write, and the watcher's
          CPU time meanwhile; then all deleted again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from asyncio.subprocess import PIPE
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from watchfiles import awatch  # noqa: E402

from parkbench.core.causes import run_cause_key  # noqa: E402
from parkbench.core.contracts import ArtifactState  # noqa: E402
from parkbench.core.models import events, runs, tasks, workspaces  # noqa: E402
from parkbench.core.store import Store  # noqa: E402
from parkbench.core.watch import ReceiptChange, ReceiptWatcher  # noqa: E402
from tests.testkit import create_pg_database, drop_pg_database  # noqa: E402

NOW_MS = 1_788_220_800_000


def receipt(run_id: int) -> str:
    return f"receipts/r{run_id}.txt"


def seed(store: Store, roots: list[str], count: int) -> dict[int, str]:
    """``count`` parked runs (park_missing, one receipt each), round-robin over ``roots``."""
    placed: dict[int, str] = {}
    with store.engine.begin() as conn:
        ws_ids = [
            conn.execute(
                workspaces.insert().returning(workspaces.c.id),
                {"name": os.path.basename(r), "root": r, "created_at": NOW_MS},
            ).scalar_one()
            for r in roots
        ]
        # Task ids are predictable in a fresh database: task i+1 gets run i+1.
        task_rows, run_rows, event_rows = [], [], []
        for i in range(count):
            run_id = i + 1
            slot = i % len(roots)
            contract = {"completion_contract": {"required_paths": [receipt(run_id)]}}
            task_rows.append(
                {
                    "title": f"seeded {run_id}",
                    "workspace_id": ws_ids[slot],
                    "priority": 0,
                    "max_attempts": 3,
                    "max_runtime_ms": None,
                    "metadata_json": json.dumps(contract),
                    "created_at": NOW_MS,
                }
            )
            run_rows.append(
                {
                    "task_id": run_id,
                    "workspace_id": ws_ids[slot],
                    "attempt": 1,
                    "max_attempts": 3,
                    "priority": 0,
                    "status": "needs_attention",
                    "metadata_json": "{}",
                    "version": 3,
                    "queued_at": NOW_MS,
                    "claimed_at": NOW_MS,
                    "blocked_at": NOW_MS,
                    "status_changed_at": NOW_MS + i,
                    "block_reason": f"missing receipts: {receipt(run_id)}",
                    "cause_key": run_cause_key(
                        f"missing receipts: {receipt(run_id)}", json.dumps(contract), "{}"
                    ),
                }
            )
            event_rows.append(
                {
                    "run_id": run_id,
                    "task_id": run_id,
                    "actor_kind": "worker",
                    "actor": "seed",
                    "action": "park_missing",
                    "from_status": "claimed",
                    "to_status": "needs_attention",
                    "reason": f"missing receipts: {receipt(run_id)}",
                    "created_at": NOW_MS,
                }
            )
            placed[run_id] = roots[slot]
        conn.execute(tasks.insert(), task_rows)
        conn.execute(runs.insert(), run_rows)
        conn.execute(events.insert(), event_rows)
        assert conn.execute(sa.select(sa.func.max(runs.c.id))).scalar() == count
    return placed


def write_file(path: str) -> float:
    with open(path, "w") as handle:
        handle.write("ok")
    return time.monotonic()


def spread(placed: dict[int, str], n: int, skip: int = 0) -> list[tuple[int, str]]:
    """``n`` runs round-robin over the workspaces (run ids interleave the roots)."""
    chosen = sorted(placed)[skip : skip + n]
    return [(run_id, os.path.join(placed[run_id], receipt(run_id))) for run_id in chosen]


class Arrivals:
    """Arrival times of ReceiptChange records, by absolute path and new state."""

    def __init__(self) -> None:
        self.times: dict[tuple[str, ArtifactState], float] = {}
        self.changed = asyncio.Event()

    async def pump(self, watcher: ReceiptWatcher) -> None:
        async for batch in watcher.batches():
            now = time.monotonic()
            for record in batch:
                if isinstance(record, ReceiptChange):
                    key = (os.path.join(record.workspace, record.path), record.new_state)
                    self.times.setdefault(key, now)
            self.changed.set()

    async def wait(self, keys: list[tuple[str, ArtifactState]], timeout: float = 120) -> None:
        async def all_in() -> None:
            while not all(k in self.times for k in keys):
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(all_in(), timeout)


# -- latency ---------------------------------------------------------------------------


async def watcher_latency(store: Store, files: list[tuple[int, str]], **options) -> list[float]:
    arrivals = Arrivals()
    async with ReceiptWatcher(store, **options) as watcher:
        pump = asyncio.create_task(arrivals.pump(watcher))
        out = []
        for _, path in files:
            closed = write_file(path)
            key = (path, ArtifactState.PRESENT)
            await arrivals.wait([key])
            out.append(arrivals.times[key] - closed)
            await asyncio.sleep(0.05)
        for _, path in files:  # leave the tree as found
            os.unlink(path)
        await arrivals.wait([(p, ArtifactState.MISSING) for _, p in files])
    await pump
    return out


async def awatch_latency(roots: list[str], files: list[tuple[int, str]], **options) -> list[float]:
    stop = asyncio.Event()
    seen: dict[str, float] = {}
    arrived = asyncio.Event()

    async def consume() -> None:
        async for changes in awatch(*roots, stop_event=stop, watch_filter=None, **options):
            now = time.monotonic()
            for _, path in changes:
                seen.setdefault(path, now)
            arrived.set()

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.5)  # let the watch build (it gives no signal)
    out = []
    for _, path in files:
        closed = write_file(path)
        while path not in seen:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), 10)
        out.append(seen[path] - closed)
        await asyncio.sleep(0.05)
    stop.set()
    await task
    for _, path in files:
        os.unlink(path)
    return out


# -- idle CPU ----------------------------------------------------------------------------


async def idle_cpu(seconds: float, setup: Callable[[], object] | None) -> float:
    context = setup() if setup else None
    if context is not None:
        await context.__aenter__()  # type: ignore[attr-defined]
    await asyncio.sleep(1.0)  # settle
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, wall1 = time.process_time(), time.monotonic()
    if context is not None:
        await context.__aexit__(None, None, None)  # type: ignore[attr-defined]
    return 100 * (cpu1 - cpu0) / (wall1 - wall0)


class BareWatches:
    """``groups`` bare awatch loops over ``roots`` (as an async context manager)."""

    def __init__(self, groups: list[list[str]]) -> None:
        self.groups = groups
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> BareWatches:
        async def loop(roots: list[str]) -> None:
            async for _ in awatch(*roots, stop_event=self.stop, step=10, debounce=50):
                pass

        self.tasks = [asyncio.create_task(loop(g)) for g in self.groups]
        return self

    async def __aexit__(self, *_: object) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)


# -- burst -------------------------------------------------------------------------------


#: The burst is written by a separate process, so the writer does not compete with the
#: watcher for this process's GIL (and the watcher's CPU time can be measured on its own).
WRITER = """
import sys, time
paths = sys.stdin.read().split("\\n")
first = time.monotonic()
for path in paths:
    with open(path, "w") as handle:
        handle.write("ok")
print(first, time.monotonic())
"""


async def burst(store: Store, files: list[tuple[int, str]]) -> tuple[float, float, float, float]:
    """(writer's own time, first write -> last record, last write -> last record, CPU s)."""
    arrivals = Arrivals()
    async with ReceiptWatcher(store) as watcher:
        pump = asyncio.create_task(arrivals.pump(watcher))
        cpu0 = time.process_time()
        writer = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, stdin=PIPE, stdout=PIPE
        )
        out, _ = await writer.communicate("\n".join(p for _, p in files).encode())
        first, last = map(float, out.split())
        await arrivals.wait([(p, ArtifactState.PRESENT) for _, p in files])
        cpu = time.process_time() - cpu0
        done = max(arrivals.times[(p, ArtifactState.PRESENT)] for _, p in files)
        for _, path in files:
            os.unlink(path)
        await arrivals.wait([(p, ArtifactState.MISSING) for _, p in files])
    await pump
    return last - first, done - first, done - last, cpu


# -- start -------------------------------------------------------------------------------


def stat_baseline(paths: list[str]) -> float:
    """A bare ``os.stat`` of every path: what checking the receipts costs at the least."""
    t0 = time.perf_counter()
    for path in paths:
        with suppress(OSError):
            os.stat(path)
    return time.perf_counter() - t0


async def watcher_ready(store: Store, count: int) -> float:
    """``async with ReceiptWatcher(store)``: up once the first pass is done."""
    t0 = time.perf_counter()
    async with ReceiptWatcher(store, listen=False) as watcher:
        elapsed = time.perf_counter() - t0
        assert len(watcher.run_ids()) == count and watcher.first_pass_done
    return elapsed


async def watcher_background(store: Store, count: int) -> tuple[float, float]:
    """As the review app runs it: (until up, roots watched; until the first pass is done)."""
    t0 = time.perf_counter()
    async with ReceiptWatcher(store, listen=False, first_pass_in_background=True) as watcher:
        up = time.perf_counter() - t0
        await watcher.first_pass()
        done = time.perf_counter() - t0
        assert len(watcher.run_ids()) == count
    return up, done


async def start_figures(store: Store, placed: dict[int, str], args: argparse.Namespace) -> None:
    paths = [os.path.join(root, receipt(run_id)) for run_id, root in placed.items()]
    print(
        f"\nwatcher start: {args.runs:,} parked runs over {args.workspaces:,} workspaces, "
        f"x {args.start_repeat}"
    )
    ready, up, done, stats = [], [], [], []
    for _ in range(args.start_repeat):
        stats.append(stat_baseline(paths))
        ready.append(await watcher_ready(store, args.runs))
        a, b = await watcher_background(store, args.runs)
        up.append(a)
        done.append(b)
    summary("ReceiptWatcher ready (load + checks + watches)", ready, "ms", 1000)
    summary("background pass: up (roots watched)", up, "ms", 1000)
    summary("background pass: first pass done", done, "ms", 1000)
    summary(f"baseline: os.stat x {len(paths):,}", stats, "ms", 1000)
    per = statistics.median(ready) / len(paths) * 1e6
    base = statistics.median(stats) / len(paths) * 1e6
    print(f"  per receipt (median): watcher {per:.1f} µs, os.stat {base:.2f} µs")


async def idle_at_scale(args: argparse.Namespace) -> None:
    """Idle CPU with ``--idle-roots`` workspace roots (one parked run each)."""
    scaled = argparse.Namespace(**{**vars(args), "workspaces": args.idle_roots})
    with seeded_store("bench-watch-idle-", scaled) as (_url, store, roots):
        seed(store, roots, args.idle_roots)
        print(f"\nidle CPU over {args.idle_s:g} s, {len(roots):,} workspaces, % of one core")
        cases: dict[str, Callable[[], object] | None] = {
            "ReceiptWatcher (store poll 0.5 s)": lambda: ReceiptWatcher(store, listen=False),
            "before: step 10, at most 4 watches": lambda: ReceiptWatcher(
                store, listen=False, step_ms=10, max_watches=4
            ),
            "baseline: 1 awatch over all roots": lambda: BareWatches([roots]),
            "baseline: nothing": None,
        }
        idle: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            for label, setup in cases.items():
                idle.setdefault(label, []).append(await idle_cpu(args.idle_s, setup))
        for label, values in idle.items():
            summary(label, values, "%", 1)


# -- main --------------------------------------------------------------------------------


def summary(label: str, values: list[float], unit: str = "ms", scale: float = 1000) -> None:
    """One figure's line: min, median and max of ``values`` times ``scale``."""
    scaled = [v * scale for v in values]
    print(
        f"  {label:<44} min {min(scaled):8.1f}  median {statistics.median(scaled):8.1f}  "
        f"max {max(scaled):8.1f} {unit}  (n={len(values)})"
    )


@contextmanager
def seeded_store(prefix: str, args: argparse.Namespace) -> Iterator[tuple[str, Store, list[str]]]:
    """``args.workspaces`` workspace roots under a temp dir, and a store on a fresh SQLite
    file (or, with ``--pg``, a fresh PostgreSQL database): ``(url, store, roots)``; all
    removed afterwards. Seeding is the caller's (it may want to time it)."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    roots = []
    for i in range(args.workspaces):
        root = base / f"ws{i:03}"
        (root / "receipts").mkdir(parents=True)
        roots.append(os.path.realpath(root))
    admin = os.environ.get("PARKBENCH_TEST_PG_URL") if args.pg else None
    if args.pg and not admin:
        raise SystemExit("--pg needs PARKBENCH_TEST_PG_URL (bash .ci/pg.sh start)")
    url = create_pg_database(admin) if admin else f"sqlite:///{base / 'parkbench.db'}"
    store = Store.open(url)
    try:
        yield url, store, roots
    finally:
        store.close()
        if admin:
            drop_pg_database(admin, url)
        shutil.rmtree(base, ignore_errors=True)


async def main(args: argparse.Namespace) -> None:
    with seeded_store("bench-watch-", args) as (_url, store, roots):
        t0 = time.monotonic()
        placed = seed(store, roots, args.runs)
        print(
            f"seeded {args.runs:,} parked runs over {args.workspaces} workspaces "
            f"({store.engine.url.get_backend_name()}) in {time.monotonic() - t0:.1f} s"
        )
        if "start" in args.only:
            await start_figures(store, placed, args)
        if "latency" in args.only:
            await latency_figures(store, placed, roots, args)
        if "idle" in args.only:
            await idle_figures(store, roots, args)
        if "burst" in args.only:
            await burst_figures(store, placed, args)
    if "idle" in args.only and args.idle_roots:
        await idle_at_scale(args)


async def latency_figures(
    store: Store, placed: dict[int, str], roots: list[str], args: argparse.Namespace
) -> None:
    print(f"\nlatency: file closed -> record, {args.files} files x {args.repeat} repetitions")
    results: dict[str, list[float]] = {}
    configs = {
        "ReceiptWatcher debounce 50 step 20": lambda f: watcher_latency(store, f),
        "ReceiptWatcher debounce 50 step 10 (before)": lambda f: watcher_latency(
            store, f, step_ms=10
        ),
        "baseline awatch step 20 debounce 50": lambda f: awatch_latency(
            roots, f, step=20, debounce=50
        ),
        "baseline awatch step 10 debounce 50": lambda f: awatch_latency(
            roots, f, step=10, debounce=50
        ),
        "baseline awatch defaults (step 50)": lambda f: awatch_latency(roots, f),
    }
    for rep in range(args.repeat):
        files = spread(placed, args.files, skip=rep * args.files)
        for label, run in configs.items():
            results.setdefault(label, []).extend(await run(files))
    for label, values in results.items():
        summary(label, values, "ms", 1000)


async def idle_figures(store: Store, roots: list[str], args: argparse.Namespace) -> None:
    print(f"\nidle CPU over {args.idle_s:g} s, {args.workspaces} workspaces, % of one core")
    idle: dict[str, list[float]] = {}
    cases: dict[str, Callable[[], object] | None] = {
        "ReceiptWatcher (store poll 0.5 s)": lambda: ReceiptWatcher(store),
        "baseline: 1 awatch over all roots": lambda: BareWatches([roots]),
        "baseline: 1 awatch per root": lambda: BareWatches([[r] for r in roots]),
        "baseline: nothing": None,
    }
    for _ in range(args.repeat):
        for label, setup in cases.items():
            idle.setdefault(label, []).append(await idle_cpu(args.idle_s, setup))
    for label, values in idle.items():
        summary(label, values, "%", 1)


async def burst_figures(store: Store, placed: dict[int, str], args: argparse.Namespace) -> None:
    print(f"\nburst: {args.burst:,} receipts created at once, x {args.repeat}")
    writes, totals, tails, cpus = [], [], [], []
    for rep in range(args.repeat):
        files = spread(placed, args.burst, skip=(rep * args.burst) % max(1, args.runs - args.burst))
        written, total, tail, cpu = await burst(store, files)
        writes.append(written)
        totals.append(total)
        tails.append(tail)
        cpus.append(cpu)
    summary("writer process: first -> last write", writes, "ms", 1000)
    summary("first write -> last record", totals, "ms", 1000)
    summary("last write -> last record", tails, "ms", 1000)
    summary("watcher CPU time during the burst", cpus, "ms", 1000)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--burst", type=int, default=5_000)
    parser.add_argument("--idle-s", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", action="store_true", help="a fresh PostgreSQL database, not SQLite")
    parser.add_argument("--start-repeat", type=int, default=5)
    parser.add_argument(
        "--idle-roots", type=int, default=1000, help="0: skip the idle figure there"
    )
    parser.add_argument("--large", action="store_true", help="100,000 runs over 1,000 workspaces")
    parser.add_argument(
        "--only",
        default="start,latency,idle,burst",
        type=lambda text: set(text.split(",")),
        help="comma-separated: start, latency, idle, burst",
    )
    parsed = parser.parse_args()
    if parsed.large:
        parsed.runs, parsed.workspaces = 100_000, 1000
    asyncio.run(main(parsed))
