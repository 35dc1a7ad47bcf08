"""The review screen's detail pane follows the cursor: once the cursor rests on a run, its
detail (events, notes, receipts on disk) is read in a worker and shown.

Mixed into :class:`parkbench.tui.screens.main.MainScreen` like its actions and workers.
Handlers use Textual's ``on_<message>`` names (``@on`` needs a message pump class).
"""

from __future__ import annotations

from collections.abc import Callable

from textual.timer import Timer

from parkbench.core.records import RunDetail
from parkbench.tui.messages import DetailLoaded
from parkbench.tui.widgets.detail_pane import DetailPane
from parkbench.tui.widgets.run_list import RunList

#: Seconds the cursor must rest on a run before its detail (events, disk checks) loads.
DETAIL_DELAY_S = 0.05


class DetailFollow:
    """Loads the highlighted run's detail into the pane, after :data:`DETAIL_DELAY_S`."""

    runs: RunList
    detail: DetailPane
    _detail_timer: Timer | None

    # Provided by MainScreen and its other parts.
    set_timer: Callable[..., Timer]
    sync_bindings: Callable[[], None]
    load_detail: Callable[[int], None]
    live_detail: Callable[[RunDetail], RunDetail]

    def on_run_list_highlighted(self, event: RunList.Highlighted) -> None:
        event.stop()
        if event.run is None:
            window = self.runs.window
            empty = window.total_known and window.total == 0
            self.detail.show_placeholder("No run selected." if empty else "loading…")
        else:
            # The pane changes once the cursor rests: repainting it on every step of a held
            # key would re-lay-out the screen each time (the pane's height follows its text).
            self.schedule_detail(DETAIL_DELAY_S)
        self.sync_bindings()

    def on_run_list_detail_wanted(self, event: RunList.DetailWanted) -> None:
        event.stop()
        self.schedule_detail(0)  # now, not after the cursor rests
        self.detail.focus()

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        row = self.runs.highlighted
        if row is None or row.id != message.run_id:
            return
        if message.detail is not None:
            self.detail.show(self.live_detail(message.detail))
        elif message.error is not None:
            self.detail.show_placeholder(f"{message.error.code}: {message.error.message}")

    def schedule_detail(self, delay: float) -> None:
        """Load the highlighted run's detail after ``delay`` seconds (0: now), replacing a
        load already scheduled."""
        if self._detail_timer is not None:
            self._detail_timer.stop()
            self._detail_timer = None
        if delay <= 0:
            self._load_highlighted()
        else:
            self._detail_timer = self.set_timer(delay, self._load_highlighted)

    def _load_highlighted(self) -> None:
        self._detail_timer = None
        row = self.runs.highlighted
        if row is not None:
            self.load_detail(row.id)
