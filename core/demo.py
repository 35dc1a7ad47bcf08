"""A realistic, deterministic demo data set, fast enough for 100,000 runs.

Same seed and same ``now`` give the same rows, events, timestamps and receipt files: no
wall clock and no global randomness are read. The data is written in bulk (SQLAlchemy Core
``executemany`` on the real tables, one write transaction) rather than through
:class:`~core.store.Store` transitions, which would cost a transaction per step. To keep
that honest, every run comes from a *story*: the sequence of transitions the store would
have made (enqueue, claim, heartbeat, block, requeue, ...), and each row's columns and its
audit events are derived step by step the way the store derives them (version bumps, lease
and token handling, reasons, details). tests/cli/test_demo.py replays the stories through
the real store and compares the rows, checks every event against the transition table,
and drives demo runs onward with real transitions.

Texts (see :mod:`core.demo_text`) include hostile strings on purpose.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core import demo_text as words
from core.errors import ValidationError
from core.lifecycle import RunStatus
from core.models import events, tasks, workspaces
from core.models import runs as runs_table
from core.tokens import hash_prefix

#: 2026-09-01T09:00:00Z: the default "now" of the demo world (``demo --now`` overrides it).
DEMO_NOW_MS = 1_788_253_200_000
MIN = 60_000
DAY = 24 * 60 * MIN
LEASE_MS = 5 * MIN

#: (story, weight, runs it creates): about 45% parked, 15% queued, 8% claimed, 20% done.
STORIES: tuple[tuple[str, int, int], ...] = (
    ("blocked", 30, 1),
    ("park_missing", 7, 1),
    ("expire_park", 4, 1),
    ("runtime_park", 2, 1),
    ("requeued_then_blocked", 3, 2),
    ("queued", 13, 1),
    ("retry_queued", 3, 1),
    ("claimed", 8, 1),
    ("completed", 17, 1),
    ("requeued_then_completed", 2, 2),
    ("failed", 4, 1),
    ("forced_fail", 3, 1),
)
_RECEIPTS = ("reports/{slug}-summary.md", "out/{slug}.json", "receipts/{slug}.tests.xml")


@dataclass(frozen=True, slots=True)
class DemoSummary:
    runs: int
    tasks: int
    events: int
    seed: int
    now_ms: int
    workspaces: tuple[str, ...]
    by_status: dict[str, int]
    receipts_written: int
    receipts_missing: int

    def to_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__} | {
            "workspaces": list(self.workspaces)
        }


@dataclass(slots=True)
class Task:
    id: int
    workspace_id: int
    root: str
    slug: str
    title: str
    priority: int
    max_attempts: int
    max_runtime_ms: int | None
    required: tuple[str, ...]
    metadata: dict[str, object]
    story: str


@dataclass(slots=True)
class Run:
    """One run being built: its row, and its events in order."""

    row: dict[str, object]
    events: list[dict[str, object]] = field(default_factory=list)

    def __getitem__(self, key: str) -> object:
        return self.row[key]

    def int(self, key: str) -> int:
        return int(self.row[key])  # type: ignore[call-overload]


class Builder:
    """Applies transitions to rows the way :mod:`core.worker_ops` & co. do, in memory."""

    def __init__(self, rng: random.Random, now_ms: int, next_run_id: int) -> None:
        self.rng = rng
        self.now = now_ms
        self.next_run_id = next_run_id
        self.written: list[Path] = []
        self.missing = 0

    def times(self, steps: int, *, recent: bool = False) -> list[int]:
        """``steps`` strictly increasing instants, the last one before ``now``."""
        back = self.rng.randrange(30_000, 40 * MIN) if recent else self.rng.randrange(MIN, 21 * DAY)
        gaps = [self.rng.randrange(2_000, 50 * MIN) for _ in range(steps - 1)]
        at = self.now - back - sum(gaps)
        out = [at]
        for gap in gaps:
            at += gap
            out.append(at)
        return out

    def new_run(self, task: Task, at: int, *, attempt: int = 1, actor: str | None = None,
                kind: str = "worker", previous: Run | None = None) -> Run:
        run = Run({
            "id": self.next_run_id, "task_id": task.id, "workspace_id": task.workspace_id,
            "attempt": attempt, "max_attempts": task.max_attempts, "priority": task.priority,
            "status": "queued", "previous_run_id": None, "root_run_id": None,
            "lineage_depth": 0, "worker": None, "claim_token_hash": None, "lease_until": None,
            "heartbeat_at": None, "max_runtime_ms": task.max_runtime_ms,
            "runtime_deadline": None, "block_reason": None, "failure_reason": None,
            "result_json": None, "metadata_json": "{}", "attempt_limit_overridden": False,
            "version": 1, "queued_at": at, "claimed_at": None, "blocked_at": None,
            "finished_at": None, "status_changed_at": at,
        })
        self.next_run_id += 1
        details = None
        if previous is not None:
            overridden = attempt > task.max_attempts
            run.row.update(previous_run_id=previous["id"], lineage_depth=1,
                           root_run_id=previous["root_run_id"] or previous["id"],
                           attempt_limit_overridden=overridden)
            details = {"previous_run_id": previous["id"], "attempt_limit_overridden": overridden}
        who = actor or self.rng.choice(words.PRODUCERS)
        self.event(run, kind, who, "enqueue", None, "queued", at, details=details)
        return run

    def event(self, run: Run, kind: str, actor: str, action: str, source: str | None,
              target: str, at: int, *, reason: str | None = None, token: object = None,
              details: dict[str, object] | None = None) -> None:
        if source is not None:  # every UPDATE after the insert bumps the version
            run.row["version"] = run.int("version") + 1
        run.row.update(status=target, status_changed_at=at)
        run.events.append({
            "run_id": run["id"], "task_id": run["task_id"], "actor_kind": kind,
            "actor": actor, "action": action, "from_status": source, "to_status": target,
            "reason": reason, "token_hash_prefix": hash_prefix(token) if token else None,
            "details_json": json.dumps(details, ensure_ascii=False, sort_keys=True,
                                       separators=(",", ":")) if details else None,
            "created_at": at,
        })

    # -- worker moves ----------------------------------------------------------------------

    def claim(self, run: Run, at: int, *heartbeats: int) -> None:
        who = self.rng.choice(words.HOSTILE_WORKERS) if self.rng.random() < 0.03 else \
            self.rng.choice(words.WORKERS)
        # Random bits, not the hash of any token: no token opens a demo lease.
        token = "sha256:" + f"{self.rng.getrandbits(256):064x}"
        run.row.update(worker=who, claim_token_hash=token, claimed_at=at, heartbeat_at=at,
                       lease_until=at + LEASE_MS)
        if run["max_runtime_ms"] is not None:
            run.row["runtime_deadline"] = at + run.int("max_runtime_ms")
            run.row["lease_until"] = min(at + LEASE_MS, run.int("runtime_deadline"))
        self.event(run, "worker", who, "claim", "queued", "claimed", at, token=token)
        for beat in heartbeats:
            until = beat + LEASE_MS
            if run["runtime_deadline"] is not None:
                until = min(until, run.int("runtime_deadline"))
            run.row.update(heartbeat_at=beat, lease_until=until)
            self.event(run, "worker", who, "heartbeat", "claimed", "claimed", beat, token=token)

    def finish(self, run: Run, at: int, action: str, target: str, reason: str | None = None,
               *, kind: str = "worker", actor: str | None = None, **values: object) -> None:
        """A move out of ``claimed``: the lease ends, the token hash stays (as in the store)."""
        token = run["claim_token_hash"] if kind == "worker" else None
        run.row.update(lease_until=None, runtime_deadline=None, **values)
        self.event(run, kind, actor or str(run["worker"]), action, "claimed", target, at,
                   reason=reason, token=token)

    def park(self, run: Run, at: int, action: str, reason: str, **kw: object) -> None:
        self.finish(run, at, action, "needs_attention", reason, block_reason=reason,
                    blocked_at=at, **kw)  # type: ignore[arg-type]

    def complete(self, task: Task, run: Run, at: int) -> None:
        for path in task.required:
            self.write(task, path)
        result = {"ok": True, "summary": self.rng.choice(words.RESULTS)}
        self.finish(run, at, "complete", "completed", finished_at=at,
                    result_json=json.dumps(result, sort_keys=True, separators=(",", ":")))

    def requeue(self, task: Task, first: Run, at: int) -> Run:
        reviewer = self.rng.choice(words.REVIEWERS)
        note = self.rng.choice(words.REVIEW_NOTES)
        second = self.new_run(task, at, attempt=first.int("attempt") + 1, actor=reviewer,
                              kind="human", previous=first)
        second.events[-1]["reason"] = note
        second.row["metadata_json"] = first["metadata_json"]
        first.row["finished_at"] = at
        self.event(first, "human", reviewer, "requeue", "needs_attention", "requeued", at,
                   reason=note, token=first["claim_token_hash"],
                   details={"new_run_id": second["id"],
                            "attempt_limit_overridden": second["attempt_limit_overridden"]})
        return second

    def write(self, task: Task, path: str) -> None:
        target = Path(task.root) / path
        target.write_text(f"receipt for task {task.id} ({task.slug})\n", encoding="utf-8")
        self.written.append(target)


def tell(b: Builder, task: Task) -> list[Run]:
    """Build the runs of ``task.story``; the last run is the task's current one."""
    rng, story = b.rng, task.story
    if story in ("queued", "retry_queued", "claimed"):
        t = b.times({"queued": 1, "retry_queued": 3}.get(story, 2 + rng.randrange(3)),
                    recent=story == "claimed")
        run = b.new_run(task, t[0])
        if story == "retry_queued":
            b.claim(run, t[1])
            reason = rng.choice(words.FAILURES)
            b.finish(run, t[2], "retry", "queued", reason, attempt=run.int("attempt") + 1,
                     failure_reason=reason, queued_at=t[2], worker=None)
        elif story == "claimed":
            b.claim(run, *t[1:])
        return [run]
    if story in ("blocked", "park_missing", "expire_park", "runtime_park", "completed",
                 "failed"):
        t = b.times(3 + rng.randrange(3))
        run = b.new_run(task, t[0])
        b.claim(run, *t[1:-1])
        if story == "blocked":
            b.park(run, t[-1], "block", words.block_reason(rng))
        elif story == "park_missing":
            missing = [p for p in task.required if rng.random() < 0.6] or [task.required[-1]]
            for path in task.required:
                if path not in missing:
                    b.write(task, path)
            b.missing += len(missing)
            b.park(run, t[-1], "park_missing", "missing receipts: " + ", ".join(missing))
        elif story == "expire_park":
            n = task.max_attempts
            run.row["attempt"] = n
            b.park(run, t[-1], "expire_park", f"lease expired on the last attempt ({n} of {n});"
                   " no attempts left to retry", kind="system", actor="sweeper")
        elif story == "runtime_park":
            b.park(run, t[-1], "runtime_park", f"exceeded max runtime "
                   f"({(task.max_runtime_ms or 0) // 1000} s); the worker kept heartbeating "
                   "past it", kind="system", actor="sweeper")
        elif story == "completed":
            b.complete(task, run, t[-1])
        else:
            reason = rng.choice(words.FAILURES)
            b.finish(run, t[-1], "fail", "failed", reason, failure_reason=reason,
                     finished_at=t[-1])
        return [run]
    if story == "forced_fail":
        t = b.times(4)
        run = b.new_run(task, t[0])
        b.claim(run, t[1])
        b.park(run, t[2], "block", words.block_reason(rng))
        note = rng.choice(words.REVIEW_NOTES)
        run.row.update(failure_reason=note, finished_at=t[3])
        b.event(run, "human", rng.choice(words.REVIEWERS), "fail", "needs_attention", "failed",
                t[3], reason=note, details={"operator_forced": True})
        return [run]
    t = b.times(8)  # requeued_then_blocked / requeued_then_completed
    first = b.new_run(task, t[0])
    b.claim(first, t[1], t[2])
    b.park(first, t[3], "block", words.block_reason(rng))
    second = b.requeue(task, first, t[4])
    b.claim(second, t[5], t[6])
    if story == "requeued_then_blocked":
        b.park(second, t[7], "block", words.block_reason(rng))
    else:
        b.complete(task, second, t[7])
    return [first, second]


