"""``parkbench work``: run any command as a supervised worker.

A thin loop over :class:`parkbench.core.supervise.Supervisor`: claim, run, settle, report;
with ``--wait`` it waits on the change feed (LISTEN/NOTIFY on PostgreSQL, the change marker
on SQLite) when the queue is empty, and re-claims at least every ``--poll`` seconds anyway.
Progress goes to stderr as lines for people; ``--json`` writes one JSON object per line on
stdout for programs (the command's own stdout then goes to stderr, keeping stdout parseable).
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from parkbench.core.errors import ValidationError
from parkbench.tui.cli import output
from parkbench.tui.cli.common import DbOption, JsonOption, LeaseOption, cli
from parkbench.tui.textsafe import one_line

if TYPE_CHECKING:
    from parkbench.core.store import Lease
    from parkbench.core.supervise import Outcome

#: Seconds between re-claims while waiting, whatever the change feed says (the floor).
DEFAULT_POLL_S = 5.0


def register(app: typer.Typer) -> None:
    app.command("work", rich_help_panel="Worker")(work)


def work(
    ctx: typer.Context,
    command: Annotated[
        list[str],
        typer.Argument(metavar="-- COMMAND [ARGS]...", help="The command to run for each run."),
    ],
    worker: Annotated[str, typer.Option("--worker", metavar="NAME", help="Who is working.")],
    lease: LeaseOption = None,
    once: Annotated[bool, typer.Option("--once", help="Work on one run, then stop.")] = False,
    max_runs: Annotated[
        int | None,
        typer.Option("--max-runs", metavar="N", help="Stop after N runs.", show_default=False),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for work when the queue is empty.")
    ] = False,
    poll: Annotated[
        float,
        typer.Option("--poll", metavar="SECONDS", help="With --wait: look at least this often."),
    ] = DEFAULT_POLL_S,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Claim runs and run COMMAND for each one, settling the run from how it ended.

    COMMAND runs in the run's workspace with PARKBENCH_DB, PARKBENCH_RUN_ID, PARKBENCH_TOKEN and
    PARKBENCH_CLAIM (a file holding the claim document) in its environment. Exit 0 completes
    the run, 75 releases it, anything else fails it with the end of the command's stderr.
    """
    from parkbench.core.db.info import resolve_url
    from parkbench.core.db.notify import change_feed_for
    from parkbench.core.supervise import RELEASED, Supervisor

    opts = cli(ctx, db, json_mode)
    if once and max_runs is not None:
        raise ValidationError("--once and --max-runs are exclusive", hint="pass one of them")
    limit = 1 if once else max_runs
    if limit is not None and limit < 1:
        raise ValidationError(f"--max-runs must be 1 or more, got {limit}", hint="--max-runs 10")
    if not 0.05 <= poll <= 3600:
        raise ValidationError(f"--poll must be 0.05-3600 s, got {poll:g}", hint="--poll 5")
    report = _Reporter(opts.json)
    # For this command only: an in-process caller (tests, a host program) keeps its logging.
    lease_log = logging.getLogger("parkbench.core.store.lease")
    heartbeat_log = _HeartbeatLog(report)
    with contextlib.ExitStack() as cleanup, opts.open_store() as store:
        lease_log.addHandler(heartbeat_log)
        cleanup.callback(lease_log.removeHandler, heartbeat_log)
        # Shown once, by the reporter: not again by a root handler (or logging's last resort).
        cleanup.callback(setattr, lease_log, "propagate", lease_log.propagate)
        lease_log.propagate = False
        supervisor = Supervisor(
            store,
            command,
            db_url=resolve_url(opts.db),
            stdout=sys.stderr.buffer if opts.json else None,
            stderr=sys.stderr.buffer,
        )
        feed = change_feed_for(store) if wait else None

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            supervisor.interrupt(signum)
            if feed is not None:
                feed.close()  # a blocked wait returns promptly

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        # Runs this loop released (exit 75: "try again later"): claiming one again right
        # away would spin, so it goes straight back and the loop waits (or stops).
        given_back: set[int] = set()
        waiting = False
        try:
            done = 0
            while limit is None or done < limit:
                if supervisor.interrupted is not None:
                    break
                claimed = store.claim(worker, lease_s=lease)
                if claimed is not None and claimed.run_id in given_back:
                    claimed.release()
                    report.skipped(claimed)
                    claimed = None
                if claimed is None:
                    if feed is None:
                        report.idle()
                        break
                    if not waiting:
                        report.waiting()
                        waiting = True
                    feed.wait(timeout=poll)  # any change, or the floor: look again
                    given_back.clear()
                    continue
                waiting = False
                done += 1
                report.claimed(claimed)
                outcome = supervisor.run(claimed)
                if outcome.settled == RELEASED:
                    given_back.add(outcome.run_id)
                report.settled(outcome)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            if feed is not None:
                feed.close()
    if supervisor.interrupted is not None:
        raise typer.Exit(128 + supervisor.interrupted)


#: How a progress line says each outcome of :mod:`parkbench.core.supervise`.
SETTLED_WORDS = {
    "refused": "not completed, receipts missing: left claimed",
    "retried": "failed, will be retried",
    "by_command": "settled by the command",
    "lease_lost": "lost its lease: command stopped",
    "interrupted": "interrupted: released",
}


class _Reporter:
    """Progress: lines on stderr for people, or JSON lines on stdout with ``--json``."""

    def __init__(self, json_mode: bool) -> None:
        self.json = json_mode

    def _emit(self, event: str, body: dict[str, object], line: str) -> None:
        if self.json:
            sys.stdout.write(json.dumps({"event": event, **body}, ensure_ascii=True) + "\n")
            sys.stdout.flush()
        else:
            output.note(f"work: {line}")

    def claimed(self, lease: Lease) -> None:
        claim = lease.claim
        self._emit(
            "claimed",
            {"run_id": claim.run_id, "task_id": claim.task_id, "attempt": claim.attempt},
            f"claimed run {claim.run_id} (task {claim.task_id}, attempt {claim.attempt} of "
            f"{claim.max_attempts}): {one_line(claim.task.title, 80)}",
        )

    def settled(self, outcome: Outcome) -> None:
        detail = "" if outcome.detail is None else f": {one_line(outcome.detail, 200)}"
        status = "" if outcome.status is None else f" (now {outcome.status.value})"
        how = SETTLED_WORDS.get(outcome.settled, outcome.settled)
        self._emit("settled", outcome.to_dict(), f"run {outcome.run_id} {how}{status}{detail}")

    def skipped(self, lease: Lease) -> None:
        self._emit(
            "skipped",
            {"run_id": lease.run_id},
            f"run {lease.run_id} was given back by this worker: left in the queue",
        )

    def waiting(self) -> None:
        self._emit("waiting", {}, "queue empty: waiting for work")

    def idle(self) -> None:
        self._emit("idle", {}, "nothing to claim: no queued runs")

    def heartbeat_failed(self, message: str) -> None:
        self._emit("heartbeat_failed", {"message": message}, message)


class _HeartbeatLog(logging.Handler):
    """The lease's background heartbeat reports through logging; show those lines."""

    def __init__(self, report: _Reporter) -> None:
        super().__init__(logging.WARNING)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        self.report.heartbeat_failed(record.getMessage())
