"""The Causes screen (``c``): the parked runs folded by the shape of their reason.

One row per cause (:mod:`parkbench.core.causes`): how many runs, the oldest and newest time
one was parked, the workers, an example reason; below the table, the highlighted cause's
key, workers and example in full (bounded). The groups are computed by a thread worker
(:meth:`parkbench.core.store.Store.causes`: the database groups the parked runs)
while the screen says it is grouping; nothing here touches the store on the UI thread.

Enter shows the cause's runs in the review list (a filter on their ids); ``m`` marks them
all there, after a confirmation that shows the count, as "mark all" asks. The screen is
dismissed with a :class:`CauseChoice` and the review screen applies it
(:mod:`parkbench.tui.screens.main_causes`). Every untrusted text is shown through
:mod:`parkbench.tui.textsafe` as literal ``Text``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from parkbench.core.causes import CauseGroup, CauseKind, Causes
from parkbench.core.errors import ParkbenchError
from parkbench.core.store import Store, queries
from parkbench.tui.screens.actions import plural
from parkbench.tui.screens.confirm_modal import ConfirmModal
from parkbench.tui.textsafe import one_line
from parkbench.tui.widgets.fit_footer import FitFooter
from parkbench.tui.widgets.run_columns import relative_time

#: Causes listed at most (the largest); the rest are counted below the table.
MAX_GROUPS = 500
WORKERS_CELL = 30
EXAMPLE_CELL = 160
EXAMPLE_SHOWN = 400
GROUPING = "Grouping the parked runs by cause…"
COLUMNS = ("Runs", "Oldest", "Newest", "Workers", "Example reason")


@dataclass(slots=True)
class CausesCache:
    """The last groups and the change marker they were read at (the newest event id): an
    unchanged database is not grouped again when the screen is opened again."""

    marker: int | None = None
    causes: Causes | None = None

    def clear(self) -> None:
        self.marker, self.causes = None, None


@dataclass(frozen=True, slots=True)
class CauseChoice:
    """What the reviewer chose: show the cause's runs, or mark them too."""

    group: CauseGroup
    mark: bool = False


def mark_cause_question(group: CauseGroup) -> Text:
    text = Text(f"Mark all {plural(group.count, 'run')} of this cause?\n")
    text.append(f"cause: “{one_line(group.key, 80)}”", style="dim")
    return text


def workers_text(group: CauseGroup) -> str:
    shown = ", ".join(group.workers) or "-"
    if group.worker_count > len(group.workers):
        shown += f" (+{group.worker_count - len(group.workers)})"
    return shown