def _stories(rng: random.Random, total: int) -> list[str]:
    names = [name for name, _, _ in STORIES]
    weights = [weight for _, weight, _ in STORIES]
    size = {name: n for name, _, n in STORIES}
    chosen: list[str] = []
    left = total
    while left > 0:
        name = rng.choices(names, weights)[0]
        if size[name] > left:
            continue
        chosen.append(name)
        left -= size[name]
    return chosen


def _task(rng: random.Random, story: str, task_id: int, ws: tuple[int, str]) -> Task:
    slug = f"T{task_id:06d}"
    required: tuple[str, ...] = ()
    metadata: dict[str, object] = {"source": rng.choice(("issue", "cron", "chat", "ci"))}
    wants_contract = story == "park_missing" or rng.random() < 0.08
    if wants_contract:
        required = tuple(p.format(slug=slug) for p in _RECEIPTS[: rng.randrange(1, 4)])
        contract: dict[str, object] = {"required_paths": list(required)}
        if story == "park_missing" or rng.random() < 0.3:
            contract["missing_policy"] = "park"
        metadata["completion_contract"] = contract
    return Task(
        id=task_id, workspace_id=ws[0], root=ws[1], slug=slug, title=words.title(rng),
        priority=rng.choice((0, 0, 0, 1, 2, 5, 10)),
        max_attempts=1 if story in ("failed", "expire_park") and rng.random() < 0.5 else 3,
        max_runtime_ms=3_600_000 if story == "runtime_park" else None,
        required=required, metadata=metadata, story=story,
    )


