"""The header: counts by status and a one-line summary of the current view."""

from __future__ import annotations

from dataclasses import dataclass, replace

from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import SortKey
from parkbench.tui.textsafe import one_line
from rich.text import Text
from textual.widgets import Static

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


def status_label(status: RunStatus | None) -> str:
    return "all statuses" if status is None else status.value.replace("_", " ")


@dataclass(frozen=True, slots=True)
class HeaderState:
    counts: dict[str, int] | None = None
    status: RunStatus | None = RunStatus.NEEDS_ATTENTION
    sort: SortKey = SortKey.BLOCKED
    search: str = ""
    shown: int | None = None  # rows in the current view, once counted
    marked: int = 0
    read_only: bool = False
    #: Runs whose receipts are all present (the receipt watcher fills this in).
    ready_to_requeue: int | None = None
    #: The list shows only those (the ready filter).
    ready_only: bool = False
    #: The live change feed's state ("connected", "reconnecting"), when one runs.
    feed_state: str | None = None


class StatusHeader(Static):
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

    def render_state(self) -> Text:
        state = self.state
        style = self.get_component_rich_style
        dim = style("status-header--dim", partial=True)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("Parkbench ", style=style("status-header--parked", partial=True))
        if state.counts is None:
            text.append(" counting…", style=dim)
        else:
            for status in STATUS_ORDER:
                count = state.counts.get(status.value, 0)
                name = "parked" if status is RunStatus.NEEDS_ATTENTION else status.value
                emphasis = "status-header--parked" if status is RunStatus.NEEDS_ATTENTION else (
                    "status-header--count"
                )
                text.append(f" {name} ", style=dim)
                text.append(f"{count:,}", style=style(emphasis, partial=True))
        if state.ready_to_requeue is not None:
            text.append("  ready to requeue ", style=dim)
            text.append(f"{state.ready_to_requeue:,}", style=style("status-header--count"))
        text.append("\n")
        text.append(" view ", style=dim)
        text.append(status_label(state.status))
        if state.shown is not None:
            text.append(f" ({state.shown:,})", style=dim)
        text.append("  sort ", style=dim)
        text.append(SORT_LABELS[state.sort])
        if state.search.strip():
            text.append("  filter ", style=dim)
            text.append(f"“{one_line(state.search, 60)}”")
        if state.ready_only:
            text.append("  only ", style=dim)
            text.append("ready to requeue")
        if state.marked:
            text.append("  marked ", style=dim)
            text.append(f"{state.marked:,}", style=style("status-header--parked", partial=True))
        if state.read_only:
            text.append("  read-only", style=style("status-header--parked", partial=True))
        if state.feed_state in ("reconnecting", "stopped"):
            warn = style("status-header--parked", partial=True)
            paused = "reconnecting…" if state.feed_state == "reconnecting" else "stopped"
            text.append(f"  live updates {paused}", style=warn)
        return text
