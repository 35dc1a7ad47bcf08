"""The run list: a line-API ``ScrollView`` that paints only the visible rows.

The virtual canvas is one header line plus one line per run (``total`` from the count), so
the scrollbar is honest about 100,000 runs while only a bounded window of rows is held.
``render_line`` maps a screen line to a row index, takes the row from the window and the
line from :class:`~parkbench.tui.widgets.run_painter.RowPainter` (an LRU cache of
``Strip``s: Toolong's layering). A row not loaded yet paints as a
placeholder and asks for its page: the widget posts :class:`RunList.FetchWanted` and the
screen answers with :meth:`apply_rows` once a worker has read it (data down, messages up).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from parkbench.core.records import Expectation, RunRow
from parkbench.tui.widgets.run_marks import RunMarks
from parkbench.tui.widgets.run_painter import RowPainter
from parkbench.tui.widgets.run_window import (
    MAX_WINDOW,
    PAGE,
    Fetch,
    FetchKind,
    Loaded,
    RunWindow,
    ViewQuery,
)

#: Seconds between repaints of the relative times ("5m ago") on a live clock.
TICK_S = 15.0


class RunList(ScrollView, can_focus=True):
    """Runs as rows; the cursor row is "highlighted", marked rows carry a dot."""

    BINDINGS = [
        Binding("down,j", "cursor_down", "Down", show=False, id="list-down"),
        Binding("up,k", "cursor_up", "Up", show=False, id="list-up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="list-page-down"),
        Binding("pageup", "page_up", "Page up", show=False, id="list-page-up"),
        Binding("home,g", "first", "First", show=False, id="list-first"),
        Binding("end,G", "last", "Last", show=False, id="list-last"),
        Binding(
            "space",
            "toggle_mark",
            "Mark",
            id="run-mark",
            tooltip="Mark or unmark the run, then go to the next",
        ),
        Binding(
            "shift+down",
            "mark_range(1)",
            "Mark down",
            show=False,
            id="run-mark-down",
            tooltip="Mark from here down (back up: unmark again)",
        ),
        Binding(
            "shift+up",
            "mark_range(-1)",
            "Mark up",
            show=False,
            id="run-mark-up",
            tooltip="Mark from here up (back down: unmark again)",
        ),
        Binding("u", "clear_marks", "Unmark all", id="run-clear-marks"),
        Binding(
            "enter",
            "open_detail",
            "Detail",
            id="run-open-detail",
            show=False,
            tooltip="Focus the run's detail pane (shift+tab goes back)",
        ),
    ]

    COMPONENT_CLASSES = {
        "run-list--header",
        "run-list--cursor",
        "run-list--marked",
        "run-list--dim",
        "run-list--missing",
        "run-list--complete",
        "run-list--status",
    }

    class FetchWanted(Message):
        """Rows are needed: the screen runs ``fetch`` in a worker."""

        def __init__(self, fetch: Fetch) -> None:
            self.fetch = fetch
            super().__init__()

    class ReceiptsWanted(Message):
        """Visible rows whose receipts have not been checked on disk yet."""

        def __init__(self, rows: tuple[RunRow, ...]) -> None:
            self.rows = rows
            super().__init__()

    class Highlighted(Message):
        """The cursor is on another run (or the same run changed); None: no run."""

        def __init__(self, run: RunRow | None) -> None:
            self.run = run
            super().__init__()

    class DetailWanted(Message):
        """Enter on a run: the screen focuses its detail."""

    class MarksChanged(Message):
        def __init__(self, count: int) -> None:
            self.count = count
            super().__init__()

    def __init__(
        self,
        *,
        now_ms: Callable[[], int],
        page: int = PAGE,
        max_rows: int = MAX_WINDOW,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.now_ms = now_ms
        self.window = RunWindow(page=page, max_rows=max_rows)
        self._max_rows = self.window.max_rows
        self.cursor = 0
        self.marks = RunMarks()
        self.receipts: LRUCache[int, tuple[int, int]] = LRUCache(20_000)
        self.marking_enabled = True
        self.painter = RowPainter(self, now_ms)
        self._asked: Fetch | None = None
        self._asked_receipts: tuple[int, ...] = ()
        self._stale_receipts: set[int] = set()
        self._highlight_key: object = None
        self._want_end = False
        self._tick = 0

    # -- reading --------------------------------------------------------------------

    @property
    def view_query(self) -> ViewQuery:
        """What the list shows (status, search, sort). Not ``query``: that is Textual's
        DOM query, which its double-click "select all" calls."""
        return self.window.query

    @property
    def highlighted(self) -> RunRow | None:
        return self.window.row_at(self.cursor)

    def visible_range(self) -> tuple[int, int]:
        top = round(self.scroll_offset.y)
        return top, top + max(0, self.size.height - 1)

    def visible_rows(self) -> list[RunRow]:
        lo, hi = self.visible_range()
        return [row for i in range(lo, hi) if (row := self.window.row_at(i)) is not None]

    # -- data down ----------------------------------------------------------------------

    def show_query(self, query: ViewQuery) -> None:
        """Start over on ``query`` (a new filter, status): the cursor goes to the top."""
        self.begin(self.window.reset(query))

    def begin(self, fetch: Fetch, *, ask: bool = True) -> None:
        """Show a fresh query whose first page is ``fetch`` (from ``window.reset``);
        ``ask=False`` when the caller already has it on its way."""
        self.cursor = 0
        self._asked = None
        self._update_virtual_size()
        self.refresh()
        self.scroll_to(y=0, animate=False, force=True)
        if ask:
            self.post_message(self.FetchWanted(fetch))

    def reanchor(self, query: ViewQuery | None = None, anchor: RunRow | None = None) -> None:
        """Reload around the cursor row (after a change, or under a new sort order), or
        around ``anchor`` (a jump to a run by id): the cursor lands on it if it is listed."""
        fetch = self.window.reanchor(query or self.window.query, anchor or self.highlighted)
        self._asked = None
        if fetch.kind is FetchKind.START:
            self.cursor = 0
        self.post_message(self.FetchWanted(fetch))

    def apply_rows(self, loaded: Loaded) -> None:
        screen_offset = self.cursor - round(self.scroll_offset.y)
        if not self.window.apply(loaded):
            return
        if self._asked is not None and self._asked == loaded.fetch:
            self._asked = None
        self._update_virtual_size()
        if loaded.cursor is not None:
            self.cursor = loaded.cursor
            top = max(0, self.cursor - max(0, screen_offset))
            self.scroll_to(y=top, animate=False, force=True)
        if loaded.fetch.kind is FetchKind.END and self._want_end:
            self._want_end = False
            self.move_cursor(self.window.total - 1)
        self.cursor = max(0, min(self.cursor, self.window.total - 1))
        self._scroll_cursor_into_view()
        self.refresh()
        self._after_change()

    def fetch_failed(self) -> None:
        """A page could not be read (the error is shown): let the next move ask again."""
        self.window.replacing = False
        self._asked = None

    def set_total(self, generation: int, total: int) -> None:
        if self.window.set_total(total, generation):
            self.cursor = max(0, min(self.cursor, self.window.total - 1))
            self._update_virtual_size()
            self.refresh()
            self._after_change()

    def set_receipts(self, counts: dict[int, tuple[int, int]]) -> None:
        for run_id, count in counts.items():
            self.receipts.discard(run_id)  # LRUCache.set never replaces a value
            self.receipts[run_id] = count
            self._stale_receipts.discard(run_id)
        self.refresh()

    def forget_receipts(self) -> None:
        """Receipts may have changed on disk: check the visible ones again. The counts
        shown stay until the new ones arrive (no flicker); rows off screen are dropped."""
        visible = {row.id for row in self.visible_rows()}
        kept = {rid: self.receipts[rid] for rid in visible if rid in self.receipts}
        self.receipts.clear()
        self._stale_receipts = set(kept)
        for run_id, count in kept.items():
            self.receipts[run_id] = count
        self._asked_receipts = ()

    def set_marks(self, expected: dict[int, Expectation]) -> None:
        self.marks.update(expected)
        self._marks_changed()

    def replace_marks(self, expected: dict[int, Expectation]) -> None:
        self.marks.replace(expected)
        self._marks_changed()

    def unmark(self, run_ids: Iterable[int]) -> None:
        for run_id in run_ids:
            self.marks.pop(run_id, None)
        self._marks_changed()

    # -- actions ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_mark", "mark_range"):
            return self.marking_enabled and self.highlighted is not None
        if action == "clear_marks":
            return self.marking_enabled and bool(self.marks)
        if action == "open_detail":
            return self.highlighted is not None
        return True

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + max(1, self.size.height - 2))

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor - max(1, self.size.height - 2))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        window = self.window
        if window.total_known and window.row_at(window.total - 1) is not None:
            self.move_cursor(window.total - 1)
            return
        self._want_end = True
        fetch = window.jump_to_end()
        self._asked = fetch
        self.post_message(self.FetchWanted(fetch))

    def action_open_detail(self) -> None:
        if self.highlighted is not None:
            self.post_message(self.DetailWanted())

    def action_toggle_mark(self) -> None:
        """Mark or unmark the cursor's run and go on to the next (space, space, ...)."""
        row = self.highlighted
        if row is None or not self.marking_enabled:
            return
        self.marks.toggle(row)
        self._marks_changed()
        self.move_cursor(self.cursor + 1)

    def action_mark_range(self, step: int) -> None:
        """Move the cursor by ``step`` marking the way (shift+down/up): the range from
        where it began to the cursor is marked; moving back towards its start unmarks
        what the range added (marks made before it stay)."""
        row = self.highlighted
        if row is None or not self.marking_enabled:
            return
        target = max(0, min(self.cursor + step, self.window.total - 1))
        following = self.window.row_at(target)
        if following is None:  # not loaded yet: the next press gets it
            return
        span = self.marks.extend_span(self.cursor, target, row, following)
        self.move_cursor(target)
        self.marks.span = span
        self._marks_changed()

    def action_clear_marks(self) -> None:
        self.marks.clear()
        self._marks_changed()

    def move_cursor(self, index: int) -> None:
        self.marks.span = None  # any move but a shift+arrow ends a range (it sets it again)
        index = max(0, min(index, self.window.total - 1))
        if index == self.cursor:
            return
        old, self.cursor = self.cursor, index
        if not self._scroll_cursor_into_view():  # a scroll repaints the whole list anyway
            self._refresh_row(old)
            self._refresh_row(index)
        self._after_change()

    def _refresh_row(self, index: int) -> None:
        """Repaint one row if it is on screen. (A region below the list would make the
        compositor repaint whatever lies there too: the detail pane, the screen.)"""
        y = index + 1 - round(self.scroll_offset.y)
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    # -- painting ---------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width, query, painter = self.size.width, self.window.query, self.painter
        if y == 0:
            return painter.header(query, width)
        index = round(self.scroll_offset.y) + y - 1
        window = self.window
        if index >= window.total:
            if index == 0 and window.total_known:
                return painter.message("  No runs match this view.", width)
            return painter.blank(width)
        row = window.row_at(index)
        if row is None:
            return painter.message("  …", width, dim=True)
        return painter.row(
            row,
            query,
            width,
            on_cursor=index == self.cursor,
            marked=row.id in self.marks,
            receipts=self.receipts.get(row.id),
            tick=self._tick,
        )

    def notify_style_update(self) -> None:
        self.painter.forget_styles()
        super().notify_style_update()

    def on_mount(self) -> None:
        self.set_interval(TICK_S, self._next_tick)

    def on_resize(self, _event: events.Resize) -> None:
        # The window must hold a screen plus a page either side, or trimming one edge
        # would ask for the other again, forever.
        self.window.max_rows = max(self._max_rows, self.size.height + 3 * self.window.page)
        self._update_virtual_size()
        self._after_change()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        # ScrollView's own watcher, except that the scrollbar only repaints when its thumb
        # moves by at least an eighth of a cell (its drawing step): over 100,000 rows a
        # one-row scroll rarely moves it, and repainting it doubled the cost of a scroll.
        if self.show_vertical_scrollbar and self._thumb_step(old_value) != self._thumb_step(
            new_value
        ):
            self.vertical_scrollbar.position = new_value
        if round(old_value) != round(new_value):
            self.refresh(self.size.region)
        if self.is_mounted:
            self._after_change()

    def _thumb_step(self, position: float) -> int:
        track = max(1, self.size.height)
        return int(position * track * 8 / max(1, self.virtual_size.height))

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.move_cursor(round(self.scroll_offset.y) + event.y - 1)

    # -- plumbing ---------------------------------------------------------------------

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self.size.width, self.window.total + 1)

    def _scroll_cursor_into_view(self) -> bool:
        """Scroll just enough to show the cursor row; True if it scrolled."""
        top = round(self.scroll_offset.y)
        rows = max(1, self.size.height - 1)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, force=True)
            return True
        if self.cursor >= top + rows:
            self.scroll_to(y=self.cursor - rows + 1, animate=False, force=True)
            return True
        return False

    def _after_change(self) -> None:
        """Ask for rows and receipts the screen now shows; say where the cursor is."""
        lo, hi = self.visible_range()
        fetch = self.window.plan(lo, hi)
        if fetch is not None and fetch != self._asked:
            self._asked = fetch
            self.post_message(self.FetchWanted(fetch))
        unchecked = tuple(
            row
            for row in self.visible_rows()
            if row.contract.required
            and (row.id not in self.receipts or row.id in self._stale_receipts)
        )
        ids = tuple(row.id for row in unchecked)
        if ids and ids != self._asked_receipts:
            self._asked_receipts = ids
            self.post_message(self.ReceiptsWanted(unchecked))
        row = self.highlighted
        window = self.window
        key: object = (
            (row.id, row.version)
            if row is not None
            else ("empty" if window.total_known and window.total == 0 else "loading")
        )
        if key != self._highlight_key:
            self._highlight_key = key
            self.post_message(self.Highlighted(row))

    def _marks_changed(self) -> None:
        self.refresh()
        self.post_message(self.MarksChanged(len(self.marks)))

    def _next_tick(self) -> None:
        self._tick += 1
        self.refresh()
