"""Stories: how each demo run got where it is, built as the store's transitions would.

A story is the sequence of moves the store would have made for one task (enqueue, claim,
heartbeats, block, requeue, ...). :class:`Builder` applies each move to an in-memory row the
way :mod:`parkbench.core.store.worker`, :mod:`parkbench.core.store.review` and
:mod:`parkbench.core.store.sweep` apply it to a real one (status, version bump, lease and
token columns, reasons, details) and records the audit event the store would write.
tests/cli/test_cli_demo.py replays every story through the real store at the same instants
and compares rows and events.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from parkbench.core.causes import run_cause_key
from parkbench.core.demo import text as words
from parkbench.core.tokens import hash_prefix

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
#: Gap kinds of Builder.timeline, as randrange bounds in milliseconds.
_GAPS = {
    "wait": (5_000, 2 * DAY),
    "work": (15_000, LEASE_MS - 30_000),
    "late": (LEASE_MS + 1_000, LEASE_MS + 30 * MIN),
    "review": (5 * MIN, 3 * DAY),
}
_RECEIPTS = ("reports/{slug}-summary.md", "out/{slug}.json", "receipts/{slug}.tests.xml")


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


def task_metadata_json(task: Task) -> str:
    """The task's metadata column, as the demo writes it."""
    return json.dumps(task.metadata, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(slots=True)
class Run:
    """One run being built: its row, and its events in order."""

    row: dict[str, object]
    events: list[dict[str, object]] = field(default_factory=list)
    #: Its heartbeats (run id, time, sequence), which write no event: for replaying it.
    heartbeats: list[dict[str, object]] = field(default_factory=list)
    #: Its task (whose contract keys a missing-receipts reason).
    task: Task | None = None

    def __getitem__(self, key: str) -> object:
        return self.row[key]

    def int(self, key: str) -> int:
        # The row holds ints under the integer columns; int(object) is not in the stubs.
        return int(self.row[key])  # type: ignore[call-overload]

    def text(self, key: str) -> str | None:
        """A nullable text column (its value is a str or None)."""
        value = self.row[key]
        return None if value is None else str(value)


class Builder:
    """Applies transitions to rows the way :mod:`parkbench.core.store.worker` & co. do, in
    memory."""

    def __init__(self, rng: random.Random, now_ms: int, next_run_id: int) -> None:
        self.rng = rng
        self.now = now_ms
        self.next_run_id = next_run_id
        self.written: list[Path] = []
        self.missing = 0
        self.sequence = 0  # creation order of events: the store's order at equal instants
        self.texts = words.Texts(rng)

    def timeline(self, *gaps: str, recent: bool = False) -> list[int]:
        """Instants separated by ``gaps``, the last one before ``now``.

        A gap is ``wait`` (queued: seconds to days), ``work`` (under one lease, so a lease
        never lapses between a worker's steps), ``late`` (past the lease: the worker
        vanished) or ``review`` (a human takes minutes to days).
        """
        rng = self.rng
        steps = [rng.randrange(*_GAPS[gap]) for gap in gaps]
        back = rng.randrange(10_000, 20 * MIN) if recent else rng.randrange(MIN, 21 * DAY)
        at = self.now - back - sum(steps)
        out = [at]
        for step in steps:
            at += step
            out.append(at)
        return out

    def new_run(
        self,
        task: Task,
        at: int,
        *,
        attempt: int = 1,
        actor: str | None = None,
        kind: str = "worker",
        previous: Run | None = None,
    ) -> Run:
        run = Run(
            {
                "id": self.next_run_id,
                "task_id": task.id,
                "workspace_id": task.workspace_id,
                "attempt": attempt,
                "max_attempts": task.max_attempts,
                "priority": task.priority,
                "status": "queued",
                "previous_run_id": None,
                "root_run_id": None,
                "lineage_depth": 0,
                "worker": None,
                "claim_token_hash": None,
                "lease_until": None,
                "heartbeat_at": None,
                "max_runtime_ms": task.max_runtime_ms,
                "runtime_deadline": None,
                "block_reason": None,
                "cause_key": None,
                "failure_reason": None,
                "result_json": None,
                "metadata_json": "{}",
                "attempt_limit_overridden": False,
                "version": 1,
                "queued_at": at,
                "claimed_at": None,
                "blocked_at": None,
                "finished_at": None,
                "status_changed_at": at,
            }
        )
        run.task = task
        self.next_run_id += 1
        details = None
        if previous is not None:
            overridden = attempt > task.max_attempts
            run.row.update(
                previous_run_id=previous["id"],
                lineage_depth=1,
                root_run_id=previous["root_run_id"] or previous["id"],
                attempt_limit_overridden=overridden,
            )
            details = {"previous_run_id": previous["id"], "attempt_limit_overridden": overridden}
        who = actor or self.rng.choice(words.PRODUCERS)
        self.event(run, kind, who, "enqueue", None, "queued", at, details=details)
        return run

    def event(
        self,
        run: Run,
        kind: str,
        actor: str,
        action: str,
        source: str | None,
        target: str,
        at: int,
        *,
        reason: str | None = None,
        token: str | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        if source is not None:  # every UPDATE after the insert bumps the version
            run.row["version"] = run.int("version") + 1
        if source != target:  # a heartbeat keeps the status, and so its timestamp
            run.row.update(status=target, status_changed_at=at)
        run.events.append(
            {
                "run_id": run["id"],
                "task_id": run["task_id"],
                "actor_kind": kind,
                "actor": actor,
                "action": action,
                "from_status": source,
                "to_status": target,
                "reason": reason,
                "token_hash_prefix": hash_prefix(token) if token else None,
                "details_json": json.dumps(
                    details, ensure_ascii=False, sort_keys=True, separators=(",", ":")
                )
                if details
                else None,
                "created_at": at,
                "_seq": self.sequence,
            }
        )
        self.sequence += 1

    # -- worker moves ----------------------------------------------------------------------

    def claim(self, run: Run, at: int, *heartbeats: int) -> None:
        who = self.texts.worker()
        # Random bits, not the hash of any token: no token opens a demo lease.
        token = "sha256:" + f"{self.rng.getrandbits(256):064x}"
        run.row.update(
            worker=who,
            claim_token_hash=token,
            claimed_at=at,
            heartbeat_at=at,
            lease_until=at + LEASE_MS,
        )
        if run["max_runtime_ms"] is not None:
            run.row["runtime_deadline"] = at + run.int("max_runtime_ms")
            run.row["lease_until"] = min(at + LEASE_MS, run.int("runtime_deadline"))
        self.event(run, "worker", who, "claim", "queued", "claimed", at, token=token)
        for beat in heartbeats:
            until = beat + LEASE_MS
            if run["runtime_deadline"] is not None:
                until = min(until, run.int("runtime_deadline"))
            # As in the store: the lease only, no audit event and no version bump.
            run.row.update(heartbeat_at=beat, lease_until=until)
            run.heartbeats.append(
                {
                    "run_id": run["id"],
                    "action": "heartbeat",
                    "actor": who,
                    "created_at": beat,
                    "_seq": self.sequence,
                }
            )
            self.sequence += 1

    def finish(
        self,
        run: Run,
        at: int,
        action: str,
        target: str,
        reason: str | None = None,
        *,
        kind: str = "worker",
        actor: str | None = None,
        **values: object,
    ) -> None:
        """A move out of ``claimed``: the lease ends, the token hash stays (as in the store)."""
        token = run.text("claim_token_hash") if kind == "worker" else None
        who = actor or str(run["worker"])  # the row as it was: a retry clears the worker
        run.row.update(lease_until=None, runtime_deadline=None, **values)
        self.event(run, kind, who, action, "claimed", target, at, reason=reason, token=token)

    def park(
        self,
        run: Run,
        at: int,
        action: str,
        reason: str,
        *,
        kind: str = "worker",
        actor: str | None = None,
    ) -> None:
        task_md = task_metadata_json(run.task) if run.task is not None else None
        self.finish(
            run,
            at,
            action,
            "needs_attention",
            reason,
            kind=kind,
            actor=actor,
            block_reason=reason,
            # As the store keys every run it parks, in the same move.
            cause_key=run_cause_key(reason, task_md, run.text("metadata_json")),
            blocked_at=at,
        )

    def complete(self, task: Task, run: Run, at: int) -> None:
        for path in task.required:
            self.write(task, path)
        result = {"ok": True, "summary": self.rng.choice(words.RESULTS)}
        self.finish(
            run,
            at,
            "complete",
            "completed",
            finished_at=at,
            result_json=json.dumps(result, sort_keys=True, separators=(",", ":")),
        )

    def requeue(self, task: Task, first: Run, at: int) -> Run:
        reviewer = self.rng.choice(words.REVIEWERS)
        note = self.rng.choice(words.REVIEW_NOTES)
        second = self.new_run(
            task, at, attempt=first.int("attempt") + 1, actor=reviewer, kind="human", previous=first
        )
        second.events[-1]["reason"] = note
        second.row["metadata_json"] = first["metadata_json"]
        first.row["finished_at"] = at
        self.event(
            first,
            "human",
            reviewer,
            "requeue",
            "needs_attention",
            "requeued",
            at,
            reason=note,  # from needs_attention: no lease, so no token prefix
            details={
                "new_run_id": second["id"],
                "attempt_limit_overridden": second["attempt_limit_overridden"],
            },
        )
        return second

    def write(self, task: Task, path: str) -> None:
        target = Path(task.root) / path
        target.write_text(f"receipt for task {task.id} ({task.slug})\n", encoding="utf-8")
        self.written.append(target)


def tell(b: Builder, task: Task) -> list[Run]:
    """Build the runs of ``task.story``; the last run is the task's current one."""
    rng, story = b.rng, task.story
    beats = rng.randrange(3)
    if story == "queued":
        return [b.new_run(task, b.timeline()[0])]
    if story == "claimed":
        t = b.timeline("wait", *["work"] * beats, recent=True)
        run = b.new_run(task, t[0])
        b.claim(run, *t[1:])
        return [run]
    if story == "retry_queued":
        t = b.timeline("wait", "work")
        run = b.new_run(task, t[0])
        b.claim(run, t[1])
        reason = rng.choice(words.FAILURES)
        b.finish(
            run,
            t[2],
            "retry",
            "queued",
            reason,
            attempt=run.int("attempt") + 1,
            failure_reason=reason,
            queued_at=t[2],
            worker=None,
        )
        return [run]
    if story == "runtime_park":
        # max runtime 15 min: heartbeats at 4, 8 and 12 min keep the lease; the sweep after
        # the deadline parks the run although its worker is still heartbeating.
        t = b.timeline("wait")
        run = b.new_run(task, t[0])
        claimed = t[1]
        b.claim(run, claimed, claimed + 4 * MIN, claimed + 8 * MIN, claimed + 12 * MIN)
        sweep = run.int("runtime_deadline") + rng.randrange(1_000, 10 * MIN)
        b.park(
            run,
            sweep,
            "runtime_park",
            f"exceeded max runtime "
            f"({(task.max_runtime_ms or 0) // 1000} s); "
            "the worker was still heartbeating when it ran out",
            kind="system",
            actor="sweeper",
        )
        return [run]
    if story in ("blocked", "park_missing", "expire_park", "completed", "failed"):
        last = "late" if story == "expire_park" else "work"
        t = b.timeline("wait", *["work"] * beats, last)
        run = b.new_run(task, t[0])
        b.claim(run, *t[1:-1])
        if story == "blocked":
            for path in task.required:  # a worker may get some receipts out before it stops
                if rng.random() < 0.5:
                    b.write(task, path)
            b.park(run, t[-1], "block", b.texts.block_reason())
        elif story == "park_missing":
            missing = [p for p in task.required if rng.random() < 0.6] or [task.required[-1]]
            for path in task.required:
                if path not in missing:
                    b.write(task, path)
            b.missing += len(missing)
            b.park(run, t[-1], "park_missing", "missing receipts: " + ", ".join(missing))
        elif story == "expire_park":
            n = task.max_attempts  # 1: a lapsed lease on the last attempt parks the run
            b.park(
                run,
                t[-1],
                "expire_park",
                f"lease expired on the last attempt ({n} of {n}); no attempts left to retry",
                kind="system",
                actor="sweeper",
            )
        elif story == "completed":
            b.complete(task, run, t[-1])
        else:  # failed: max_attempts is 1, so a worker's fail is final
            reason = rng.choice(words.FAILURES)
            b.finish(run, t[-1], "fail", "failed", reason, failure_reason=reason, finished_at=t[-1])
        return [run]
    if story == "forced_fail":
        t = b.timeline("wait", "work", "review")
        run = b.new_run(task, t[0])
        b.claim(run, t[1])
        b.park(run, t[2], "block", b.texts.block_reason())
        note = rng.choice(words.REVIEW_NOTES)
        run.row.update(failure_reason=note, block_reason=None, cause_key=None, finished_at=t[3])
        b.event(
            run,
            "human",
            rng.choice(words.REVIEWERS),
            "fail",
            "needs_attention",
            "failed",
            t[3],
            reason=note,
            details={"operator_forced": True},
        )
        return [run]
    # requeued_then_blocked / requeued_then_completed
    t = b.timeline("wait", "work", "work", "review", "wait", "work", "work")
    first = b.new_run(task, t[0])
    b.claim(first, t[1], t[2])
    b.park(first, t[3], "block", b.texts.block_reason())
    second = b.requeue(task, first, t[4])
    b.claim(second, t[5], t[6])
    if story == "requeued_then_blocked":
        b.park(second, t[7], "block", b.texts.block_reason())
    else:
        b.complete(task, second, t[7])
    return [first, second]


def pick_stories(rng: random.Random, total: int) -> list[str]:
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


def new_task(
    rng: random.Random, texts: words.Texts, story: str, task_id: int, ws: tuple[int, str]
) -> Task:
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
        id=task_id,
        workspace_id=ws[0],
        root=ws[1],
        slug=slug,
        title=texts.title(),
        priority=rng.choice((0, 0, 0, 1, 2, 5, 10)),
        # failed / expire_park end on their last attempt; a requeue past max_attempts is a
        # human override the TUI shows, so some lineages get one.
        max_attempts=1
        if story in ("failed", "expire_park")
        or (story.startswith("requeued") and rng.random() < 0.5)
        else 3,
        max_runtime_ms=15 * MIN if story == "runtime_park" else None,
        required=required,
        metadata=metadata,
        story=story,
    )
