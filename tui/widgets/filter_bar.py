"""The filter input: `/` opens it, typing filters live, Enter keeps, Escape clears."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    """Search over title, reason, worker and workspace (``RunFilter.search``)."""

    BINDINGS = [
        Binding("escape", "clear_filter", "Clear filter", id="filter-bar-clear"),
    ]

    class Cleared(Message):
        """Escape: the filter was emptied and the bar gave focus back."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="Filter: title, reason, worker, workspace", id=id)

    def on_mount(self) -> None:
        if self.app.is_headless:
            self.cursor_blink = False

    def action_clear_filter(self) -> None:
        self.value = ""
        self.post_message(self.Cleared())
