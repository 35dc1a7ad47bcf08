"""The main screen's thread workers: each calls the store once and posts a message.

Harlequin's rule: a worker never touches a widget. It reads or writes through
:mod:`parkbench.tui.screens.loading`, then posts a typed message
(:mod:`parkbench.tui.messages`) that an ``@on`` handler on the screen applies. Store errors
become :class:`CoreFailed`, shown as a notification; nothing a worker meets can crash the app.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from textual import work
from textual.message import Message
from textual.worker import Worker, WorkerState, get_current_worker

from parkbench.core.errors import ParkbenchError
from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.records import Expectation, RunRow
from parkbench.core.store import Store
from parkbench.tui.live_receipts import WATCHER_GROUP
from parkbench.tui.messages import (
    ActionDone,
    ActionRowsLoaded,
    CoreFailed,
    DetailLoaded,
    MarkedChecked,
    MatchesCounted,
    MatchesFetched,
    ReceiptsChecked,
    RowsCounted,
    RowsLoaded,
    StatusCounts,
)
from parkbench.tui.screens import loading
from parkbench.tui.textsafe import one_line
from parkbench.tui.widgets.run_list import RunList
from parkbench.tui.widgets.run_window import Fetch, ViewQuery

T = TypeVar("T")
LOADING_RUNS = "loading runs"
#: The app's long-running workers (the change feed, the receipt watcher): never "busy".
BACKGROUND_GROUPS = frozenset({"changes", WATCHER_GROUP})


class FirstLoad:
    """The first page (with its count) and the status counts, read on a plain thread that
    starts when the screen is built, before Textual runs (workers need the running app):
    the data is usually there by the time the first frame is drawn.

    Messages wait until :meth:`deliver` names where to post them, then go there as they
    come (``post_message`` is thread-safe).
    """

    def __init__(self, store: Store, fetch: Fetch) -> None:
        self.store = store
        self.fetch = fetch
        self._lock = threading.Lock()
        self._waiting: list[Message] = []
        self._sink: Callable[[Message], object] | None = None
        self.failed = False
        threading.Thread(target=self._load, name="parkbench-first-load", daemon=True).start()

    def _load(self) -> None:
        try:
            self._emit(RowsLoaded(loading.fetch_first(self.store, self.fetch)))
            self._emit(StatusCounts(self.store.counts_by_status()))
        except ParkbenchError as error:
            self.failed = True  # nothing more is coming: the screen is not busy waiting
            self._emit(CoreFailed(LOADING_RUNS, error))

    def _emit(self, message: Message) -> None:
        with self._lock:
            if self._sink is None:
                self._waiting.append(message)
                return
        self._sink(message)

    def deliver(self, sink: Callable[[Message], object]) -> None:
        with self._lock:
            waiting, self._waiting, self._sink = self._waiting, [], sink
        for message in waiting:
            sink(message)


class StoreWorkers:
    """Mixed into the main screen (a Textual ``Screen``): ``store``, ``actor`` and ``runs``
    are set there. Handlers here use Textual's ``on_<message>`` names (``@on`` only works
    on message pump classes)."""

    store: Store
    actor: str | None
    runs: RunList
    now_ms: Callable[[], int]
    #: Set (from the UI thread) to end a running bulk action after its current batch.
    stop_after_batch: threading.Event

    # Provided by the Screen this is mixed into.
    post_message: Callable[[Message], bool]
    notify: Callable[..., None]

    def on_core_failed(self, message: CoreFailed) -> None:
        """A store call failed as a whole (e.g. ``database``): show code, message, hint."""
        if message.what == LOADING_RUNS:
            self.runs.fetch_failed()
        error = message.error
        self.notify(
            one_line(f"{message.what}: {error.code}: {error.message} — {error.hint}", 500),
            title="Parkbench",
            severity="error",
            markup=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker died of something other than a store error (a bug): say so, and let
        the list ask again, rather than fail silently (Harlequin's pattern)."""
        if event.state is WorkerState.ERROR and event.worker.group not in BACKGROUND_GROUPS:
            if event.worker.group == "rows":
                self.runs.fetch_failed()
            error = event.worker.error
            self.notify(
                one_line(f"{event.worker.name} failed: {type(error).__name__}: {error}", 500),
                title="Parkbench",
                severity="error",
                markup=False,
            )

    def _call(self, what: str, body: Callable[[], T]) -> T | None:
        """Run ``body`` off the UI thread; a store failure is posted, not raised."""
        try:
            result = body()
        except ParkbenchError as error:
            self.post_message(CoreFailed(what, error))
            return None
        return None if get_current_worker().is_cancelled else result

    @work(thread=True, exclusive=True, group="rows", exit_on_error=False)
    def fetch_rows(self, fetch: Fetch) -> None:
        loaded = self._call(LOADING_RUNS, lambda: loading.fetch_rows(self.store, fetch))
        if loaded is not None:
            self.post_message(RowsLoaded(loaded))

    @work(thread=True, exclusive=True, group="count", exit_on_error=False)
    def count_rows(self, fetch: Fetch) -> None:
        total = self._call("counting runs", lambda: loading.count_rows(self.store, fetch.query))
        if total is not None:
            self.post_message(RowsCounted(fetch.generation, total))

    @work(thread=True, exclusive=True, group="receipts", exit_on_error=False)
    def check_receipts(self, rows: tuple[RunRow, ...]) -> None:
        counts = self._call("checking receipts", lambda: loading.receipt_counts(rows))
        if counts is not None:
            self.post_message(ReceiptsChecked(counts))

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def load_detail(self, run_id: int) -> None:
        try:
            detail = self.store.get_run(run_id)
        except ParkbenchError as error:
            self.post_message(DetailLoaded(run_id, None, error))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(DetailLoaded(run_id, detail))

    @work(thread=True, exclusive=True, group="counts", exit_on_error=False)
    def load_status_counts(self) -> None:
        counts = self._call("counting by status", self.store.counts_by_status)
        if counts is not None:
            self.post_message(StatusCounts(counts))

    @work(thread=True, exclusive=True, group="mark-all", exit_on_error=False)
    def count_matches(self, query: ViewQuery, request: int) -> None:
        total = self._call("counting matches", lambda: loading.count_rows(self.store, query))
        if total is not None:
            self.post_message(MatchesCounted(request, total))

    @work(thread=True, exclusive=True, group="mark-all", exit_on_error=False)
    def fetch_matches(
        self,
        query: ViewQuery,
        request: int,
        invert: dict[int, Expectation] | None = None,
    ) -> None:
        """Every run in view, to mark; with ``invert`` (the marks there are), the marks
        that inverting them in this view leaves (computed here, not on the UI thread)."""
        expected = self._call(
            "marking runs", lambda: loading.matching_expectations(self.store, query)
        )
        if expected is None:
            return
        if invert is None:
            self.post_message(MatchesFetched(request, expected))
        else:
            inverted = loading.inverted_marks(expected, invert)
            self.post_message(MatchesFetched(request, inverted, replace=True))

    @work(thread=True, exclusive=True, group="marks", exit_on_error=False)
    def check_marks(self, status: RunStatus | None, run_ids: tuple[int, ...]) -> None:
        rows = self._call("checking marked runs", lambda: loading.rows_by_id(self.store, run_ids))
        if rows is not None:
            self.post_message(MarkedChecked(status, run_ids, rows))

    @work(thread=True, exclusive=True, group="action-rows", exit_on_error=False)
    def load_action_rows(
        self, request: int, run_ids: tuple[int, ...], reasons_of: tuple[int, ...] = ()
    ) -> None:
        rows = self._call("reading runs", lambda: loading.rows_by_id(self.store, run_ids))
        reasons = None
        if reasons_of:
            reasons = self._call(
                "reading block reasons", lambda: loading.reason_counts(self.store, reasons_of)
            )
        self.post_message(ActionRowsLoaded(request, rows or {}, reasons))  # opens anyway

    @work(thread=True, group="actions", exit_on_error=False)
    def run_action(
        self,
        action: Action,
        expected: dict[int, Expectation],
        reason: str,
        priority: int | None = None,
    ) -> None:
        # Not cancellable on purpose: once confirmed, every result is reported.
        started_ms = self.now_ms()
        try:
            results = loading.apply_action(
                self.store,
                action,
                expected,
                reason=reason,
                actor=self.actor,
                should_stop=self.stop_after_batch.is_set,
                priority=priority,
            )
        except ParkbenchError as error:
            self.post_message(CoreFailed(f"{action.value} failed", error))
            return
        self.post_message(ActionDone(action, results, reason, len(expected), started_ms))
