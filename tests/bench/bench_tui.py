"""Review TUI at scale: 100,000 parked runs in SQLite.

    python tests/bench/bench_tui.py                # seeds /tmp/parkbench-bench/tui.db once
    python tests/bench/bench_tui.py --runs 20000 --reps 3 --datatable
    python tests/bench/bench_tui.py --bulk 10000   # also: cursor moves during a bulk fail

Prints min / median per figure next to its target and a named baseline measured in the
same run: the empty Textual app (startup floor), a key with no binding (the input
pipeline's floor), the bare interpreter and imports (process floor) and, with
--datatable, a DataTable holding every row (the approach issue 5 rules out).
Figures on a shared 2-core machine are noisy: compare medians, not single runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from parkbench.core.causes import run_cause_key  # noqa: E402
from parkbench.core.models import events, runs, tasks, workspaces  # noqa: E402
from parkbench.core.store import Store  # noqa: E402

T0_MS = 1_788_220_800_000
NOW_MS = T0_MS + 2 * 86_400_000
WORKSPACES = 20
VERBS = ("rebuild", "summarise", "translate", "backfill", "migrate", "audit", "index", "sync")
NOUNS = ("search shard", "nightly logs", "docs", "billing partition", "user table", "cache")
REASONS = (
    "missing credentials for {noun} {n}",
    "disk full on /var while writing {noun} {n}",
    "which {noun} did you mean? ({n})",
    "receipts missing: out/{n}.json",
    "rate limited by upstream for {noun} {n}\nretry after the window",
)


# -- seeding ----------------------------------------------------------------------------


def seed(url: str, count: int, workspace_base: Path) -> None:
    """``count`` parked runs (enqueue, claim, block events each) by bulk Core inserts into
    the real tables; a third carry a two-receipt contract, half of those one receipt."""
    with Store.open(url) as store, store.engine.begin() as conn:
        roots = []
        for w in range(WORKSPACES):
            root = workspace_base / f"ws{w:02}"
            (root / "out").mkdir(parents=True, exist_ok=True)
            roots.append(str(root.resolve()))
        conn.execute(
            workspaces.insert(),
            [
                {"id": w + 1, "name": f"ws{w:02}", "root": root, "created_at": T0_MS}
                for w, root in enumerate(roots)
            ],
        )
        batch = 10_000
        event_id = 0
        for start in range(0, count, batch):
            task_rows, run_rows, event_rows = [], [], []
            for i in range(start, min(count, start + batch)):
                noun, verb = NOUNS[i % len(NOUNS)], VERBS[i % len(VERBS)]
                at = T0_MS + i * 1_000
                contract = i % 3 == 0
                metadata = (
                    json.dumps(
                        {
                            "completion_contract": {
                                "required_paths": [f"out/{i}.json", f"out/{i}.md"]
                            }
                        }
                    )
                    if contract
                    else "{}"
                )
                if contract and i % 2 == 0 and i < 2_000:
                    (Path(roots[i % WORKSPACES]) / "out" / f"{i}.json").write_text("{}")
                task_rows.append(
                    {
                        "id": i + 1,
                        "title": f"{verb} {noun} {i}",
                        "workspace_id": i % WORKSPACES + 1,
                        "priority": i % 5,
                        "max_attempts": 3,
                        "metadata_json": metadata,
                        "created_at": at,
                    }
                )
                reason = REASONS[i % len(REASONS)].format(noun=noun, n=i)
                run_rows.append(
                    {
                        "id": i + 1,
                        "task_id": i + 1,
                        "workspace_id": i % WORKSPACES + 1,
                        "attempt": 1,
                        "max_attempts": 3,
                        "priority": i % 5,
                        "status": "needs_attention",
                        "lineage_depth": 0,
                        "worker": f"agent-{i % 37}",
                        "block_reason": reason,
                        "cause_key": run_cause_key(reason, metadata, "{}"),  # as a park keys it
                        "metadata_json": "{}",
                        "attempt_limit_overridden": False,
                        "version": 3,
                        "queued_at": at,
                        "claimed_at": at + 100,
                        "blocked_at": at + 500,
                        "status_changed_at": at + 500,
                    }
                )
                for action, before, after, offset in (
                    ("enqueue", None, "queued", 0),
                    ("claim", "queued", "claimed", 100),
                    ("block", "claimed", "needs_attention", 500),
                ):
                    event_id += 1
                    event_rows.append(
                        {
                            "id": event_id,
                            "run_id": i + 1,
                            "task_id": i + 1,
                            "actor_kind": "worker",
                            "actor": f"agent-{i % 37}",
                            "action": action,
                            "from_status": before,
                            "to_status": after,
                            "reason": run_rows[-1]["block_reason"] if action == "block" else None,
                            "created_at": at + offset,
                        }
                    )
            conn.execute(tasks.insert(), task_rows)
            conn.execute(runs.insert(), run_rows)
            conn.execute(events.insert(), event_rows)
        conn.execute(sa.text("ANALYZE"))


# -- measuring --------------------------------------------------------------------------


def stats(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return f"min {min(ms):8.1f} ms  median {statistics.median(ms):8.1f} ms  (n={len(ms)})"


def report(name: str, samples: list[float], target_ms: float | None, note: str = "") -> None:
    verdict = ""
    if target_ms is not None:
        verdict = "ok  " if statistics.median(samples) * 1000 <= target_ms else "OVER"
        verdict = f"{verdict} target <= {target_ms:g} ms"
    print(f"  {name:<34} {stats(samples)}  {verdict} {note}".rstrip())


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll every millisecond: spinning on sleep(0) would burn the very thread (the app's
    event loop) whose time is being measured."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.001)


class Frames:
    """When the app composes frames (headless: rendered, not written), with the process's
    CPU time then, and whether ``showing()`` held (e.g. the list had rows)."""

    def __init__(self, app, showing: Callable[[], bool] = lambda: True) -> None:  # type: ignore[no-untyped-def]
        self.times: list[float] = []
        self.first_showing: tuple[float, float, float] | None = None
        self._showing = showing
        self.seen = asyncio.Event()
        self._display = app._display
        app._display = self.display

    def display(self, screen, renderable) -> None:  # type: ignore[no-untyped-def]
        self._display(screen, renderable)
        if renderable is not None:
            now = time.perf_counter()
            self.times.append(now)
            if self.first_showing is None and self._showing():
                self.first_showing = (now, time.process_time(), time.thread_time())
                self.seen.set()

    def after(self, moment: float) -> float | None:
        return next((t for t in self.times if t >= moment), None)

    def expect(self, showing: Callable[[], bool]) -> None:
        """Watch for the first frame composed while ``showing()`` holds."""
        self._showing, self.first_showing = showing, None
        self.seen = asyncio.Event()


async def first_paint(store: Store) -> tuple[float, float]:
    """App start -> the first frame composed with rows in the list: (wall, process CPU)."""
    from parkbench.tui.app import ParkbenchApp

    start, cpu = time.perf_counter(), time.process_time()
    app = ParkbenchApp(store, now=lambda: NOW_MS, live=False, keymap={})
    frames = Frames(app, lambda: app.main.is_mounted and bool(app.main.runs.window.rows))
    async with app.run_test(size=(120, 40)):
        await asyncio.wait_for(frames.seen.wait(), 30)
        assert frames.first_showing is not None
        painted, painted_cpu, _ = frames.first_showing
        return painted - start, painted_cpu - cpu


async def empty_app() -> tuple[float, float]:
    from textual.app import App, ComposeResult
    from textual.widgets import Footer, Static

    class Empty(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("rows would go here")
            yield Footer()

    start, cpu = time.perf_counter(), time.process_time()
    app = Empty()
    frames = Frames(app)
    async with app.run_test(size=(120, 40)):
        await until(lambda: frames.first_showing is not None)
        assert frames.first_showing is not None
        return frames.first_showing[0] - start, frames.first_showing[1] - cpu


async def datatable_first_paint(store: Store) -> tuple[float, float]:
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    from parkbench.core.records import RunFilter

    class Table(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_columns("Run", "Task", "Worker", "Reason")
            page = store.list_runs(RunFilter(), limit=1000)
            while True:
                table.add_rows(
                    (r.id, r.title, r.worker, (r.block_reason or "").split("\n")[0])
                    for r in page.rows
                )
                if page.next_cursor is None:
                    break
                page = store.list_runs(RunFilter(), limit=1000, after=page.next_cursor)

    start, cpu = time.perf_counter(), time.process_time()
    app = Table()
    frames = Frames(app, lambda: app.query_one(DataTable).row_count > 0)
    async with app.run_test(size=(120, 40)):
        await until(lambda: frames.first_showing is not None, timeout=120)
        assert frames.first_showing is not None
        return frames.first_showing[0] - start, frames.first_showing[1] - cpu


def send_key(app, key: str) -> None:  # type: ignore[no-untyped-def]
    """Deliver a key the way the terminal driver does (Pilot.press also waits for the
    process to go idle, which would time our worker threads rather than the key)."""
    from textual import events

    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    app._driver.send_message(event)


async def interactive(store: Store, reps: int) -> dict[str, list[float]]:
    """Each figure is key -> first frame composed after it (wall), and the UI thread's
    CPU time for it; the app is left to go quiet between keys so frames do not mix."""
    from parkbench.tui.app import ParkbenchApp

    keys = ("down", "down_cpu", "noop_cpu", "end", "end_cpu", "filter", "filter_cpu", "count")
    out: dict[str, list[float]] = {k: [] for k in keys}
    app = ParkbenchApp(store, now=lambda: NOW_MS, live=False, keymap={})
    async with app.run_test(size=(120, 40)) as pilot:
        runs = app.main.runs
        frames = Frames(app)

        def caught_up() -> bool:
            row, shown = runs.highlighted, app.main.detail.detail
            synced = row is None or (shown is not None and shown.run.id == row.id)
            return synced and not app.main.busy

        async def quiet() -> None:
            # Let the detail pane catch up with the cursor and repaint before the next key:
            # a user pausing between keys sees that frame on its own, not inside the next.
            await until(caught_up)
            await asyncio.sleep(0.05)
            await app.screen.wait_for_refresh()

        async def timed(name: str, key: str, done: Callable[[], bool]) -> None:
            await quiet()
            frames.expect(done)
            cpu, start = time.thread_time(), time.perf_counter()
            send_key(app, key)
            await asyncio.wait_for(frames.seen.wait(), 30)
            assert frames.first_showing is not None
            out[name].append(frames.first_showing[0] - start)
            out[f"{name}_cpu"].append(frames.first_showing[2] - cpu)

        await until(lambda: bool(runs.window.rows) and runs.window.total_known)
        for i in range(reps * 20):
            want = runs.cursor + 1
            await timed("down", "down", lambda w=want: runs.cursor == w)
            if i % 5 == 0:
                await quiet()
                cpu = time.thread_time()
                send_key(app, "f12")  # bound to nothing: Textual's own cost of a key
                await app.screen.wait_for_refresh()
                out["noop_cpu"].append(time.thread_time() - cpu)
        for _ in range(reps):
            await timed(
                "end",
                "end",
                lambda: runs.cursor == runs.window.total - 1 and runs.highlighted is not None,
            )
            await pilot.press("home")
            await until(lambda: runs.highlighted is not None and runs.cursor == 0)
        await pilot.press("slash")
        terms = ("disk", "agent-3", "docs", "shard 9")
        for i in range(reps):
            term = terms[i % len(terms)]
            bar = app.main.filter_bar
            bar.value = term[:-1]
            bar.cursor_position = len(bar.value)
            await until(
                lambda t=term[:-1]: (
                    runs.view_query.search == t
                    and not runs.window.replacing
                    and runs.window.total_known
                    and not app.main.busy
                )
            )
            generation = runs.window.generation
            start = time.perf_counter()
            await timed(
                "filter",
                term[-1],
                # the new query's first page is in (its old rows stay up until then)
                lambda g=generation, t=term: (
                    runs.window.generation > g
                    and not runs.window.replacing
                    and runs.view_query.search == t
                ),
            )
            await until(lambda: runs.window.total_known, timeout=60)
            out["count"].append(time.perf_counter() - start)
    return out


async def during_bulk(store: Store, count: int, reps: int) -> dict[str, list[float]]:
    """Cursor down while a bulk fail of ``count`` marked runs runs in its worker (issue 17.3:
    target <= 50 ms), beside cursor down with nothing running (same app, same run); and
    the action's own wall time. Run on a copy of the database: the runs end failed."""
    from parkbench.core.lifecycle import Action
    from parkbench.tui.app import ParkbenchApp
    from parkbench.tui.screens import loading

    out: dict[str, list[float]] = {"idle": [], "busy": [], "action": []}
    app = ParkbenchApp(store, now=lambda: NOW_MS, live=False, keymap={})
    async with app.run_test(size=(120, 40)):
        main, runs = app.main, app.main.runs
        frames = Frames(app)
        await until(lambda: bool(runs.window.rows) and runs.window.total_known)

        async def down(name: str) -> None:
            want = runs.cursor + 1
            frames.expect(lambda: runs.cursor == want)
            start = time.perf_counter()
            send_key(app, "down")
            try:
                await asyncio.wait_for(frames.seen.wait(), 30)
            except TimeoutError:
                raise AssertionError(
                    f"cursor {runs.cursor} (wanted {want}) of {runs.window.total}"
                ) from None
            assert frames.first_showing is not None
            out[name].append(frames.first_showing[0] - start)
            await asyncio.sleep(0.02)

        for _ in range(reps * 5):
            await down("idle")
        view = runs.view_query
        expected = dict(list(loading.matching_expectations(store, view).items())[:count])
        runs.set_marks(expected)
        main.progress.begin(f"Fail {count:,} marked runs", len(expected), "x")
        started = time.perf_counter()
        main.run_action(Action.FAIL, expected, "bench: bulk fail")
        while main.progress.running:
            await down("busy")
        out["action"].append(time.perf_counter() - started)
    return out


