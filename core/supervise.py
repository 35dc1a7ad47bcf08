"""Run any command as a supervised worker: the engine of ``parkbench work``.

For each claimed run, :class:`Supervisor` starts the command in the run's workspace with the
lease in its environment, keeps the lease alive while it runs (the :class:`Lease` context
manager heartbeats), and settles the run from what happened:

- exit 0: complete (the contract applies: refused -> the run stays claimed, reported;
  under the ``park`` policy it parks);
- the command settled the run itself (``parkbench lease block`` with its token): nothing to do;
- exit :data:`EX_TEMPFAIL` (75): release;
- any other exit status, or death by a signal: fail, with the tail of its stderr as reason;
- :meth:`Supervisor.interrupt` (SIGINT/SIGTERM to ``parkbench work``): forwarded to the
  command, then the run is released — never left claimed;
- the lease lost (expired, or a reviewer acted): the command is stopped, the reason reported.

The command runs in its own session (process group), so stopping it stops what it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from parkbench.core import tokens
from parkbench.core.errors import (
    InvalidTokenError,
    InvalidTransitionError,
    LeaseExpiredError,
    MissingArtifactsError,
    ParkbenchError,
    ValidationError,
)
from parkbench.core.lifecycle import NON_MOVES, ActorKind, RunStatus

if TYPE_CHECKING:
    from parkbench.core.store import Lease, Store

#: sysexits.h EX_TEMPFAIL: "try again later" -> the run is released, not failed.
EX_TEMPFAIL = 75
#: The failure reason keeps this much of the end of the command's stderr.
STDERR_TAIL_LINES = 20
STDERR_TAIL_CHARS = 2_000
#: How long a stopped command gets between SIGTERM and SIGKILL.
STOP_GRACE_S = 10.0
#: How often the supervisor looks at the lease while the command runs.
POLL_S = 0.1

#: The settle outcomes, as ``parkbench work --json`` names them.
COMPLETED, PARKED, REFUSED, RELEASED, FAILED, RETRIED = (
    "completed",
    "parked",
    "refused",
    "released",
    "failed",
    "retried",
)
BY_COMMAND, LEASE_LOST, INTERRUPTED = "by_command", "lease_lost", "interrupted"
#: The outcomes that gave the run back to the queue (so it may be claimed again).
REQUEUED_OUTCOMES = frozenset({RELEASED, RETRIED, INTERRUPTED})

_UNSETTLEABLE = (InvalidTransitionError, LeaseExpiredError, InvalidTokenError)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one supervised run ended."""

    run_id: int
    settled: str  # one of the names above
    status: RunStatus | None  # the run's status afterwards, when known
    exit_code: int | None  # the command's exit status; negative: killed by that signal
    detail: str | None = None  # one line: a failure reason, missing receipts, who acted

    def to_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "settled": self.settled,
            "status": None if self.status is None else self.status.value,
            "exit_code": self.exit_code,
            "detail": self.detail,
        }


def failure_reason(exit_code: int, stderr_tail: Sequence[str]) -> str:
    """The reason a failed command's run is failed with: its status and last stderr lines."""
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        head = f"command killed by {name}"
    else:
        head = f"command exited with status {exit_code}"
    tail = "\n".join(line.rstrip("\r\n") for line in stderr_tail).strip()
    if len(tail) > STDERR_TAIL_CHARS:
        tail = "..." + tail[-STDERR_TAIL_CHARS:]
    return f"{head}: {tail}" if tail else head


