"""The review screen: header, filter, the run list, the detail pane and the footer.

The screen owns the review actions and the view state (status, filter, sort); the list owns
the cursor and marks. Workers (:mod:`parkbench.tui.screens.main_workers`) do all store I/O and post
messages; the ``@on`` handlers here apply them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import replace

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input
from textual.worker import WorkerState

from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.records import Expectation, RunRow, SortKey
from parkbench.core.store import Store
from parkbench.tui.live_receipts import LiveReceipts
from parkbench.tui.messages import (
    MarkedChecked,
    ReceiptsChecked,
    RowsCounted,
    RowsLoaded,
    StatusCounts,
)
from parkbench.tui.screens.actions import (
    ACTION_NAMES,
    has_targets,
    plural,
    view_actions,
)
from parkbench.tui.screens.main_actions import STOP_BINDING, ReviewActions
from parkbench.tui.screens.main_causes import CauseActions
from parkbench.tui.screens.main_detail import DetailFollow
from parkbench.tui.screens.main_filter import FilterNote, FilterView
from parkbench.tui.screens.main_notes import RunNotes
from parkbench.tui.screens.main_receipts import LiveReceiptsView
from parkbench.tui.screens.main_view import VIEW_BINDINGS, ViewActions
from parkbench.tui.screens.main_workers import BACKGROUND_GROUPS, FirstLoad, StoreWorkers
from parkbench.tui.screens.palette import Command, main_screen_commands
from parkbench.tui.widgets.action_progress import ActionProgressBar
from parkbench.tui.widgets.detail_pane import DetailPane
from parkbench.tui.widgets.filter_bar import FilterBar
from parkbench.tui.widgets.fit_footer import FitFooter
from parkbench.tui.widgets.run_list import RunList
from parkbench.tui.widgets.run_window import (
    MAX_WINDOW,
    PAGE,
    SORT_CYCLE,
    STATUS_CYCLE,
    Fetch,
    FetchKind,
    ViewQuery,
)
from parkbench.tui.widgets.status_header import StatusHeader

#: Seconds a search must stay unchanged before its rows are counted.
COUNT_DELAY_S = 0.15
#: Actions whose availability the footer shows (see sync_bindings).
SCREEN_ACTIONS = (
    *ACTION_NAMES,
    "mark_all",
    "invert_marks",
    "note",
    "clear_filter",
    "toggle_ready",
    "stop_action",
)


class MainScreen(
    DetailFollow,
    CauseActions,
    LiveReceiptsView,
    ReviewActions,
    RunNotes,
    FilterView,
    ViewActions,
    StoreWorkers,
    Screen[None],
):
    AUTO_FOCUS = "#runs"

    BINDINGS = [
        Binding("r", "requeue", "Requeue", id="run-requeue", tooltip="Requeue as a new attempt"),
        Binding("f", "fail", "Fail", id="run-fail", tooltip="Fail the run (operator-forced)"),
        Binding("l", "release", "Release", id="run-release", tooltip="Put it back in the queue"),
        Binding("a", "mark_all", "Mark all", id="run-mark-all", tooltip="Mark every run in view"),
        Binding("n", "note", "Note", id="run-note", tooltip="Add a note; the run is unchanged"),
        Binding(
            "i",
            "invert_marks",
            "Invert",
            id="run-invert-marks",
            tooltip="Mark the unmarked runs in view and unmark the marked ones",
        ),
        Binding("x", "stop_action", "Stop", id=STOP_BINDING, tooltip="Stop after this batch"),
        Binding("slash", "filter", "Filter", id="filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", id="filter-clear"),
        Binding("o", "cycle_sort", "Sort", id="sort-cycle", tooltip="Blocked time, priority, task"),
        Binding(
            "O", "reverse_sort", "Reverse", id="sort-reverse", tooltip="Read the sort the other way"
        ),
        Binding("s", "cycle_status", "Status", id="status-cycle", tooltip="Browse other statuses"),
        Binding(
            "R",
            "toggle_ready",
            "Ready",
            id="filter-ready",
            tooltip="Only runs whose receipts are all present (again: every run)",
        ),
        Binding("c", "causes", "Causes", id="causes", tooltip="Parked runs grouped by cause"),
        Binding("h", "history", "History", id="history", tooltip="This session's actions"),
        *VIEW_BINDINGS,
        Binding("ctrl+r", "refresh", "Refresh", id="refresh", show=False),
    ]

    def __init__(
        self,
        store: Store,
        *,
        read_only: bool,
        actor: str | None,
        now_ms: Callable[[], int],
        page_size: int = PAGE,
        window_rows: int = MAX_WINDOW,
        live_receipts: LiveReceipts | None = None,
        initial: ViewQuery | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.live = live_receipts or LiveReceipts()
        self.read_only = read_only
        self.actor = actor
        self.now_ms = now_ms
        self._detail_timer: Timer | None = None
        self._count_timer: Timer | None = None
        self._mark_request = 0
        self.stop_after_batch = threading.Event()
        self._action_request = 0
        #: (request, action, targets, skipped, rows on hand) while titles are read.
        self._pending_action: (
            tuple[int, Action, dict[int, Expectation], int, dict[int, RunRow]] | None
        ) = None
        self._binding_state: tuple[object, ...] = ()
        # The screen's parts, kept at hand: check_action runs for every binding on every
        # key press and footer refresh, and a DOM query each time would show up.
        self.header = StatusHeader(id="header")
        self.filter_bar = FilterBar(id="filter")
        self.filter_note = FilterNote(id="filter-note")
        self.runs = RunList(now_ms=now_ms, page=page_size, max_rows=window_rows, id="runs")
        self.detail = DetailPane(now_ms=now_ms, id="detail")
        self.progress = ActionProgressBar(id="action-progress")
        self._first_load = FirstLoad(store, self.runs.window.reset(initial or ViewQuery()))

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.filter_bar
        yield self.filter_note
        yield self.runs
        yield self.detail
        yield self.progress
        yield FitFooter()

    def on_mount(self) -> None:
        self.runs.marking_enabled = self.marking_applies()
        self.header.update_state(read_only=self.read_only)
        self.show_restored_view()
        self.detail.show_placeholder("loading…")
        # The first page was asked for when the screen was built, before Textual ran.
        self.runs.begin(self._first_load.fetch, ask=False)
        self._first_load.deliver(self.post_message)
        self.receipts_changed()  # the receipt watcher may have started first

    @property
    def busy(self) -> bool:
        """True while anything it shows is still being loaded (a headless export, or a
        test, waits for this to turn False). The change watcher does not count."""
        if self._detail_timer is not None or self._count_timer is not None:
            return True
        if self.runs.window.replacing:  # a new page for the view is on its way
            return True
        if self.header.state.counts is None and not self._first_load.failed:
            return True  # the first load (a plain thread, not a worker) is still running
        return any(
            worker.state in (WorkerState.PENDING, WorkerState.RUNNING)
            for worker in self.app.workers
            if worker.group not in BACKGROUND_GROUPS
        )

    # -- the view --------------------------------------------------------------------

    def set_query(
        self, query: ViewQuery, *, keep_cursor: bool = False, anchor: RunRow | None = None
    ) -> None:
        header = self.header
        if query.status is not self.runs.view_query.status and self.runs.marks:
            # Marks belong to a status view: an action never reaches runs out of sight.
            count = len(self.runs.marks)
            self.runs.action_clear_marks()
            self.notify(
                f"{plural(count, 'mark')} cleared: marks belong to a status view", markup=False
            )
        header.update_state(
            status=query.status,
            sort=query.sort,
            reverse=query.reverse,
            search=query.search,
            ready_only=query.run_ids is not None and query.cause is None,
            cause=query.cause,
        )
        if keep_cursor or anchor is not None:
            self.runs.reanchor(query, anchor)
        else:
            header.update_state(shown=None)
            self.runs.show_query(query)
        self.runs.marking_enabled = self.marking_applies()
        self.sync_bindings()
        self.app.remember_view(query)

    def store_changed(self, run_ids: frozenset[int] = frozenset(), *, resync: bool = True) -> None:
        """Runs changed (another process, or an action here): follow them in place, keeping
        the filter, the cursor (on the same run while it is listed) and the marks."""
        self.runs.forget_receipts()
        self.runs.reanchor()
        self.load_status_counts()
        marks = self.runs.marks
        moved = tuple(marks) if resync else tuple(run_id for run_id in run_ids if run_id in marks)
        if moved and self.runs.view_query.status is not None:
            self.check_marks(self.runs.view_query.status, moved)
        row = self.runs.highlighted
        if resync or (row is not None and row.id in run_ids):
            self.schedule_detail(0)

    # -- messages from the list ----------------------------------------------------

    @on(RunList.FetchWanted)
    def _fetch_wanted(self, event: RunList.FetchWanted) -> None:
        event.stop()
        self.fetch_rows(event.fetch)

    @on(RowsLoaded)
    def _rows_loaded(self, message: RowsLoaded) -> None:
        loaded = message.loaded
        self.runs.apply_rows(loaded)
        if (
            loaded.fetch.kind is FetchKind.START
            and loaded.total is None
            and loaded.more
            and loaded.fetch.generation == self.runs.window.generation
        ):
            # A search: the count scans every row, so it comes after the rows are shown,
            # and only once the typing pauses (a count in a thread cannot be called off).
            self._schedule_count(loaded.fetch)
        if self.runs.window.total_known:
            self.header.update_state(shown=self.runs.window.total)

    @on(RowsCounted)
    def _rows_counted(self, message: RowsCounted) -> None:
        self.runs.set_total(message.generation, message.total)
        if message.generation == self.runs.window.generation:
            self.header.update_state(shown=message.total)

    @on(RunList.ReceiptsWanted)
    def _receipts_wanted(self, event: RunList.ReceiptsWanted) -> None:
        event.stop()
        if rows := self.rows_to_check(event.rows):  # the watcher answers what it knows
            self.check_receipts(rows)

    @on(ReceiptsChecked)
    def _receipts_checked(self, message: ReceiptsChecked) -> None:
        self.runs.set_receipts(self.live_counts(message.counts))

    def _schedule_count(self, fetch: Fetch) -> None:
        if self._count_timer is not None:
            self._count_timer.stop()

        def count() -> None:
            self._count_timer = None
            if fetch.generation == self.runs.window.generation:
                self.count_rows(fetch)

        self._count_timer = self.set_timer(COUNT_DELAY_S, count)

    def on_key(self, event: events.Key) -> None:
        """In read-only mode the review keys are unbound; say why instead of nothing."""
        if not self.read_only:
            return
        for binding_id in ("run-requeue", "run-fail", "run-release", "run-mark-all", "run-note"):
            keys: tuple[str, ...] = getattr(self.app, "binding_keys", lambda _id: ())(binding_id)
            if event.key in keys:
                event.stop()
                self.notify(
                    "Read-only: reviewing actions are off. Open Parkbench without "
                    "--read-only to act.",
                    title="Parkbench",
                    severity="warning",
                    markup=False,
                )
                return

    @on(RunList.MarksChanged)
    def _marks_changed(self, event: RunList.MarksChanged) -> None:
        event.stop()
        self.header.update_state(marked=event.count)
        self.sync_bindings()

    @on(MarkedChecked)
    def _marked_checked(self, message: MarkedChecked) -> None:
        """Marked runs that left the view (acted on elsewhere) are no longer marked."""
        if message.status is not self.runs.view_query.status:
            return  # the view changed meanwhile (and its marks were cleared)
        left = [
            run_id
            for run_id in message.asked
            if (row := message.rows.get(run_id)) is None or row.status is not message.status
        ]
        if left:
            self.runs.unmark(left)

    @on(StatusCounts)
    def _status_counts(self, message: StatusCounts) -> None:
        self.header.update_state(counts=message.counts)

    # -- filter, sort, status --------------------------------------------------------

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.filter_typed(event.value)

    @on(Input.Submitted, "#filter")
    @on(FilterBar.Cleared)
    def _filter_left(self, event: Input.Submitted | FilterBar.Cleared) -> None:
        event.stop()
        self.filter_done()

    def action_clear_filter(self) -> None:
        self.clear_cause()
        super().action_clear_filter()

    def action_cycle_sort(self) -> None:
        query = self.runs.view_query
        following = SORT_CYCLE[(SORT_CYCLE.index(query.sort) + 1) % len(SORT_CYCLE)]
        self.set_query(replace(query, sort=following), keep_cursor=True)

    def action_reverse_sort(self) -> None:
        query = self.runs.view_query
        self.set_query(replace(query, reverse=not query.reverse), keep_cursor=True)

    def action_cycle_status(self) -> None:
        query = self.runs.view_query
        if self.status_kept_by_filter():
            return
        following = STATUS_CYCLE[(STATUS_CYCLE.index(query.status) + 1) % len(STATUS_CYCLE)]
        self.set_query(query.with_status(following))

    def show_status(self, status: RunStatus | None) -> None:
        if not self.status_kept_by_filter():
            self.set_query(self.runs.view_query.with_status(status))

    def show_sort(self, sort: SortKey) -> None:
        self.set_query(replace(self.runs.view_query, sort=sort), keep_cursor=True)

    def action_refresh(self) -> None:
        self.store_changed(resync=True)

    def sync_bindings(self) -> None:
        """Refresh the footer only when what it would show changed: recomposing it is the
        most expensive thing a cursor move could do."""
        state = (
            *(self.check_action(name, ()) for name in SCREEN_ACTIONS),
            self.runs.check_action("clear_marks", ()),
            self.runs.check_action("toggle_mark", ()),
        )
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ACTION_NAMES:
            return (
                not self.read_only
                and ACTION_NAMES[action] in view_actions(self.runs.view_query.status)
                and has_targets(ACTION_NAMES[action], self.runs.marks, self.runs.highlighted)
            )
        if action in ("mark_all", "invert_marks"):
            return self.marking_applies()
        if action == "note":
            return self.note_available()
        if action == "stop_action":
            return self.stop_available()
        if action == "clear_filter":
            query = self.runs.view_query
            return bool(query.search or self.filter_bar.value) or query.cause is not None
        if action == "toggle_ready":
            return self.ready_filter_available()
        return True

    def palette_commands(self) -> Iterable[Command]:
        return main_screen_commands(self)
