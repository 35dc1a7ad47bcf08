"""The review screen's live receipts: what the receipt watcher knows, on screen at once.

Mixed into :class:`parkbench.tui.screens.main.MainScreen` (like its store workers). The app
runs the watcher (:mod:`parkbench.tui.live_receipts`) and calls
:meth:`LiveReceiptsView.receipts_changed` once per coalesced batch. Everything here reads
the watcher's in-memory state on the UI thread: no disk I/O, no store call. For runs the
watcher has checked, its state wins over the list's own disk checks and the detail pane's
(either may have been read before the change).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import RunDetail, RunRow
from parkbench.tui.live_receipts import LiveReceipts
from parkbench.tui.widgets.detail_pane import DetailPane
from parkbench.tui.widgets.run_list import RunList
from parkbench.tui.widgets.run_window import ViewQuery
from parkbench.tui.widgets.status_header import StatusHeader


class LiveReceiptsView:
    """Receipt counts, the detail pane's receipts, the header's "ready to requeue" count
    and the ready filter (binding ``filter-ready``), kept current from the watcher."""

    live: LiveReceipts
    runs: RunList
    detail: DetailPane
    header: StatusHeader

    # Provided by MainScreen.
    set_query: Callable[..., None]
    sync_bindings: Callable[[], None]

    def receipts_changed(self) -> None:
        """Show what the watcher noted since the last call; the cursor stays where it is."""
        live = self.live
        pending, ready_changed = live.take()
        window, cached = self.runs.window, self.runs.receipts
        # Rows on screen, and rows the list counted before (it would show that count again
        # when the run comes back into view, e.g. under the ready filter).
        counts = {
            run_id: count
            for run_id in pending
            if (window.index_of(run_id) is not None or run_id in cached)
            and (count := live.counts(run_id)) is not None
        }
        if counts:
            self.runs.set_receipts(counts)
        shown = self.detail.detail
        highlighted = self.runs.highlighted
        if (
            shown is not None
            and shown.run.id in pending
            and highlighted is not None
            and highlighted.id == shown.run.id
        ):
            updated = self.live_detail(shown)
            if updated is not shown:
                self.detail.show(updated)
        self.header.update_state(ready_to_requeue=live.ready_count, checking=live.checking)
        query = self.runs.view_query
        if query.run_ids is not None and query.cause is None and ready_changed:
            self.set_query(replace(query, run_ids=self._ready_ids()), keep_cursor=True)
        self.sync_bindings()

    # -- the list's and the pane's own reads, corrected -----------------------------------

    def rows_to_check(self, rows: tuple[RunRow, ...]) -> tuple[RunRow, ...]:
        """Answer from the watcher the rows it knows; the rest still need a disk check."""
        known = {row.id: c for row in rows if (c := self.live.counts(row.id)) is not None}
        if known:
            self.runs.set_receipts(known)
        return tuple(row for row in rows if row.id not in known)

    def live_counts(self, counts: dict[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
        """A disk check's counts, with the watcher's where it knows better."""
        return {run_id: self.live.counts(run_id) or count for run_id, count in counts.items()}

    def live_detail(self, detail: RunDetail) -> RunDetail:
        """``detail`` with the watcher's receipt states, when it watches that run."""
        checks = self.live.checks(detail.run.id)
        if checks is None or [(c.state, c.detail) for c in checks] == [
            (c.state, c.detail) for c in detail.artifacts
        ]:
            return detail
        return replace(detail, artifacts=checks)

    # -- the ready filter -------------------------------------------------------------------

    def ready_filter_available(self) -> bool:
        """Offered while the watcher runs (and always to turn the filter off)."""
        return self.live.running or self.runs.view_query.run_ids is not None

    def action_toggle_ready(self) -> None:
        """Only the parked runs whose receipts are all present; again: every run."""
        query = self.runs.view_query
        if query.run_ids is not None:
            self.set_query(replace(query, run_ids=None, cause=None), keep_cursor=True)
        elif self.live.running:
            ready = replace(query, status=RunStatus.NEEDS_ATTENTION, run_ids=self._ready_ids())
            self.set_query(ready)

    def _ready_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self.live.ready_ids()))

    @staticmethod
    def ready_label(query: ViewQuery) -> str:
        return (
            "Show every parked run" if query.run_ids is not None else "Show runs ready to requeue"
        )
