"""Lease-core benchmark (SQLite): claim+complete throughput against a raw sqlite3 baseline,
claim_next latency and the parked list's first page with 100,000 + 100,000 runs present.

    python tests/bench/bench_core.py            # full run (a few minutes)
    python tests/bench/bench_core.py --quick    # smaller sizes, for a smoke check

Throughput: each repetition drains a freshly seeded queue twice, once through the Store and
once through a raw ``sqlite3`` loop, in alternating order. The raw loop is the honest
baseline: the same schema and pragmas (WAL, synchronous=NORMAL, busy timeout, foreign
keys), the same transactions per cycle, the same 14 statements (claim: UPDATE ... RETURNING,
its audit INSERT, the claimed task's SELECT and the handoff's; complete: the fenced SELECT in
a read transaction, the receipt check, then in the IMMEDIATE one the fenced SELECT again,
the version-fenced UPDATE and the audit INSERT) with the same values, and the same token
and contract work (mint, sha256, constant-time verify, parse the contract, check receipts).
The bench checks that the raw statements are the ones the Store sends (captured from the
driver) before timing.

The Store is the public API and has one execution path on SQLite since the restructure
(issue 14): SQLAlchemy Core through StoreBase._write, the path the CLI, the TUI and the
crash lab use; there is no direct sqlite3 path to switch to. The statement check traces it
with sqlite3's own trace callback on the driver connection (a ``connect`` listener added
before the traced calls; it observes, it selects nothing).

Targets (issues 3 and 14): >= 1/3 of raw (issue 14's target; the store's rate is reported
as min/median/worst over repetitions, per wall and per CPU second); >= 5,000 cycles/s
(issue 3); claim_next <= 2 ms with 100,000 queued + 100,000 parked; first parked page
<= 5 ms at 100,000 parked. Figures are per machine: compare the Store with the raw loop
measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from parkbench.core import contracts, tokens
from parkbench.core.causes import cause_key
from parkbench.core.db.engine import SQLITE_BUSY_TIMEOUT_MS, system_clock
from parkbench.core.filters import parse_filter
from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import events, runs, tasks, workspaces
from parkbench.core.records import RunFilter, SortKey
from parkbench.core.store import Store

# -- the raw baseline's statements (what the Store's SQLite path sends) ------------------------

RAW_CLAIM = (
    "UPDATE runs SET status=?, worker=?, claim_token_hash=?, lease_until=CASE WHEN "
    "(runs.max_runtime_ms IS NOT NULL AND runs.max_runtime_ms < ?) THEN ? + runs.max_runtime_ms "
    "ELSE ? + ? END, heartbeat_at=?, runtime_deadline=(? + runs.max_runtime_ms), "
    "block_reason=?, failure_reason=?, "
    "version=(runs.version + ?), claimed_at=?, status_changed_at=? WHERE runs.id = "
    "(SELECT runs.id FROM runs WHERE runs.status = ? ORDER BY runs.priority DESC, "
    "runs.queued_at, runs.id LIMIT ? OFFSET ?) AND runs.status = ? "
    "RETURNING id, task_id, attempt, lease_until"
)
RAW_EVENT = (
    "INSERT INTO events (run_id, task_id, actor_kind, actor, action, from_status, to_status, "
    "reason, token_hash_prefix, details_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: What the claim hands the worker: the task, and the handoff (the event that queued the run).
RAW_CLAIMED_TASK = (
    "SELECT runs.attempt, runs.max_attempts, runs.priority, runs.previous_run_id, "
    "runs.metadata_json, tasks.id AS task_id, tasks.title, tasks.metadata_json AS "
    "task_metadata_json, workspaces.root FROM runs JOIN tasks ON tasks.id = runs.task_id "
    "JOIN workspaces ON workspaces.id = runs.workspace_id WHERE runs.id = ?"
)
RAW_HANDOFF = (
    "SELECT events.id, events.actor_kind, events.actor, events.action, events.from_status, "
    "events.to_status, events.reason, events.created_at FROM events WHERE events.run_id = ? "
    "AND events.to_status = ? ORDER BY events.id DESC LIMIT ? OFFSET ?"
)
RAW_FENCED_ROW = (
    "SELECT runs.id, runs.task_id, runs.status, runs.worker, runs.claim_token_hash, "
    "runs.lease_until, runs.attempt, runs.max_attempts, runs.runtime_deadline, runs.version, "
    "runs.metadata_json, tasks.metadata_json AS task_metadata_json, workspaces.root AS "
    "workspace_root FROM runs JOIN tasks ON tasks.id = runs.task_id JOIN workspaces ON "
    "workspaces.id = runs.workspace_id WHERE runs.id = ?"
)
RAW_COMPLETE = (
    "UPDATE runs SET status=?, lease_until=?, runtime_deadline=?, result_json=?, "
    "version=(runs.version + ?), finished_at=?, status_changed_at=? WHERE runs.id = ? AND "
    "runs.status = ? AND runs.claim_token_hash = ? AND runs.lease_until > ? "
    "AND runs.version = ?"
)
LEASE_MS = 600_000


def _normal(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


# -- seeding ---------------------------------------------------------------------------------


def make_template(directory: Path) -> Path:
    """An empty database at the current schema head, copied for every measurement."""
    template = directory / "template.db"
    Store.open(f"sqlite:///{template}").close()
    return template


def fresh_copy(template: Path, directory: Path, name: str) -> Path:
    path = directory / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, path)
    return path


def seed(path: Path, root: Path, *, queued: int, parked: int = 0) -> None:
    """Bulk-insert tasks, runs and their events with executemany on the real schema."""
    engine = sa.create_engine(f"sqlite:///{path}")
    start = system_clock() - 3_600_000
    total = queued + parked
    with engine.begin() as conn:
        conn.execute(
            workspaces.insert(),
            {"id": 1, "name": root.name, "root": str(root), "created_at": start},
        )
        batch = 20_000
        for lo in range(0, total, batch):
            ids = range(lo + 1, min(total, lo + batch) + 1)
            conn.execute(
                tasks.insert(),
                [
                    {
                        "id": i,
                        "title": f"benchmark task {i}",
                        "workspace_id": 1,
                        "priority": i % 5,
                        "max_attempts": 3,
                        "max_runtime_ms": None,
                        "metadata_json": "{}",
                        "created_at": start + i,
                    }
                    for i in ids
                ],
            )
            rows, trail = [], []
            for i in ids:
                is_parked = i > queued
                at = start + i
                rows.append(
                    {
                        "id": i,
                        "task_id": i,
                        "workspace_id": 1,
                        "attempt": 1,
                        "max_attempts": 3,
                        "priority": i % 5,
                        "status": "needs_attention" if is_parked else "queued",
                        "previous_run_id": None,
                        "root_run_id": None,
                        "lineage_depth": 0,
                        "worker": "seed" if is_parked else None,
                        "claim_token_hash": None,
                        "lease_until": None,
                        "heartbeat_at": None,
                        "max_runtime_ms": None,
                        "runtime_deadline": None,
                        "block_reason": f"blocked: needs input {i}" if is_parked else None,
                        "cause_key": cause_key(f"blocked: needs input {i}") if is_parked else None,
                        "failure_reason": None,
                        "result_json": None,
                        "metadata_json": "{}",
                        "attempt_limit_overridden": False,
                        "version": 3 if is_parked else 1,
                        "queued_at": at,
                        "claimed_at": at if is_parked else None,
                        "blocked_at": at if is_parked else None,
                        "finished_at": None,
                        "status_changed_at": at,
                    }
                )
                base = {"run_id": i, "task_id": i, "reason": None, "created_at": at}
                base |= {"token_hash_prefix": None, "details_json": None, "actor_kind": "worker"}
                trail.append(
                    base
                    | {"actor": "seed", "action": "enqueue", "from_status": None}
                    | {"to_status": "queued"}
                )
                if is_parked:
                    trail.append(
                        base
                        | {"actor": "seed", "action": "claim", "from_status": "queued"}
                        | {"to_status": "claimed"}
                    )
                    trail.append(
                        base
                        | {"actor": "seed", "action": "block", "from_status": "claimed"}
                        | {"to_status": "needs_attention", "reason": rows[-1]["block_reason"]}
                    )
            conn.execute(runs.insert(), rows)
            conn.execute(events.insert(), trail)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


# -- the two loops -----------------------------------------------------------------------------


def store_cycles(path: Path, cycles: int) -> tuple[float, float]:
    """(wall, CPU) seconds for ``cycles`` claim+complete cycles through the Store."""
    with Store.open(f"sqlite:///{path}") as store:
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(cycles):
            claim = store.claim_next("bench", lease_s=LEASE_MS / 1000)
            assert claim is not None
            store.complete(claim.run_id, claim.claim_token)
        elapsed = (time.perf_counter() - started, time.process_time() - cpu)
        assert store.claim_next("bench") is None
    return elapsed


def raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def raw_cycles(path: Path, cycles: int) -> tuple[float, float]:
    """(wall, CPU) seconds for the same cycles as plain sqlite3 calls: the baseline."""
    conn = raw_connection(path)
    cur = conn.cursor()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(cycles):
        raw = tokens.mint()
        token_hash = tokens.hash_token(raw)
        now = time.time_ns() // 1_000_000
        cur.execute("BEGIN IMMEDIATE")
        claim_params = ("claimed", "bench", token_hash, LEASE_MS, now, now, LEASE_MS, now, now)
        claim_params += (None, None, 1, now, now, "queued", 1, 0, "queued")
        run_id, task_id, _attempt, _until = cur.execute(RAW_CLAIM, claim_params).fetchone()
        prefix = tokens.hash_prefix(token_hash)
        claimed = ("worker", "bench", "claim", "queued", "claimed", None, prefix, None, now)
        cur.execute(RAW_EVENT, (run_id, task_id, *claimed))
        task = cur.execute(RAW_CLAIMED_TASK, (run_id,)).fetchone()
        contracts.parse_contract(json.loads(task[7]), json.loads(task[4]))
        cur.execute(RAW_HANDOFF, (run_id, "queued", 1, 0)).fetchone()
        cur.execute("COMMIT")

        # complete: the receipts are checked on a read of the run, outside the write lock,
        # then the write transaction re-reads it and fences on its version.
        cur.execute("BEGIN")
        row = cur.execute(RAW_FENCED_ROW, (run_id,)).fetchone()
        cur.execute("COMMIT")
        assert tokens.verify(raw, row[4]) and row[2] == "claimed"
        contract = contracts.parse_contract(json.loads(row[11]), json.loads(row[10]))
        contracts.check_artifacts(row[12], contract.required)
        now = time.time_ns() // 1_000_000
        cur.execute("BEGIN IMMEDIATE")
        row = cur.execute(RAW_FENCED_ROW, (run_id,)).fetchone()
        assert tokens.verify(raw, row[4]) and row[2] == "claimed" and row[5] > now
        cur.execute(
            RAW_COMPLETE,
            ("completed", None, None, None, 1, now, now, run_id, "claimed", row[4], now, row[9]),
        )
        assert cur.rowcount == 1
        prefix = tokens.hash_prefix(row[4])
        done = ("worker", "bench", "complete", "claimed", "completed", None, prefix, None, now)
        cur.execute(RAW_EVENT, (run_id, task_id, *done))
        cur.execute("COMMIT")
    elapsed = (time.perf_counter() - started, time.process_time() - cpu)
    conn.close()
    return elapsed


def _shape(sql: str) -> str:
    """A traced statement with its values blanked, so the two loops compare."""
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+\b|\bNULL\b", "?", sql)
    return _normal(sql)


def check_statements(template: Path, directory: Path, root: Path) -> list[str]:
    """Trace one cycle of each loop at the driver (sqlite3's trace callback: every statement
    SQLite runs, BEGIN and COMMIT included) and compare them. Returns the Store's."""
    path = fresh_copy(template, directory, "capture")
    seed(path, root, queued=3)
    store = Store.open(f"sqlite:///{path}")
    store.claim_next("warm-up")  # its first call also runs the periodic expiry sweep
    store.engine.dispose()
    sent: list[str] = []

    @sa.event.listens_for(store.engine, "connect")
    def trace(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.set_trace_callback(sent.append)

    claim = store.claim_next("bench", lease_s=LEASE_MS / 1000)
    assert claim is not None
    store.complete(claim.run_id, claim.claim_token)
    store.close()
    store_shapes = [_shape(s) for s in sent if not s.startswith("PRAGMA")]

    path = fresh_copy(template, directory, "capture-raw")
    seed(path, root, queued=1)
    traced: list[str] = []
    original = raw_connection

    def tracing(db: Path) -> sqlite3.Connection:
        conn = original(db)
        conn.set_trace_callback(traced.append)
        return conn

    globals()["raw_connection"] = tracing
    try:
        raw_cycles(path, 1)
    finally:
        globals()["raw_connection"] = original
    raw_shapes = [_shape(s) for s in traced if not s.startswith("PRAGMA")]
    if store_shapes != raw_shapes:
        print("!! the raw loop's statements differ from the Store's; update bench_core.py")
        for a, b in zip(store_shapes, raw_shapes, strict=False):
            if a != b:
                print(f"   store: {a}\n   raw:   {b}")
        print(f"   store ran {len(store_shapes)} statements, raw {len(raw_shapes)}")
    else:
        print(f"statements per cycle, identical in both loops: {len(store_shapes)}")
    return store_shapes


# -- latency -------------------------------------------------------------------------------------


def timed_calls(call: Callable[[], object], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1e6)
    return samples


def describe(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "min": ordered[0],
        "median": statistics.median(ordered),
        "p95": ordered[int(len(ordered) * 0.95) - 1],
        "max": ordered[-1],
        "n": len(ordered),
    }


# -- main ------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=3000, help="cycles per repetition")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each loop")
    parser.add_argument("--big", type=int, default=100_000, help="queued and parked runs")
    parser.add_argument("--calls", type=int, default=2000, help="timed claim_next calls")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke check")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--dir", type=Path, help="where the databases go (default: the system temp dir)"
    )
    args = parser.parse_args()
    if args.quick:
        args.cycles, args.reps, args.big, args.calls = 500, 2, 10_000, 300

    print(
        f"Parkbench lease core benchmark - {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    print("(figures from a shared machine are noisy; compare the Store with raw from this run)")
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="pkb-bench-", dir=args.dir) as tmp:
        directory = Path(tmp)
        root = directory / "workspace"
        root.mkdir()
        template = make_template(directory)
        check_statements(template, directory, root)

        # 1. throughput, Store vs raw, alternating order
        times: dict[str, list[tuple[float, float]]] = {"store": [], "raw": []}
        for rep in range(args.reps):
            order = ("store", "raw") if rep % 2 == 0 else ("raw", "store")
            for mode in order:
                path = fresh_copy(template, directory, f"cycles-{mode}")
                seed(path, root, queued=args.cycles)
                run = store_cycles if mode == "store" else raw_cycles
                times[mode].append(run(path, args.cycles))
        rate = {
            mode: {
                "best": args.cycles / min(w for w, _ in samples),
                "median": args.cycles / statistics.median(w for w, _ in samples),
                "worst": args.cycles / max(w for w, _ in samples),
                # per CPU-second of this process: steadier than wall time on a busy machine
                "per_cpu_s": args.cycles / statistics.median(c for _, c in samples),
            }
            for mode, samples in times.items()
        }
        ratio_best = rate["store"]["best"] / rate["raw"]["best"]
        ratio_median = rate["store"]["median"] / rate["raw"]["median"]
        ratio_cpu = rate["store"]["per_cpu_s"] / rate["raw"]["per_cpu_s"]
        figures["cycles"] = {"per_rep": args.cycles, "reps": args.reps, "rate": rate}
        figures["cycles"] |= {"ratio_best": ratio_best, "ratio_median": ratio_median}
        figures["cycles"] |= {"ratio_cpu": ratio_cpu}
        print(f"\n1. claim+complete cycles/s ({args.reps} reps x {args.cycles} cycles)")
        print("   (best = the repetition with the min time; median over repetitions)")
        print(f"   {'':8}{'best':>10}{'median':>10}{'worst':>10}{'per CPU-s':>12}")
        for mode in ("store", "raw"):
            r = rate[mode]
            print(
                f"   {mode:8}{r['best']:>10,.0f}{r['median']:>10,.0f}{r['worst']:>10,.0f}"
                f"{r['per_cpu_s']:>12,.0f}"
            )
        ok_rate = rate["store"]["median"] >= 5000
        ok_ratio = ratio_median >= 1 / 3
        print(
            f"   store/raw: best {ratio_best:.2f}, median {ratio_median:.2f}, "
            f"per CPU-s {ratio_cpu:.2f}"
        )
        print(
            f"   target >= 5,000/s: {'met' if ok_rate else 'MISSED'} (median); "
            f">= 1/3 of raw: {'met' if ok_ratio else 'MISSED'} (median)"
        )

        # 2. claim_next latency and 3. the parked list, with 100k queued + 100k parked
        path = fresh_copy(template, directory, "big")
        started = time.perf_counter()
        seed(path, root, queued=args.big, parked=args.big)
        print(
            f"\n   seeded {args.big:,} queued + {args.big:,} parked runs in "
            f"{time.perf_counter() - started:.1f} s"
        )
        with Store.open(f"sqlite:///{path}") as store:
            counts = store.counts_by_status()
            assert counts["queued"] == args.big and counts["needs_attention"] == args.big
            for _ in range(20):  # warm the pool and the page cache
                store.claim_next("warm-up", lease_s=3600)
            claims = timed_calls(lambda: store.claim_next("bench", lease_s=3600), args.calls)
            conn = raw_connection(path)
            raw_claim_params = ("claimed", "bench", "sha256:x", 1, 2, 2, 1, 2, 2)
            raw_claim_params += (None, None, 1, 2, 2)

            def raw_claim() -> None:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(RAW_CLAIM, (*raw_claim_params, "queued", 1, 0, "queued")).fetchone()
                conn.execute("COMMIT")

            raw_claims = timed_calls(raw_claim, args.calls)
            conn.close()
            first_page = timed_calls(lambda: store.list_runs(RunFilter(), limit=50), 300)
            page = store.list_runs(RunFilter(), limit=50)
            assert len(page.rows) == 50 and page.rows[0].status is RunStatus.NEEDS_ATTENTION
            by_priority = timed_calls(
                lambda: store.list_runs(RunFilter(), sort=SortKey.PRIORITY, limit=50), 300
            )
            cursor = page.next_cursor
            next_page = timed_calls(
                lambda: store.list_runs(RunFilter(), limit=50, after=cursor), 300
            )
            last_page = timed_calls(lambda: store.list_runs(RunFilter(), from_end=True), 300)
            count_all = timed_calls(store.counts_by_status, 20)
            # The review filter (issue 20.3): terms every parked run matches, a term only a
            # few match (the walk reads every parked row), and a run id (the primary key).
            broad = RunFilter(matching=parse_filter('worker:seed "needs input"').filter)
            rare = RunFilter(matching=parse_filter(f'reason:"input {2 * args.big - 3}"').filter)
            by_id = RunFilter(status=None, matching=parse_filter(f"#{2 * args.big - 7}").filter)
            assert len(store.list_runs(broad, limit=50).rows) == 50
            assert len(store.list_runs(by_id, limit=50).rows) == 1
            filtered = timed_calls(lambda: store.list_runs(broad, limit=50), 100)
            filtered_rare = timed_calls(lambda: store.list_runs(rare, limit=50), 20)
            filtered_id = timed_calls(lambda: store.list_runs(by_id, limit=50), 300)

        latency = {
            "claim_next": describe(claims),
            "raw claim UPDATE": describe(raw_claims),
            "parked first page": describe(first_page),
            "parked first page by priority": describe(by_priority),
            "parked second page (cursor)": describe(next_page),
            "parked last page": describe(last_page),
            "counts_by_status": describe(count_all),
            "filtered first page, 2 terms": describe(filtered),
            "filtered first page, rare term": describe(filtered_rare),
            "filtered by #id": describe(filtered_id),
        }
        figures["latency_ms"] = latency
        print(f"\n2./3. latency in ms with {args.big:,} queued + {args.big:,} parked runs")
        print(f"   {'':32}{'min':>8}{'median':>8}{'p95':>8}{'max':>8}{'n':>6}")
        for name, d in latency.items():
            print(
                f"   {name:32}{d['min']:>8.3f}{d['median']:>8.3f}{d['p95']:>8.3f}"
                f"{d['max']:>8.3f}{d['n']:>6}"
            )
        ok_claim = latency["claim_next"]["median"] <= 2.0
        ok_page = latency["parked first page"]["median"] <= 5.0
        print(
            f"   claim_next <= 2 ms: {'met' if ok_claim else 'MISSED'} (median); "
            f"first page <= 5 ms: {'met' if ok_page else 'MISSED'} (median)"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if all((ok_rate, ok_ratio, ok_claim, ok_page)) else 1


if __name__ == "__main__":
    sys.exit(main())
