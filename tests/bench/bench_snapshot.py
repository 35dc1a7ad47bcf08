"""`parkbench snapshot` with 100,000 parked runs: the whole process, launch to exit.

    python tests/bench/bench_snapshot.py               # seeds /tmp/parkbench-bench once
    python tests/bench/bench_snapshot.py --parked 20000 --reps 3

Setup (untimed, cached by size and seed): ``parkbench.core.demo.generate`` (what ``parkbench demo``
writes: ~45% of runs parked, 22% of those with a completion contract, receipts on disk,
hostile texts) with enough runs for ``--parked`` parked ones.

Timed, ``--reps`` times each, as separate processes: wall time, and CPU (user + sys of the
process; the snapshot forks nothing, it is one process).

  baseline    `parkbench stats`: interpreter, imports, one query (the process floor)
  snapshot    `parkbench snapshot --out D --now T`: the default screens (list, detail) and
              summary.json (counts; every parked run with its receipts checked on disk)
  screens     the same with `--summary-limit 0`: the screens, summary.json listing none
              (what the rendering process costs alone)
  list        the default with `--screens list`
  all         the default with `--screens all` (list, action, help, detail)
  old         with --old-tree: the default snapshot of an older checkout (the comparison)

Then the parts in this process, CPU only: summary.json (every parked run, through the
store's keyset read side) and the screens alone. Target (issue 14): snapshot <= 3 s wall
median (it was 2 s with a forked writer, issue 7). Figures on a shared 2-core machine are
noisy: compare medians with the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from parkbench.core.demo import DEMO_NOW_MS, generate  # noqa: E402
from parkbench.core.store import Store  # noqa: E402

NOW = "2026-09-01T09:00:00Z"
PARKED_SHARE = 0.45  # of demo runs (parkbench.core.demo.STORIES)
TARGET_S = 3.0


def seeded(directory: Path, parked: int, seed: int) -> tuple[Path, int]:
    runs = int(parked / PARKED_SHARE) + 1000
    db = directory / f"snapshot-{runs}-{seed}.db"
    info = db.with_suffix(".json")
    if not info.exists():
        print(f"seeding {runs:,} demo runs into {db} (once) ...", flush=True)
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


def entry_point() -> list[str]:
    script = Path(sys.executable).with_name("parkbench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "parkbench.tui.cli"]


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s) of one process and the children it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def line(name: str, samples: list[tuple[float, float]], baseline: float | None) -> str:
    walls = [w for w, _ in samples]
    cpus = [c for _, c in samples]
    median = statistics.median(walls)
    text = (
        f"{name:<10} wall min {min(walls):6.2f} s  median {median:6.2f} s   "
        f"cpu min {min(cpus):6.2f} s  median {statistics.median(cpus):6.2f} s"
    )
    if baseline:
        text += f"   {median / baseline:4.1f}x baseline"
    return text


def in_process(db: Path) -> None:
    from parkbench.tui.snapshot.headless import View, render_screens
    from parkbench.tui.snapshot.summary import write_summary

    with Store.open(f"sqlite:///{db}", read_only=True) as store:
        started = time.process_time()
        write_summary(store, io.StringIO(), {})
        summary = time.process_time() - started
        started = time.process_time()
        render_screens(store, View(now_ms=DEMO_NOW_MS, screens=("list", "detail")))
        screens = time.process_time() - started
    print(
        f"in-process cpu: summary.json (every run) {summary:.2f} s; screens (list, detail) "
        f"{screens:.2f} s; imports excluded"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parked", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/parkbench-bench"))
    parser.add_argument(
        "--old-tree",
        type=Path,
        metavar="DIR",
        help="also time `snapshot` from an older checkout, DIR/parkbench (e.g. "
        "`mkdir -p DIR/parkbench && git archive REV | tar -x -C DIR/parkbench`), in the same "
        "run: the figure to compare with",
    )
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    db, parked = seeded(args.dir, args.parked, args.seed)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PARKBENCH_", "TEXTUAL_")) and k != "NO_COLOR"
    }
    env["PARKBENCH_DB"] = str(db)
    base = entry_point()
    with tempfile.TemporaryDirectory(prefix="pb-snap-") as out:
        commands = {
            "baseline": [*base, "stats"],
            "snapshot": [*base, "snapshot", "--out", out, "--now", NOW],
            "screens": [*base, "snapshot", "--out", out, "--now", NOW, "--summary-limit", "0"],
            "list": [*base, "snapshot", "--out", out, "--now", NOW, "--screens", "list"],
            "all": [*base, "snapshot", "--out", out, "--now", NOW, "--screens", "all"],
        }
        envs = {name: env for name in commands}
        if args.old_tree is not None:
            commands["old"] = commands["snapshot"]
            envs["old"] = {**env, "PYTHONPATH": str(args.old_tree.resolve())}
        for name, argv in commands.items():
            timed(argv, envs[name])  # warm the page cache and the bytecode
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.reps):
            for name, argv in commands.items():  # interleaved: load changes hit every one
                samples[name].append(timed(argv, env=envs[name]))
        timed(commands["snapshot"], env)  # the files of the default snapshot, measured
        size = sum(p.stat().st_size for p in Path(out).iterdir())
    print(
        f"{parked:,} parked runs (SQLite, {db.stat().st_size / 2**20:.0f} MiB); "
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; "
        f"files written {size / 2**20:.1f} MiB"
    )
    floor = statistics.median(w for w, _ in samples["baseline"])
    for name in commands:
        print(line(name, samples[name], None if name == "baseline" else floor))
    verdict = "ok" if statistics.median(w for w, _ in samples["snapshot"]) <= TARGET_S else "OVER"
    print(f"target: snapshot <= {TARGET_S:.1f} s wall: {verdict}")
    in_process(db)


if __name__ == "__main__":
    main()