CHILD = """
import time
START_CPU = time.process_time()
import sys
sys.path.insert(0, {root!r})
from parkbench.core.store import Store
from parkbench.tui.app import ParkbenchApp

store = Store.open({url!r})
app = ParkbenchApp(store, live=False, keymap={{}})
display = app._display

def probe(screen, renderable):
    display(screen, renderable)
    if renderable is not None and app.main.is_mounted and app.main.runs.window.rows:
        import resource
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("PAINTED", time.process_time() - START_CPU, peak_mb, flush=True)
        app._display = display
        app.exit(0)

app._display = probe
app.run(headless=True, size=(120, 40))
"""


def process_launch(url: str) -> tuple[float, float, float]:
    """Launch -> the child's first frame with rows: (wall, its CPU, its peak RSS in MB)."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(root=str(ROOT), url=url)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("PAINTED"):
            elapsed = time.perf_counter() - start
            cpu, peak_mb = (float(field) for field in line.split()[1:3])
            break
    else:
        raise RuntimeError("the child never painted")
    child.wait(30)
    return elapsed, cpu, peak_mb


def interpreter(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return time.perf_counter() - start


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/parkbench-bench"))
    parser.add_argument("--datatable", action="store_true", help="also time the DataTable baseline")
    parser.add_argument(
        "--bulk", type=int, default=0, metavar="N", help="also: cursor moves while N runs fail"
    )
    args = parser.parse_args()
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    db = args.dir / f"tui-{args.runs}.db"
    url = f"sqlite:///{db}"
    if not db.exists():
        args.dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        seed(url, args.runs, args.dir / "workspaces")
        print(f"seeded {args.runs:,} parked runs in {time.perf_counter() - started:.1f} s: {db}")
    store = Store.open(url)
    assert store.count_runs() == args.runs, "stale bench database: delete it and rerun"
    print(f"Parkbench TUI, {args.runs:,} parked runs (SQLite), 120x40, {args.reps} reps")

    print("first paint, in process (app start -> first frame with rows)")
    runs_ = [asyncio.run(first_paint(store)) for _ in range(args.reps)]
    report("parkbench", [w for w, _ in runs_], 300)
    report("  process CPU", [c for _, c in runs_], None)
    empty = [asyncio.run(empty_app()) for _ in range(args.reps)]
    report("baseline: empty Textual app", [w for w, _ in empty], None)
    report("  process CPU", [c for _, c in empty], None)

    print("whole process (launch -> first frame with rows)")
    launches = [process_launch(url) for _ in range(args.reps)]
    report("parkbench", [w for w, _, _ in launches], 1200)
    report("  child CPU", [c for _, c, _ in launches], None)
    report("baseline: python -c pass", [interpreter("pass") for _ in range(args.reps)], None)
    report(
        "baseline: import parkbench.core.store, textual",
        [interpreter("import parkbench.core.store, textual.app") for _ in range(args.reps)],
        None,
    )

    figures = asyncio.run(interactive(store, args.reps))
    print("interaction (key -> first frame composed after it; UI-thread CPU for it)")
    report("cursor down", figures["down"], 16)
    report("  UI thread CPU", figures["down_cpu"], None)
    report("  baseline: key bound to nothing", figures["noop_cpu"], None, "(CPU)")
    report("jump to end", figures["end"], 50)
    report("  UI thread CPU", figures["end_cpu"], None)
    report("filter update (rows painted)", figures["filter"], 100)
    report("  UI thread CPU", figures["filter_cpu"], None)
    report("filter update (count settled)", figures["count"], None, "(virtual height)")
    if args.bulk:
        copy = args.dir / f"tui-{args.runs}-bulk.db"
        shutil.copyfile(db, copy)
        with Store.open(f"sqlite:///{copy}") as scratch:
            bulk = asyncio.run(during_bulk(scratch, args.bulk, args.reps))
        copy.unlink()
        print(f"during a bulk fail of {args.bulk:,} marked runs (issue 17.3)")
        report("cursor down, bulk action running", bulk["busy"], 50)
        report("  baseline: cursor down, idle", bulk["idle"], None)
        report("  the bulk fail itself", bulk["action"], None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_peak = max(m for _, _, m in launches)
    print(
        f"memory (target <= 200 MB): this process after every run above: RSS "
        f"{rss_mb():.0f} MB, peak {peak:.0f} MB; launched app at first paint: peak "
        f"{child_peak:.0f} MB"
    )

    if args.datatable:
        print("baseline: a DataTable holding every row (what issue 5 rules out)")
        wall, cpu = asyncio.run(datatable_first_paint(store))
        report("first paint", [wall], None)
        report("  process CPU", [cpu], None)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak RSS of this process now {peak:.0f} MB")


if __name__ == "__main__":
    main()