def generate(
    engine: Engine,
    *,
    runs: int,
    seed: int,
    workspace: str | os.PathLike[str],
    now_ms: int = DEMO_NOW_MS,
) -> DemoSummary:
    """Write ``runs`` demo runs, their tasks, events and receipt files, in one transaction."""
    if not 1 <= runs <= 10_000_000:
        raise ValidationError(f"--runs must be 1..10,000,000, got {runs}", hint="e.g. --runs 1000")
    base = Path(workspace).expanduser()
    roots: list[str] = []
    for project in words.PROJECTS:
        root = base / project
        for sub in ("reports", "out", "receipts"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        roots.append(os.path.realpath(root))
    rng = random.Random(seed)
    stories = _stories(rng, runs)
    with engine.connect() as conn:
        conn = conn.execution_options(parkbench_write=True)  # SQLite: BEGIN IMMEDIATE
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    "LOCK TABLE workspaces, tasks, runs, events IN SHARE ROW EXCLUSIVE MODE"
                )
            spaces = [(_workspace_id(conn, root, now_ms), root) for root in roots]
            first_task = _next_id(conn, tasks)
            builder = Builder(rng, now_ms, _next_id(conn, runs_table))
            built_tasks: list[Task] = []
            built_runs: list[Run] = []
            for offset, story in enumerate(stories):
                task = _task(rng, story, first_task + offset, rng.choice(spaces))
                built_tasks.append(task)
                built_runs.extend(tell(builder, task))
            trail = [e for run in built_runs for e in run.events]
            trail.sort(key=lambda e: e["created_at"])  # stable: a run's own order is kept
            _bulk_insert(conn, tasks, [
                {"id": t.id, "title": t.title, "workspace_id": t.workspace_id,
                 "priority": t.priority, "max_attempts": t.max_attempts,
                 "max_runtime_ms": t.max_runtime_ms,
                 "metadata_json": json.dumps(t.metadata, ensure_ascii=False, sort_keys=True,
                                             separators=(",", ":")),
                 "created_at": first_event_at}
                for t, first_event_at in _task_times(built_tasks, built_runs)
            ])
            _bulk_insert(conn, runs_table, [run.row for run in built_runs])
            _bulk_insert(conn, events, trail)
            if conn.dialect.name == "postgresql":
                for table in ("workspaces", "tasks", "runs", "events"):
                    conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                    )
    by_status = {status.value: 0 for status in RunStatus}
    for run in built_runs:
        by_status[str(run["status"])] += 1
    return DemoSummary(
        runs=len(built_runs), tasks=len(built_tasks), events=len(trail), seed=seed,
        now_ms=now_ms, workspaces=tuple(roots), by_status=by_status,
        receipts_written=len(builder.written), receipts_missing=builder.missing,
    )


