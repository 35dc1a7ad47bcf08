"""The header: counts by status and a one-line summary of the current view."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import SortKey
from parkbench.tui.textsafe import one_line
from parkbench.tui.widgets.theme_styles import component_style

#: Order of the status counts: the parked state first, then the live ones, then the rest.
STATUS_ORDER: tuple[RunStatus, ...] = (
    RunStatus.NEEDS_ATTENTION,
    RunStatus.QUEUED,
    RunStatus.CLAIMED,
    RunStatus.FAILED,
    RunStatus.COMPLETED,
    RunStatus.CANCELED,
    RunStatus.REQUEUED,
)
SORT_LABELS = {
    SortKey.BLOCKED: "blocked time",
    SortKey.PRIORITY: "priority",
    SortKey.TASK: "task",
}


def sort_label(sort: SortKey, status: RunStatus | None) -> str:
    """The sort's name in ``status``'s view: "blocked time" only where runs are blocked
    (elsewhere the same order is the time in that status, the "Since" column)."""
    if sort is SortKey.BLOCKED and status is not RunStatus.NEEDS_ATTENTION:
        return "time in status"
    return SORT_LABELS[sort]


def status_label(status: RunStatus | None) -> str:
    return "all statuses" if status is None else status.value.replace("_", " ")


@dataclass(frozen=True, slots=True)
class HeaderState:
    counts: dict[str, int] | None = None
    status: RunStatus | None = RunStatus.NEEDS_ATTENTION
    sort: SortKey = SortKey.BLOCKED
    reverse: bool = False
    search: str = ""
    shown: int | None = None  # rows in the current view, once counted
    marked: int = 0
    read_only: bool = False
    #: Runs whose receipts are all present (the receipt watcher fills this in).
    ready_to_requeue: int | None = None
    #: While the watcher's first pass runs: (parked runs read, parked runs in all).
    checking: tuple[int, int] | None = None
    #: The list shows only those (the ready filter).
    ready_only: bool = False
    #: The list shows only the runs of this cause (the Causes screen, ``c``).
    cause: str | None = None
    #: The live change feed's state ("connected", "reconnecting"), when one runs.
    feed_state: str | None = None


def short_count(count: int) -> str:
    """``1,234`` as ``1.2k``, ``104,557`` as ``105k``, ``2,500,000`` as ``2.5M``."""
    if count < 1000:
        return str(count)
    for limit, unit in ((1_000_000, "M"), (1000, "k")):
        if count >= limit:
            value = count / limit
            return f"{value:.1f}{unit}" if value < 10 else f"{round(value)}{unit}"
    return str(count)  # pragma: no cover


class StatusHeader(Static):
    """Two lines that always fit the width: counts (zero counts dropped, then counts
    abbreviated) and the status line (view, marks, read-only first: they must show)."""

    COMPONENT_CLASSES = {"status-header--count", "status-header--parked", "status-header--dim"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", markup=False, id=id)
        self.state = HeaderState()

    def update_state(self, **changes: object) -> None:
        state = replace(self.state, **changes)  # type: ignore[arg-type]
        if state != self.state:
            self.state = state
            # Two fixed lines (CSS): no need to lay the screen out again for new text.
            self.update(self.render_state(), layout=False)

    def on_mount(self) -> None:
        self.update(self.render_state())

    def on_resize(self) -> None:
        self.update(self.render_state(), layout=False)

    def render_state(self, width: int | None = None) -> Text:
        width = width if width is not None else self.content_size.width or 10_000
        counts = self._counts_line(width, short=False)
        if counts.cell_len > width:
            counts = self._counts_line(width, short=True)
        counts.truncate(width, overflow="ellipsis")
        status = self._status_line()
        status.truncate(width, overflow="ellipsis")
        return Text("\n", no_wrap=True, overflow="ellipsis").join([counts, status])

    def _counts_line(self, width: int, *, short: bool) -> Text:
        state = self.state

        def style(name: str, partial: bool = True) -> Style:
            return component_style(self, name)

        dim = style("status-header--dim", partial=True)
        number = short_count if short else (lambda n: f"{n:,}")
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("Parkbench ", style=style("status-header--parked", partial=True))
        if state.counts is None:
            text.append(" counting…", style=dim)
        else:
            for status in STATUS_ORDER:
                count = state.counts.get(status.value, 0)
                parked = status is RunStatus.NEEDS_ATTENTION
                if not count and not parked:
                    continue  # zero counts say nothing; the parked count always shows
                name = "parked" if parked else status.value
                emphasis = "status-header--parked" if parked else "status-header--count"
                text.append(f" {name} ", style=dim)
                text.append(number(count), style=style(emphasis, partial=True))
        if state.ready_to_requeue is not None:
            text.append("  ready " if short else "  ready to requeue ", style=dim)
            text.append(number(state.ready_to_requeue), style=style("status-header--count"))
        if state.checking is not None:
            read, total = state.checking
            text.append("  checking receipts… " if not short else "  checking… ", style=dim)
            text.append(f"{number(read)}/{number(total)}", style=dim)
        return text

    def _status_line(self) -> Text:
        state = self.state

        def style(name: str, partial: bool = True) -> Style:
            return component_style(self, name)

        dim = style("status-header--dim", partial=True)
        warn = style("status-header--parked", partial=True)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" view ", style=dim)
        text.append(status_label(state.status))
        if state.shown is not None:
            text.append(f" ({state.shown:,})", style=dim)
        # What must never be cut off comes before what may be.
        if state.marked:
            text.append("  marked ", style=dim)
            text.append(f"{state.marked:,}", style=warn)
        if state.read_only:
            text.append("  read-only", style=warn)
        if state.feed_state in ("reconnecting", "stopped"):
            paused = "reconnecting…" if state.feed_state == "reconnecting" else "stopped"
            text.append(f"  live updates {paused}", style=warn)
        if state.ready_only:
            text.append("  only ", style=dim)
            text.append("ready to requeue")
        if state.cause is not None:
            text.append("  cause ", style=dim)
            text.append(f"“{one_line(state.cause, 60)}”")
        text.append("  sort ", style=dim)
        text.append(sort_label(state.sort, state.status))
        if state.reverse:
            text.append(" (reversed)")
        if state.search.strip():
            text.append("  filter ", style=dim)
            text.append(f"“{one_line(state.search, 60)}”")
        return text