class Supervisor:
    """Runs ``command`` once per lease; thread-safe :meth:`interrupt` for signal handlers."""

    def __init__(
        self,
        store: Store,
        command: Sequence[str],
        *,
        db_url: str,
        stdout: IO[bytes] | None = None,
        stderr: IO[bytes] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not command:
            raise ValidationError(
                "no command to run", hint="pass it after --: parkbench work --worker W -- CMD"
            )
        self.store = store
        self.command = list(command)
        self.db_url = db_url
        self._stdout = stdout  # None: the command inherits this process's stdout
        self._stderr = stderr  # where the command's stderr is passed through
        self._environ = dict(os.environ if environ is None else environ)
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._interrupted: int | None = None

    @property
    def interrupted(self) -> int | None:
        """The signal :meth:`interrupt` was called with, if any."""
        return self._interrupted

    def interrupt(self, signum: int) -> None:
        """Forward ``signum`` to the running command (if any); the current run is released
        when the command has exited. Safe to call from a signal handler."""
        self._interrupted = signum
        child = self._child
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signum)

    # -- one run ------------------------------------------------------------------------

    def run(self, lease: Lease) -> Outcome:
        """Run the command for ``lease`` and settle the run; the lease is left settled,
        released, or (completion refused) detached and still claimed."""
        with lease, tempfile.TemporaryDirectory(prefix="parkbench-claim-") as scratch:
            claim_file = Path(scratch) / "claim.json"
            # The document holds the raw token: readable by this user only.
            fd = os.open(claim_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(lease.claim.to_dict(), handle, ensure_ascii=True)
            exit_code, tail, lost = self._execute(lease, claim_file)
            return self._settle(lease, exit_code, tail, lost)

    def _environment(self, lease: Lease, claim_file: Path) -> dict[str, str]:
        # `parkbench` itself is reachable for the command (to block, say), after its own
        # PATH so that its own `python` and tools still come first.
        here = os.path.dirname(sys.executable)
        path = self._environ.get("PATH", os.defpath)
        if here not in path.split(os.pathsep):
            path = os.pathsep.join((path, here))
        return self._environ | {
            "PATH": path,
            "PARKBENCH_DB": self.db_url,
            "PARKBENCH_RUN_ID": str(lease.run_id),
            "PARKBENCH_TOKEN": lease.claim.claim_token,
            "PARKBENCH_CLAIM": str(claim_file),
        }

    def _execute(self, lease: Lease, claim_file: Path) -> tuple[int, list[str], str | None]:
        """Start the command, wait for it (stopping it if the lease is lost); returns its
        exit status, the tail of its stderr, and why the lease was lost (if it was)."""
        try:
            child = subprocess.Popen(
                self.command,
                cwd=lease.task.workspace,
                env=self._environment(lease, claim_file),
                stdin=subprocess.DEVNULL,
                stdout=self._stdout,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as error:  # not found, not executable, workspace gone
            return 127, [f"cannot start {self.command[0]!r}: {error.strerror or error}"], None
        tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        pump = threading.Thread(target=self._pump, args=(child, tail), daemon=True)
        pump.start()
        with self._lock:
            self._child = child
        if self._interrupted is not None:  # a signal arrived before the command existed
            self.interrupt(self._interrupted)
        lost: str | None = None
        settled_by_command = False
        kill_at: float | None = None
        while True:
            try:
                exit_code = child.wait(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                pass
            if lost is None and not settled_by_command and lease.lost is not None:
                # The heartbeat found the lease gone: the command may have settled the run
                # itself (then let it finish), or someone else took it (then stop it).
                settled_by_command = self._moved_by_us(lease)
                if not settled_by_command:
                    lost = lease.lost.message
                    kill_at = self._stop(child)
            elif kill_at is not None and time.monotonic() >= kill_at:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGKILL)
                kill_at = float("inf")
        pump.join(timeout=5)
        with self._lock:
            self._child = None
        return exit_code, list(tail), lost

    def _pump(self, child: subprocess.Popen[bytes], tail: deque[str]) -> None:
        """Pass the command's stderr through, keeping its last lines for the reason."""
        assert child.stderr is not None
        for raw in iter(child.stderr.readline, b""):
            if self._stderr is not None:
                with contextlib.suppress(OSError, ValueError):
                    self._stderr.write(raw)
                    self._stderr.flush()
            tail.append(raw.decode("utf-8", "replace"))
        child.stderr.close()

    def _stop(self, child: subprocess.Popen[bytes]) -> float:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGTERM)
        return time.monotonic() + STOP_GRACE_S

    def _last_move(self, run_id: int) -> tuple[RunStatus, ActorKind, str | None, str | None]:
        """The run's status and the actor kind, token prefix and reason of its last event."""
        detail = self.store.get_run(run_id, check_disk=False)
        # A reviewer's note ("looking at this") moves nothing: the last move is before it.
        moves = [e for e in detail.events if e.action not in NON_MOVES]
        last = (moves or detail.events)[-1]
        return detail.run.status, ActorKind(last.actor_kind), last.token_hash_prefix, last.reason

    @staticmethod
    def _ours(lease: Lease, status: RunStatus, actor_kind: ActorKind, prefix: str | None) -> bool:
        """Did the command itself settle the run, with this lease's token? (A run still
        claimed was not settled: its lease ran out.)"""
        token_prefix = tokens.hash_prefix(tokens.hash_token(lease.claim.claim_token))
        return (
            status is not RunStatus.CLAIMED
            and actor_kind is ActorKind.WORKER
            and (prefix == token_prefix)
        )

    def _moved_by_us(self, lease: Lease) -> bool:
        status, actor_kind, prefix, _ = self._last_move(lease.run_id)
        return self._ours(lease, status, actor_kind, prefix)

    # -- settling -----------------------------------------------------------------------

    def _settle(self, lease: Lease, exit_code: int, tail: list[str], lost: str | None) -> Outcome:
        run_id = lease.run_id
        if lost is not None:
            lease.detach()
            return Outcome(run_id, LEASE_LOST, self._status(run_id), exit_code, lost)
        try:
            if self._interrupted is not None:
                return Outcome(run_id, INTERRUPTED, lease.release(), exit_code)
            if exit_code == 0:
                return self._complete(lease, exit_code)
            if exit_code == EX_TEMPFAIL:
                return Outcome(run_id, RELEASED, lease.release(), exit_code)
            reason = failure_reason(exit_code, tail)
            status = lease.fail(reason)
            settled = RETRIED if status is RunStatus.QUEUED else FAILED
            return Outcome(run_id, settled, status, exit_code, reason)
        except _UNSETTLEABLE as error:
            # Not ours to move any more: the command did it, or someone else did.
            lease.detach()
            return self._settled_elsewhere(lease, exit_code, error)

    def _complete(self, lease: Lease, exit_code: int) -> Outcome:
        try:
            done = lease.complete()
        except MissingArtifactsError as refused:
            lease.detach()  # the contract's reject policy: the run stays claimed
            return Outcome(lease.run_id, REFUSED, RunStatus.CLAIMED, exit_code, refused.message)
        if done.status is RunStatus.NEEDS_ATTENTION:
            missing = ", ".join(done.missing)
            return Outcome(lease.run_id, PARKED, done.status, exit_code, f"missing: {missing}")
        return Outcome(lease.run_id, COMPLETED, done.status, exit_code)

    def _settled_elsewhere(self, lease: Lease, exit_code: int, error: ParkbenchError) -> Outcome:
        status, actor_kind, prefix, reason = self._last_move(lease.run_id)  # one read
        if self._ours(lease, status, actor_kind, prefix):
            return Outcome(lease.run_id, BY_COMMAND, status, exit_code, reason)
        who = "a reviewer" if actor_kind is ActorKind.HUMAN else "the sweeper"
        return Outcome(
            lease.run_id, LEASE_LOST, status, exit_code, f"{who} moved it: {error.message}"
        )

    def _status(self, run_id: int) -> RunStatus:
        return self.store.get_run(run_id, check_disk=False).run.status