def _task_times(built_tasks: list[Task], built_runs: list[Run]) -> list[tuple[Task, int]]:
    first: dict[int, int] = {}
    for run in built_runs:
        first.setdefault(run.int("task_id"), run.int("queued_at"))
    return [(task, first[task.id]) for task in built_tasks]


def _bulk_insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, object]]) -> None:
    """INSERT many rows: the statement compiled once by SQLAlchemy for this dialect, then
    handed to the driver's executemany (per-row parameter processing costs ~10x more)."""
    if not rows:
        return
    keys = list(rows[0])
    compiled = table.insert().compile(dialect=conn.dialect, column_keys=keys)
    sql = str(compiled)
    for start in range(0, len(rows), 20_000):
        chunk = rows[start : start + 20_000]
        if compiled.positional:
            order = [compiled.binds[name].key for name in compiled.positiontup or ()]
            conn.exec_driver_sql(sql, [tuple(row[k] for k in order) for row in chunk])
        else:  # named parameters: our bind names are the column names
            conn.exec_driver_sql(sql, chunk)


def _next_id(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0) + 1


def _workspace_id(conn: sa.Connection, root: str, now_ms: int) -> int:
    found = conn.execute(sa.select(workspaces.c.id).where(workspaces.c.root == root)).scalar()
    if found is not None:
        return int(found)
    return int(conn.execute(
        workspaces.insert().returning(workspaces.c.id),
        {"name": os.path.basename(root), "root": root, "created_at": now_ms},
    ).scalar_one())


__all__ = ["DEMO_NOW_MS", "STORIES", "DemoSummary", "generate", "tell"]
