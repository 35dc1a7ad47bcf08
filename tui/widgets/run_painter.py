"""How the run list turns a screen line into a ``Strip``: layout, styles and a strip cache.

Split from :class:`parkbench.tui.widgets.run_list.RunList`, which owns the cursor, the
scroll and the marks; the painter owns what a line looks like. Layouts are worked out once
per (width, view), styles once per style change, and a row's strip once per (row version,
width, mark, receipts, clock tick): a cursor move re-styles two cached strips instead of
laying out two rows again (Toolong's layering).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.strip import Strip
from textual.widget import Widget

from parkbench.core.records import RunRow
from parkbench.tui.widgets.run_columns import (
    Column,
    RowStyles,
    header_segments,
    layout,
    row_segments,
)
from parkbench.tui.widgets.run_window import ViewQuery
from parkbench.tui.widgets.theme_styles import component_style

#: Rendered rows kept (a few screens' worth at any width).
STRIPS_CACHED = 2048


class RowPainter:
    """Paints the list's header and rows for ``widget`` (its component classes and size)."""

    def __init__(self, widget: Widget, now_ms: Callable[[], int]) -> None:
        self.widget = widget
        self.now_ms = now_ms
        self._strips: LRUCache[tuple[object, ...], Strip] = LRUCache(STRIPS_CACHED)
        self._styles: dict[bool, RowStyles] = {}
        self._columns: tuple[Column, ...] = ()
        self._columns_key: tuple[object, ...] = ()

    def forget_styles(self) -> None:
        """The theme or CSS changed: every strip and style is stale."""
        self._strips.clear()
        self._styles.clear()

    def header(self, query: ViewQuery, width: int) -> Strip:
        style = self.widget.get_component_rich_style("run-list--header")
        columns = self._layout(query, width)
        return Strip(header_segments(columns, style)).adjust_cell_length(width, style)

    def message(self, text: str, width: int, *, dim: bool = False) -> Strip:
        """A line that is no row: "No runs match", or the placeholder of an unloaded row."""
        base = self.styles(False).base
        style = base + self.styles(False).dim if dim else base
        line = Text(text, style=style)
        segments = list(line.render(self.widget.app.console, end=""))
        return Strip(segments, line.cell_len).adjust_cell_length(width, base)

    def blank(self, width: int) -> Strip:
        return Strip.blank(width, self.styles(False).base)

    def row(
        self,
        row: RunRow,
        query: ViewQuery,
        width: int,
        *,
        on_cursor: bool,
        marked: bool,
        receipts: tuple[int, int] | None,
        tick: int,
    ) -> Strip:
        columns = self._layout(query, width)
        # Cached without a background; the cursor's or the plain one goes on last.
        key = (row.id, row.version, width, marked, receipts, tick)
        strip = self._strips.get(key)
        if strip is None:
            segments = row_segments(
                row,
                columns,
                now_ms=self.now_ms(),
                marked=marked,
                receipts=receipts,
                styles=replace(self.styles(False), base=Style()),
            )
            strip = Strip(segments).adjust_cell_length(width, Style())
            self._strips[key] = strip
        return strip.apply_style(self.styles(on_cursor).base)

    def styles(self, on_cursor: bool) -> RowStyles:
        """Styles from the CSS, resolved once per style change (``rich_style`` walks the
        ancestors, too slow to ask for on every line)."""
        styles = self._styles.get(on_cursor)
        if styles is None:
            widget = self.widget
            styles = self._styles[on_cursor] = RowStyles(
                base=widget.get_component_rich_style("run-list--cursor")
                if on_cursor
                else widget.rich_style,
                dim=component_style(widget, "run-list--dim"),
                marked=component_style(widget, "run-list--marked"),
                missing=component_style(widget, "run-list--missing"),
                complete=component_style(widget, "run-list--complete"),
                status=component_style(widget, "run-list--status"),
            )
        return styles

    def _layout(self, query: ViewQuery, width: int) -> tuple[Column, ...]:
        status, sort, reverse = query.status, query.sort, query.reverse
        key = (width, status is None, status, sort, reverse)
        if key != self._columns_key:
            parked = status is not None and status.value == "needs_attention"
            self._columns = layout(
                width, show_status=status is None, parked=parked, sort=sort, reverse=reverse
            )
            self._columns_key = key
            self._strips.clear()
        return self._columns
