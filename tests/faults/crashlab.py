"""Crash lab: worker and reviewer OS processes doing random transitions, SIGKILLed at random.

:func:`run_kill_loop` starts one clean *lab* process (spawned: no threads, no connections),
which imports the core once and then forks every child from itself: a child costs a fork
and one ``Store.open`` instead of a fresh interpreter, so hundreds of kills fit in seconds.
No connection or store crosses a fork; each child opens its own. (A multiprocessing
forkserver would do the same, but on Python 3.11 it ignores its preload list's sys.path
and ``__main__``, so every child re-imported the world.)

Every child tells the parent when its store is open; the parent then lets it work for a
random 5-80 ms and kills it with SIGKILL, wherever it is: between transactions, inside
one, in the middle of a WAL append or a commit. While fewer than a third of the kills so far
landed inside a write, a due kill is aimed instead: the child is stopped, looked at, and let
go on if it is between writes, a few times, a few ms apart (``AIM_TRIES``). A child that
dies of anything else (an exception, a ``database`` error) is a failure the caller reports.

The children run the production write path untouched: public :class:`Store` methods on a
store opened exactly as the CLI opens it, with no event listener, wrapper or tracer (the
old lab's begin/commit listeners are gone; they switched the store off the direct path the
CLI took). Where a kill landed is read from outside at the kill (:mod:`faults.killsite`:
SIGSTOP, then SQLite's WAL write lock or PostgreSQL's ``pg_stat_activity``, then
SIGKILL). The only thing a child records itself is which Store call it is in, in shared
memory, before and after the call. :mod:`faults.cli_crash` kills real ``parkbench``
CLI processes the same way.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import random
import signal
import statistics
import sys
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from sqlalchemy import event

from faults import killsite
from parkbench.core.errors import ParkbenchError
from parkbench.core.lifecycle import REVIEWER_ACTIONS, ActorKind, RunStatus, allowed_actions
from parkbench.core.records import Claim, Expectation, RunFilter
from parkbench.core.store import Store

#: Leases start at the 1 s minimum: the short ones expire during the run, the long ones don't.
LEASES_S = (1.0, 1.5, 2.0, 30.0, 300.0)
PRESENT_RECEIPT = "receipts/ok.txt"
CONTRACTS = (
    None,
    {"completion_contract": {"required_paths": [PRESENT_RECEIPT]}},
    {"completion_contract": {"required_paths": ["receipts/absent.txt"], "missing_policy": "park"}},
    {"completion_contract": {"required_paths": ["receipts/absent.txt"]}},
)


def prepare_workspace(root: Path) -> Path:
    (root / "receipts").mkdir(parents=True, exist_ok=True)
    (root / PRESENT_RECEIPT).write_text("ok\n")
    return root


def enqueue_random(store: Store, rng: random.Random, workspace: Path) -> None:
    store.enqueue(
        f"task {rng.randrange(10**6)}",
        workspace,
        priority=rng.randrange(3),
        max_attempts=rng.randint(1, 3),
        metadata=rng.choice(CONTRACTS),
        max_runtime_s=rng.choice((None, None, None, 0.1, 60.0)),
        actor="seeder",
    )


def seed_database(url: str, workspace: Path, tasks: int, seed: int) -> None:
    rng = random.Random(seed)
    with Store.open(url) as store:
        for _ in range(tasks):
            enqueue_random(store, rng, workspace)


# -- children ------------------------------------------------------------------------------

#: ``Shared.doing`` between Store calls; otherwise the index of the call into OPS.
IDLE = -1
OPS = (
    "open", "enqueue", "enqueue_again", "claim", "heartbeat", "complete", "fail", "release",
    "block", "review", "sweep",
)  # fmt: skip


@dataclass
class Shared:
    """Per-child slots in shared memory, readable by the parent after the child is dead."""

    ops: Any  # transitions completed
    doing: Any  # index into OPS while inside a Store call, else IDLE


class Child:
    def __init__(self, kind: str, store: Store, rng: random.Random, slot: int, shared: Shared):
        self.kind, self.store, self.rng, self.slot, self.shared = kind, store, rng, slot, shared
        self.name = f"{kind}-{slot}"
        self.held: list[Claim] = []

    def doing(self, op: str) -> None:
        self.shared.doing[self.slot] = OPS.index(op)

    def step(self, workspace: Path) -> None:
        try:
            if self.kind == "worker":
                self._worker_step(workspace)
            else:
                self._reviewer_step()
        except ParkbenchError as error:
            if error.code == "database":
                raise
        finally:
            self.shared.doing[self.slot] = IDLE
        self.shared.ops[self.slot] += 1

    def _worker_step(self, workspace: Path) -> None:
        store, rng, roll = self.store, self.rng, self.rng.random()
        if roll < 0.10:
            self.doing("enqueue")
            enqueue_random(store, rng, workspace)
        elif roll < 0.13:
            self.doing("enqueue_again")
            store.enqueue_again(rng.randint(1, 50), actor=self.name)
        elif not self.held or roll < 0.35:
            self.doing("claim")
            claim = store.claim_next(self.name, lease_s=rng.choice(LEASES_S))
            if claim is not None:
                self.held.append(claim)
        else:
            self._lease_step(rng.choice(self.held))

    def _lease_step(self, claim: Claim) -> None:
        store, rng, run, token = self.store, self.rng, claim.run_id, claim.claim_token
        action = rng.choices(
            ("heartbeat", "complete", "fail", "release", "block"), (4, 3, 2, 1, 2)
        )[0]
        self.doing(action)
        finished = action != "heartbeat"
        try:
            if action == "heartbeat":
                store.heartbeat(run, token, lease_s=rng.choice(LEASES_S))
            elif action == "complete":
                store.complete(run, token, result={"by": self.name})
            elif action == "fail":
                store.fail(run, token, reason=f"{self.name} gave up")
            elif action == "release":
                store.release(run, token)
            else:
                store.block(run, token, reason=f"{self.name} needs a human")
        except ParkbenchError as error:
            # missing_artifacts (reject policy) keeps the lease; any other refusal ended it.
            finished = error.code != "missing_artifacts"
            raise
        finally:
            if finished:
                self.held.remove(claim)

    def _reviewer_step(self) -> None:
        store, rng = self.store, self.rng
        status = rng.choice(
            (
                RunStatus.NEEDS_ATTENTION,
                RunStatus.NEEDS_ATTENTION,
                RunStatus.CLAIMED,
                RunStatus.QUEUED,
            )
        )
        self.doing("review")
        rows = store.list_runs(RunFilter(status=status), limit=20).rows
        if not rows:
            self.doing("sweep")
            store.recover_expired()
            return
        picked = rng.sample(rows, k=min(len(rows), rng.randint(1, 4)))
        legal = allowed_actions(ActorKind.HUMAN, status) or REVIEWER_ACTIONS
        # Mostly legal moves; now and then an illegal one, which must be refused cleanly.
        action = rng.choice(legal if rng.random() < 0.9 else REVIEWER_ACTIONS)
        expected = {
            r.id: Expectation(r.status, r.version if rng.random() < 0.7 else None) for r in picked
        }
        # Taking a live lease needs force: sometimes given, sometimes not (then refused cleanly).
        results = store.review(
            action, [r.id for r in picked], reason=f"{self.name} decided", actor=self.name,
            expected=expected, force=rng.random() < 0.5,
        )  # fmt: skip
        for result in results:
            if not result.ok and result.error is not None and result.error.code == "database":
                raise result.error


def child_main(
    kind: str, url: str, workspace: str, seed: int, slot: int, shared: Shared, ready: Connection
) -> None:
    """Entry point of a crash child: open the store, say ready, transition until killed.

    Half the children say ready only after their first transition, so kills spread over
    later operations too, not only the first (slow: statements compile on first use).
    """
    rng = random.Random(seed)
    try:
        store = Store.open(killsite.application_name(url, child_name(slot)))
        child = Child(kind, store, rng, slot, shared)
        early = rng.random() < 0.5
        if early:
            ready.send_bytes(b"r")
        child.step(Path(workspace))
        if not early:
            ready.send_bytes(b"r")
        while True:
            child.step(Path(workspace))
    except BaseException:
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        os._exit(3)


def child_name(slot: int) -> str:
    """The child's PostgreSQL application_name, by which :mod:`faults.killsite` finds it."""
    return f"crash-{slot}"


