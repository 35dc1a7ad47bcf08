"""Live receipts in the review app: the receipt watcher's state, handed to the UI in batches.

The app runs a :class:`parkbench.core.watch.ReceiptWatcher` in an async worker, on its own
event loop (the watcher's file checks and database reads run in threads, so nothing here
touches the disk on the UI thread). Each batch of records the watcher publishes is noted here and
announced with one :class:`ReceiptsChanged` message; a message that finds another still
queued is dropped, since the handler takes every run noted so far (:meth:`LiveReceipts.take`).
The handlers then read the watcher's in-memory snapshot: receipt counts for the list, the
artifact checks for the detail pane, the ids of the runs that are ready to requeue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from parkbench.core.contracts import ArtifactCheck, ArtifactState

if TYPE_CHECKING:
    from parkbench.core.watch import ReceiptWatcher, WatchRecord

#: The app's worker group for the watcher (a long-running worker: "settled" ignores it).
WATCHER_GROUP = "receipt-watcher"


@dataclass
class ReceiptsChanged(Message, bubble=False):
    """The receipt watcher has news: take it from :meth:`LiveReceipts.take`."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ReceiptsChanged)


class LiveReceipts:
    """What the receipt watcher knows, for the UI thread (one per app).

    ``known`` holds the runs whose receipts the watcher has checked in full: until a run is
    announced (at start, or by a ``watched`` record) its state is the list's own disk check.
    """

    def __init__(self) -> None:
        self.watcher: ReceiptWatcher | None = None
        self._known: set[int] = set()
        self._pending: set[int] = set()
        self._ready: frozenset[int] = frozenset()
        self._ready_changed = False

    @property
    def running(self) -> bool:
        return self.watcher is not None

    # -- the worker's side -------------------------------------------------------------

    def attach(self, watcher: ReceiptWatcher) -> None:
        """The watcher has started (its first pass may still be running: the runs checked
        so far are known now, the rest as their ``watched`` records come)."""
        self.watcher = watcher
        self._known = set(watcher.checked_run_ids())
        self._pending |= self._known
        self._refresh_ready()

    def detach(self) -> None:
        self._pending |= self._known
        self.watcher = None
        self._known.clear()
        self._refresh_ready()

    def note(self, batch: Iterable[WatchRecord]) -> None:
        from parkbench.core.watch import RunDropped, RunWatched, WorkspaceChange

        for record in batch:
            if isinstance(record, WorkspaceChange):
                continue  # its paths' changes come as records of their own
            if isinstance(record, RunWatched):
                self._known.add(record.run_id)
            elif isinstance(record, RunDropped):
                self._known.discard(record.run_id)
            self._pending.add(record.run_id)
        self._refresh_ready()

    def _refresh_ready(self) -> None:
        ready = self.watcher.ready_run_ids() if self.watcher is not None else frozenset()
        if ready != self._ready:
            self._ready, self._ready_changed = ready, True

    # -- the UI's side -------------------------------------------------------------------

    def take(self) -> tuple[frozenset[int], bool]:
        """Runs noted since the last call, and whether the ready set changed meanwhile."""
        pending, self._pending = frozenset(self._pending), set()
        ready_changed, self._ready_changed = self._ready_changed, False
        return pending, ready_changed

    def checks(self, run_id: int) -> tuple[ArtifactCheck, ...] | None:
        """The watcher's state of each required path of ``run_id``; None: not known."""
        if self.watcher is None or run_id not in self._known:
            return None
        return self.watcher.receipts(run_id)

    def counts(self, run_id: int) -> tuple[int, int] | None:
        """``(present, required)`` as the list shows it; None: not known."""
        checks = self.checks(run_id)
        if checks is None:
            return None
        return sum(c.state is ArtifactState.PRESENT for c in checks), len(checks)

    def ready_ids(self) -> frozenset[int]:
        """Parked runs whose receipts are all present now (ready to requeue)."""
        return self._ready

    @property
    def checking(self) -> tuple[int, int] | None:
        """For the header, while the watcher's first pass runs: (runs read, runs in all)."""
        return self.watcher.checking if self.watcher is not None else None

    @property
    def ready_count(self) -> int | None:
        """For the header: None while no watcher runs (the header then says nothing)."""
        return len(self._ready) if self.watcher is not None else None
