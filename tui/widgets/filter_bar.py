"""The filter input: `/` opens it, typing filters live, Enter keeps, Escape clears."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    """The filter's text (:mod:`parkbench.core.filters`): the screen parses it as typed."""

    BINDINGS = [
        Binding("escape", "clear_filter", "Clear filter", id="filter-bar-clear"),
    ]

    class Cleared(Message):
        """Escape: the filter was emptied and the bar gave focus back."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            placeholder='Filter: words, "a phrase", worker: workspace: task: reason: status: #945',
            id=id,
        )

    def on_mount(self) -> None:
        if self.app.is_headless:
            self.cursor_blink = False

    def action_clear_filter(self) -> None:
        self.value = ""
        self.post_message(self.Cleared())