def claim_and_die_after_the_first_write(url: str) -> None:
    """Claim, and SIGKILL this process the moment its first write statement has run.

    With the run's UPDATE and its audit event as separate statements in one transaction
    (SQLite), that is between the two, before COMMIT: the transaction must vanish whole.
    Where one statement writes both (PostgreSQL's single-statement worker writes), it is
    right after that statement: both are there, or neither.

    The listener only observes and kills: since the restructure the store has one
    execution path per backend, so attaching it cannot change which path runs.
    """
    store = Store.open(url)
    store.recover_expired()  # sweep now, so claim_next's own write is the first one

    @event.listens_for(store.engine, "after_cursor_execute")
    def _kill(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT", "WITH", "DELETE")):
            os.kill(os.getpid(), signal.SIGKILL)

    store.claim_next("doomed")


# -- the loop ------------------------------------------------------------------------------


@dataclass
class KillReport:
    kills: int = 0
    started: int = 0
    seconds: float = 0.0
    ops_before_kill: list[int] = field(default_factory=list)
    #: faults.killsite's reading at each kill: holding the write lock, between transactions...
    killed_while: dict[str, int] = field(default_factory=dict)
    #: the Store call each interrupted kill landed in (the child's own marker)
    killed_during: dict[str, int] = field(default_factory=dict)
    unexpected_exits: list[str] = field(default_factory=list)

    @property
    def interrupted(self) -> int:
        """Kills that landed inside a write transaction (or statement) of the store."""
        return sum(self.killed_while.get(site, 0) for site in killsite.INTERRUPTED)

    def record(self, site: str, op: str | None) -> None:
        self.kills += 1
        self.killed_while[site] = self.killed_while.get(site, 0) + 1
        if site in killsite.INTERRUPTED:
            where = op or "outside any Store call"
            self.killed_during[where] = self.killed_during.get(where, 0) + 1

    def summary(self) -> str:
        ops = self.ops_before_kill or [0]
        return (
            f"{self.kills} kills of {self.started} processes in {self.seconds:.1f} s "
            f"({self.kills / max(self.seconds, 1e-9):.0f}/s); transitions before the kill: "
            f"min {min(ops)} median {statistics.median(ops):g} max {max(ops)}; "
            f"{sum(1 for o in ops if o == 0)} killed before their first transition completed; "
            "killed "
            + ", ".join(f"{n} {where}" for where, n in sorted(self.killed_while.items()))
            + "; interrupted writes by call: "
            + ", ".join(f"{op} {n}" for op, n in sorted(self.killed_during.items()))
        )


def run_kill_loop(url: str, workspace: Path, **options: Any) -> KillReport:
    """:func:`kill_loop` inside a freshly spawned lab process (see the module docstring)."""
    spawn = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as lab:
        return lab.submit(kill_loop, url, workspace, **options).result()


def _fork_context() -> mp.context.BaseContext:
    """Forking is only safe from a process without threads or open connections: the lab."""
    if threading.active_count() > 1:
        raise RuntimeError("kill_loop forks: call it through run_kill_loop()")
    for module in ("sqlalchemy.dialects.sqlite.pysqlite", "sqlalchemy.dialects.postgresql.psycopg"):
        importlib.import_module(module)  # loaded once here, not in every child
    return mp.get_context("fork")


def kill_loop(
    url: str,
    workspace: Path,
    *,
    kills: int,
    parallel: int = 4,
    seed: int = 0,
    reviewer_share: float = 0.3,
    kill_after_ms: tuple[float, float] = (5.0, 80.0),
    deadline_s: float = 300.0,
) -> KillReport:
    """Run children ``parallel`` at a time until ``kills`` of them were SIGKILLed."""
    ctx = _fork_context()
    rng = random.Random(seed)
    slots = kills + parallel * 4 + 64
    shared = Shared(ctx.RawArray("q", slots), ctx.RawArray("b", slots))
    site = killsite.KillSite(url)
    report = KillReport()
    live: dict[int, tuple[mp.process.BaseProcess, Connection, float | None]] = {}
    aimed: dict[int, int] = {}  # slot -> times its due kill waited for a write
    began = time.monotonic()
    try:
        while report.kills < kills:
            if time.monotonic() - began > deadline_s:
                raise TimeoutError(f"only {report.kills} kills in {deadline_s:.0f} s")
            while len(live) < parallel and report.started < slots:
                slot = report.started
                kind = "reviewer" if rng.random() < reviewer_share else "worker"
                receive, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(
                    target=child_main,
                    args=(kind, url, str(workspace), rng.randrange(2**32), slot, shared, send),
                    daemon=True,
                )
                proc.start()
                send.close()
                live[slot] = (proc, receive, None)
                report.started += 1
            _advance(live, rng, kill_after_ms, report, shared, site, aimed)
    finally:
        site.close()
        for proc, receive, _ in live.values():
            proc.kill()
            proc.join()
            receive.close()
        report.seconds = time.monotonic() - began
    return report


#: A due kill waits for its victim to be inside a write at most this many times.
AIM_TRIES = 30


def _advance(
    live,
    rng: random.Random,
    kill_after_ms,
    report: KillReport,
    shared: Shared,
    site: Any,
    aimed: dict[int, int],
) -> None:
    """Wait for a child to get ready or for the next kill to fall due, then act on it."""
    now = time.monotonic()
    due = [at for _, _, at in live.values() if at is not None]
    timeout = max(0.0, min(due) - now) if due else 5.0
    waiting = {receive: slot for slot, (_, receive, at) in live.items() if at is None}
    if not waiting:
        time.sleep(timeout)
    for receive in wait(list(waiting), timeout=timeout) if waiting else ():
        slot = waiting[receive]
        proc, _, _ = live[slot]
        try:
            receive.recv_bytes()
        except EOFError:  # died before it was ready: collect it below
            live[slot] = (proc, receive, time.monotonic())
            continue
        live[slot] = (proc, receive, time.monotonic() + rng.uniform(*kill_after_ms) / 1000)
    now = time.monotonic()
    for slot, (proc, receive, at) in list(live.items()):
        if at is None or at > now:
            continue
        if not proc.is_alive():
            where = None
        elif report.interrupted * 3 < report.kills + 1 and aimed.get(slot, 0) < AIM_TRIES:
            # Aimed: while under a third of the kills so far landed inside a write, a due
            # kill stops the victim, looks, and lets it go on if it is between writes, then
            # tries again a few ms later. Faster writes made pure chance land under a
            # quarter inside them on PostgreSQL; the kills are meant to interrupt writes.
            where = site.kill_if_inside(proc.pid, child_name(slot))
            if where is None and proc.is_alive():
                aimed[slot] = aimed.get(slot, 0) + 1
                live[slot] = (proc, receive, now + rng.uniform(0.5, 3.0) / 1000)
                continue
        else:
            where = site.stop_read_kill(proc.pid, child_name(slot))
        aimed.pop(slot, None)
        doing = shared.doing[slot]
        proc.join()
        receive.close()
        del live[slot]
        if proc.exitcode == -signal.SIGKILL and where is not None:
            report.record(where, OPS[doing] if doing != IDLE else None)
            report.ops_before_kill.append(shared.ops[slot])
        else:
            report.unexpected_exits.append(f"child {slot} exited with {proc.exitcode}")
