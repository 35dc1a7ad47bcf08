"""What must hold in a Parkbench database after any crash, read straight from the tables.

Deliberately independent of :class:`parkbench.core.store.Store`'s read side: rows and
events are read with plain SQL and checked against the spec's rules, so a bug in the
store's queries cannot hide a bug in its writes.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from parkbench.core.lifecycle import OPEN_STATUSES, TERMINAL_STATUSES, RunStatus

_STATUSES = {s.value for s in RunStatus}
_OPEN = {s.value for s in OPEN_STATUSES}
_TERMINAL_FINISHED = {s.value for s in TERMINAL_STATUSES} - {RunStatus.CANCELED.value}


@dataclass
class Report:
    runs: int = 0
    events: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        # Thousands of runs can break the same rule: keep the report readable.
        if len(self.violations) < 50:
            self.violations.append(message)


def integrity_check(engine: sa.Engine) -> list[str]:
    """SQLite's own verdict on the file (``['ok']`` when sound); ``['ok']`` elsewhere."""
    if engine.dialect.name != "sqlite":
        return ["ok"]
    with engine.connect() as conn:
        result = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
        dangling = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    return result + [f"foreign key violation: {tuple(row)}" for row in dangling]


def check(engine: sa.Engine) -> Report:
    """Every run in a valid status with an event trail that explains exactly how it got there."""
    report = Report()
    with engine.connect() as conn:
        runs = {r.id: r for r in conn.execute(sa.text("SELECT * FROM runs ORDER BY id"))}
        trails: dict[int, list[Any]] = defaultdict(list)
        for event in conn.execute(sa.text("SELECT * FROM events ORDER BY id")):
            trails[event.run_id].append(event)
            report.events += 1
    report.runs = len(runs)
    open_per_task: dict[int, list[int]] = defaultdict(list)
    successors: dict[int, list[int]] = defaultdict(list)
    for run in runs.values():
        report.by_status[run.status] = report.by_status.get(run.status, 0) + 1
        if run.status in _OPEN:
            open_per_task[run.task_id].append(run.id)
        if run.previous_run_id is not None:
            successors[run.previous_run_id].append(run.id)
        _check_run(report, run, trails.get(run.id, []))
    for run_id in trails.keys() - runs.keys():
        report.add(f"events for run {run_id}, which does not exist")
    for task_id, open_runs in open_per_task.items():
        if len(open_runs) > 1:
            report.add(f"task {task_id} has {len(open_runs)} open runs: {open_runs}")
    for run in runs.values():
        following = successors.get(run.id, [])
        if run.status == RunStatus.REQUEUED.value:
            if len(following) != 1:
                report.add(f"requeued run {run.id} has {len(following)} successors")
            else:
                nxt = runs[following[0]]
                # Later retries may raise the successor's attempt further; never lower it.
                if (
                    nxt.lineage_depth != run.lineage_depth + 1
                    or nxt.attempt <= run.attempt
                    or nxt.root_run_id != (run.root_run_id or run.id)
                ):
                    report.add(f"run {nxt.id} does not continue run {run.id}'s lineage")
        elif following:
            report.add(f"run {run.id} is {run.status} yet has successors {following}")
    return report


def _check_run(report: Report, run: Any, trail: list[Any]) -> None:
    rid = run.id
    if run.status not in _STATUSES:
        report.add(f"run {rid} has unknown status {run.status!r}")
        return
    if not trail:
        report.add(f"run {rid} has no events")
        return
    first = trail[0]
    if (first.action, first.from_status, first.to_status) != ("enqueue", None, "queued"):
        report.add(
            f"run {rid}'s first event is {first.action} {first.from_status}->{first.to_status}"
        )
    for before, after in itertools.pairwise(trail):
        if after.from_status != before.to_status:
            report.add(
                f"run {rid}: event {after.id} ({after.action}) starts from {after.from_status} "
                f"but event {before.id} ended in {before.to_status}"
            )
    if trail[-1].to_status != run.status:
        report.add(f"run {rid} is {run.status} but its last event says {trail[-1].to_status}")
    # Each transition bumps the version once and writes one event; enqueue writes version 1.
    if len(trail) != run.version:
        report.add(f"run {rid} has version {run.version} but {len(trail)} events")
    if any(e.task_id != run.task_id for e in trail):
        report.add(f"run {rid} has events filed under another task")
    _check_lease(report, run)
    if run.status == RunStatus.NEEDS_ATTENTION.value and (
        not run.block_reason or not run.block_reason.strip() or run.blocked_at is None
    ):
        report.add(f"parked run {rid} has no block reason or blocked_at")
    # The reason shown is the current state's (issue 19): a block reason only while parked
    # (or on a requeued run, which ended parked).
    parked = (RunStatus.NEEDS_ATTENTION.value, RunStatus.REQUEUED.value)
    if run.status not in parked and run.block_reason is not None:
        report.add(f"{run.status} run {rid} still carries a block reason")
    if run.status in _TERMINAL_FINISHED and run.finished_at is None:
        report.add(f"{run.status} run {rid} has no finished_at")
    if run.attempt > run.max_attempts and not run.attempt_limit_overridden:
        report.add(f"run {rid} is on attempt {run.attempt} of {run.max_attempts} unrecorded")


def _check_lease(report: Report, run: Any) -> None:
    rid = run.id
    if run.status == RunStatus.CLAIMED.value:
        if run.lease_until is None or not (run.claim_token_hash or "").startswith("sha256:"):
            report.add(f"claimed run {rid} lacks a lease or a token hash")
        if not run.worker or run.claimed_at is None:
            report.add(f"claimed run {rid} has no worker or claimed_at")
        if (run.max_runtime_ms is None) != (run.runtime_deadline is None):
            report.add(f"claimed run {rid}'s runtime deadline does not match its task")
    # The token hash may outlive the lease (parkbench.core.store.base.CLEAR_LEASE explains why): it
    # authorises nothing without status = claimed and a live lease_until, checked here.
    elif run.lease_until is not None or run.runtime_deadline is not None:
        report.add(f"{run.status} run {rid} still holds a lease")


def snapshot(engine: sa.Engine, tables: Iterable[str] = ("workspaces", "tasks", "runs", "events")):
    """Row counts and a digest of every row: equal snapshots mean nothing changed."""
    summary: dict[str, tuple[int, str]] = {}
    with engine.connect() as conn:
        for table in tables:
            digest = hashlib.sha256()
            count = 0
            for row in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id")):
                digest.update(repr(tuple(row)).encode("utf-8", "surrogatepass"))
                count += 1
            summary[table] = (count, digest.hexdigest())
    return summary