class CausesScreen(Screen[CauseChoice | None]):
    CSS_PATH = "causes.tcss"
    AUTO_FOCUS = "#causes-table"

    BINDINGS = [
        # Priority: the table's own enter (select the row, hidden) would hide this one.
        Binding(
            "enter",
            "open_cause",
            "Show runs",
            id="causes-open",
            tooltip="Its runs, listed",
            priority=True,
        ),
        Binding(
            "m", "mark_cause", "Mark runs", id="causes-mark", tooltip="Mark every run of the cause"
        ),
        Binding("ctrl+r", "reload", "Refresh", id="causes-refresh", show=False),
        Binding("escape", "close", "Back", id="causes-close", tooltip="Back to the run list"),
    ]

    class Loaded(Message):
        def __init__(self, causes: Causes | None, error: ParkbenchError | None = None) -> None:
            super().__init__()
            self.causes = causes
            self.error = error

    def __init__(
        self,
        store: Store,
        *,
        now_ms: Callable[[], int],
        can_mark: bool,
        cache: CausesCache | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.cache = cache if cache is not None else CausesCache()
        self.now_ms = now_ms
        self.can_mark = can_mark
        self.causes: Causes | None = None
        #: True once the groups (or the failure) arrived and are shown.
        self.loaded = False
        self.title_bar = Static(Text(GROUPING), id="causes-title")
        self.table: DataTable[Text] = DataTable(id="causes-table", cursor_type="row")
        self.detail = Static(Text(""), id="causes-detail")

    def compose(self) -> ComposeResult:
        yield self.title_bar
        yield self.table
        yield self.detail
        yield FitFooter()

    def on_mount(self) -> None:
        self.table.add_columns(*COLUMNS)
        self.action_reload()

    def action_reload(self) -> None:
        if self.loaded:  # asked for (ctrl+r): group again, whatever the marker says
            self.cache.clear()
        self.loaded = False
        # A line that says so, not Textual's animated loading indicator: its frames would
        # take the interpreter from the worker doing the grouping.
        self.title_bar.update(Text(GROUPING))
        self.load()

    @work(thread=True, exclusive=True, group="causes", exit_on_error=False)
    def load(self) -> None:
        cache = self.cache
        try:
            # Read before the groups: a change in between only makes the next open regroup.
            marker = self.store.read(queries.change_marker)
            causes = cache.causes if marker == cache.marker else None
            if causes is None:
                causes = self.store.causes(limit=MAX_GROUPS)
                cache.marker, cache.causes = marker, causes
        except ParkbenchError as error:
            self.post_message(self.Loaded(None, error))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(causes))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.causes = message.causes
        if message.causes is None:
            error = message.error
            assert error is not None
            self.table.clear()
            self.title_bar.update(
                Text(one_line(f"grouping failed: {error.code}: {error.message} — {error.hint}"))
            )
        else:
            self._show(message.causes)
        self.loaded = True
        self.refresh_bindings()

    def _show(self, causes: Causes) -> None:
        now = self.now_ms()
        rows = [
            (
                Text(f"{group.count:,}", justify="right"),
                Text(relative_time(group.oldest_ms, now)),
                Text(relative_time(group.newest_ms, now)),
                Text(one_line(workers_text(group), WORKERS_CELL)),
                Text(one_line(group.example or group.key, EXAMPLE_CELL)),
            )
            for group in causes.groups
        ]
        # The widths are set from the cells here, not left to the table: it measures auto
        # widths when it next goes idle, so a frame drawn before that (a screenshot, on a
        # busy machine) would cut every cell to its header's width.
        table = self.table
        table.clear(columns=True)
        for column, label in enumerate(COLUMNS):
            width = max([len(label), *(row[column].cell_len for row in rows)])
            table.add_column(label, width=width, key=label)
        for index, row in enumerate(rows):
            table.add_row(*row, key=str(index))
        title = Text(
            f" {plural(causes.groups_total, 'cause')} · {plural(causes.runs_total, 'parked run')}"
        )
        if causes.groups_total > len(causes.groups):
            hidden = causes.groups_total - len(causes.groups)
            title.append(
                f" · the largest {len(causes.groups):,} listed ({hidden:,} more: "
                "parkbench causes --limit all)",
                style="dim",
            )
        if not causes.groups:
            title.append(" · nothing is parked", style="dim")
        self.title_bar.update(title)
        self._describe(self.highlighted)

    @property
    def highlighted(self) -> CauseGroup | None:
        causes = self.causes
        if causes is None or not causes.groups or self.table.row_count == 0:
            return None
        row = self.table.cursor_row
        return causes.groups[row] if 0 <= row < len(causes.groups) else None

    def _describe(self, group: CauseGroup | None) -> None:
        if group is None:
            self.detail.update(Text(""))
            return
        text = Text()
        text.append("cause   ", style="dim")
        text.append(one_line(group.key, 240))
        if group.kind is CauseKind.MISSING_RECEIPTS:
            text.append("  (receipts missing)", style="dim")
        text.append("\nworkers ", style="dim")
        text.append(one_line(workers_text(group), 200))
        text.append("\nexample ", style="dim")
        text.append(one_line(group.example or "-", EXAMPLE_SHOWN))
        self.detail.update(text)

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._describe(self.highlighted)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_cause()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_cause":
            return self.highlighted is not None
        if action == "mark_cause":
            return self.can_mark and self.highlighted is not None
        return True

    def action_open_cause(self) -> None:
        if (group := self.highlighted) is not None:
            self.dismiss(CauseChoice(group))

    def action_mark_cause(self) -> None:
        group = self.highlighted
        if group is None or not self.can_mark:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(CauseChoice(group, mark=True))

        self.app.push_screen(ConfirmModal(mark_cause_question(group)), answered)

    def action_close(self) -> None:
        self.dismiss(None)
