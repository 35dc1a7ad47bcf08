"""A footer that always fits its width: it leaves out the least needed keys first.

Textual's ``Footer`` lays every key out in one row and docks the palette key over the
right end; at 80 columns the row ran under it ("▏^p Paletted") and dropped quit and help.
This one composes what ``Footer`` would, then keeps keys in order of need until the row
is full. Everything left out is still bound, and listed by the help screen (``?``).
"""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer

#: Actions in the order they give way when the footer is too narrow (first: dropped first).
#: Actions not listed give way before all of these; quit and help never do.
GIVES_WAY: tuple[str, ...] = (
    "jump",
    "copy",
    "reverse_sort",
    "view",
    "clear_marks",
    "mark_all",
    "cycle_sort",
    "toggle_mark",
    "clear_filter",
    "toggle_ready",
    "release",
    "cycle_status",
    "filter",
    "fail",
    "requeue",
    "command_palette",
)
KEPT = frozenset({"quit", "help"})


def _key_of(widget: Widget) -> tuple[str, int] | None:
    """(action, cells) of a footer key: key, space, description, a 1-cell margin. (Read by
    attribute: Textual exports ``Footer`` but not its key widget's class.)"""
    action = getattr(widget, "action", None)
    display = getattr(widget, "key_display", None)
    if not isinstance(action, str) or not isinstance(display, str):
        return None
    description = getattr(widget, "description", "") or ""
    return action, cell_len(display) + (cell_len(description) + 1 if description else 0) + 1


def _rank(action: str) -> int:
    if action in KEPT:
        return len(GIVES_WAY) + 1
    return GIVES_WAY.index(action) + 1 if action in GIVES_WAY else 0


class FitFooter(Footer):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(compact=True, id=id)
        self._laid_out_width = 0

    def compose(self) -> ComposeResult:
        keys: list[Widget] = list(super().compose())
        width = self.size.width or self.app.size.width
        self._laid_out_width = width
        yield from fit_keys(keys, width)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._laid_out_width:
            self.call_after_refresh(self.recompose)


def fit_keys(keys: list[Widget], width: int) -> list[Widget]:
    """``keys`` without the least needed ones, so the rest fit in ``width`` cells."""
    found = {i: info for i, key in enumerate(keys) if (info := _key_of(key)) is not None}
    # The palette key is docked right, with a border: one cell more.
    cells = {
        i: size + (1 if keys[i].has_class("-command-palette") else 0)
        for i, (_, size) in found.items()
    }
    total = sum(cells.values())
    dropped: set[int] = set()
    for index in sorted(found, key=lambda i: _rank(found[i][0])):
        if total <= width or found[index][0] in KEPT:
            break
        dropped.add(index)
        total -= cells[index]
    for index in sorted(dropped, key=lambda i: -_rank(found[i][0])):  # room for a short one?
        if total + cells[index] <= width:
            dropped.discard(index)
            total += cells[index]
    return [key for i, key in enumerate(keys) if i not in dropped]
