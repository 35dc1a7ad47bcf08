"""A claimed run in a worker's hands: the Python API's lease.

:meth:`Store.claim <parkbench.core.store.Store.claim>` returns one. It carries the claim's
facts (task, contract, handoff) and the token-fenced moves, each a plain call into the
store's one execution path. As a context manager it keeps itself alive — a background
thread heartbeats every third of the lease — and gives the run back (``release``) when the
body raises or returns without settling it, so a crashed worker never leaves a run claimed
until its lease runs out.

The raw token stays inside: ``repr`` shows the run, never the token, and no error the store
raises contains it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from parkbench.core.db.info import to_datetime
from parkbench.core.errors import DatabaseError, ParkbenchError
from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import Claim, ClaimedTask, Completion, Handoff

log = logging.getLogger(__name__)

#: Heartbeat this often, as a fraction of the lease: two beats can be missed before it ends.
BEAT_FRACTION = 1 / 3


class WorkerMoves(Protocol):
    """The store's token-fenced moves (:class:`parkbench.core.store.worker.WorkerOps`)."""

    def heartbeat(self, run_id: int, token: str, *, lease_s: float | None = None) -> int: ...
    def complete(self, run_id: int, token: str, *, result: object = None) -> Completion: ...
    def fail(self, run_id: int, token: str, *, reason: str) -> RunStatus: ...
    def release(self, run_id: int, token: str) -> RunStatus: ...
    def block(self, run_id: int, token: str, *, reason: str) -> RunStatus: ...


class Lease:
    """One claimed run and the moves its worker may make."""

    def __init__(self, store: WorkerMoves, claim: Claim, *, lease_s: float) -> None:
        self._store = store
        self._claim = claim
        self._lease_s = lease_s
        self._lease_until_ms = claim.lease_until_ms
        self._settled: RunStatus | None = None
        self._lost: ParkbenchError | None = None
        self._detached = False
        self._lock = threading.Lock()  # one move at a time: a beat never races a settle
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None

    # -- what was claimed -----------------------------------------------------------

    @property
    def run_id(self) -> int:
        return self._claim.run_id

    @property
    def attempt(self) -> int:
        return self._claim.attempt

    @property
    def task(self) -> ClaimedTask:
        return self._claim.task

    @property
    def handoff(self) -> Handoff | None:
        """How this run continues earlier work, with the reviewer's answer if there is one."""
        return self._claim.handoff

    @property
    def claim(self) -> Claim:
        """The whole claim record, token included (to hand to a child process on purpose)."""
        return self._claim

    @property
    def lease_until(self) -> datetime:
        return to_datetime(self._lease_until_ms)

    @property
    def settled(self) -> RunStatus | None:
        """The status this lease's own move left the run in, once it made one."""
        return self._settled

    @property
    def lost(self) -> ParkbenchError | None:
        """Why the background heartbeat stopped, if the lease was lost (expired, or a
        reviewer acted): every further move would fail with the same error."""
        return self._lost

    def __repr__(self) -> str:
        state = self._settled.value if self._settled else ("lost" if self._lost else "held")
        return (
            f"Lease(run_id={self.run_id}, task_id={self._claim.task_id}, "
            f"attempt={self.attempt}, {state})"
        )

    # -- the worker's moves -----------------------------------------------------------

    def heartbeat(self, *, lease_s: float | None = None) -> datetime:
        """Extend the lease now (the context manager does this by itself)."""
        with self._lock:
            self._lease_until_ms = self._store.heartbeat(
                self.run_id, self._claim.claim_token, lease_s=lease_s or self._lease_s
            )
        return self.lease_until

    def complete(self, result: object = None) -> Completion:
        """Complete the run; refused with ``missing_artifacts`` while receipts are missing
        (the run stays claimed), or parked under the contract's ``park`` policy."""
        with self._lock:
            done = self._store.complete(self.run_id, self._claim.claim_token, result=result)
            self._settled = done.status
        return done

    def fail(self, reason: str) -> RunStatus:
        """Fail this attempt: retried while attempts remain, else ``failed``."""
        return self._settle(lambda: self._store.fail(self.run_id, self._token, reason=reason))

    def release(self) -> RunStatus:
        """Give the work back to the queue without a verdict."""
        return self._settle(lambda: self._store.release(self.run_id, self._token))

    def block(self, reason: str) -> RunStatus:
        """Park the run for a human with a question or a reason."""
        return self._settle(lambda: self._store.block(self.run_id, self._token, reason=reason))

    @property
    def _token(self) -> str:
        return self._claim.claim_token

    def _settle(self, move: Callable[[], RunStatus]) -> RunStatus:
        with self._lock:
            status = move()
            self._settled = status
        return status

    def detach(self) -> None:
        """Leave the run as it is: stop heartbeating, and do not release it on exit (the
        lease then ends when it runs out, as for a worker that went away)."""
        self._detached = True
        self._stop.set()

    # -- keeping itself alive -------------------------------------------------------

    def __enter__(self) -> Self:
        self._stop.clear()
        self._beater = threading.Thread(
            target=self._beat, name=f"parkbench-lease-{self.run_id}", daemon=True
        )
        self._beater.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._beater is not None:
            self._beater.join()
            self._beater = None
        if self._settled is None and self._lost is None and not self._detached:
            # The body raised, or ended without a verdict: never leave the run claimed.
            try:
                self.release()
            except ParkbenchError as error:
                if exc is None:
                    raise
                log.warning("run %s: could not release after an error: %s", self.run_id, error)

    def _beat(self) -> None:
        interval = max(self._lease_s * BEAT_FRACTION, 0.05)
        while not self._stop.wait(interval):
            if self._settled is not None or self._detached:
                return
            try:
                self.heartbeat()
            except DatabaseError as error:  # locked or unreachable for now: try again
                log.warning("run %s: heartbeat failed, will retry: %s", self.run_id, error)
            except ParkbenchError as error:  # the lease is gone; nothing more to keep alive
                self._lost = error
                log.warning("run %s: lease lost: %s", self.run_id, error)
                return
