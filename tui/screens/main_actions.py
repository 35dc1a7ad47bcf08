"""The review screen's actions: requeue, fail, release on the cursor's run or the marked
set, and mark all. Mixed into :class:`parkbench.tui.screens.main.MainScreen` (like its
store workers): handlers use Textual's ``on_<message>`` names (``@on`` needs a message pump
class). The dialog lists the runs by title; titles the list has not loaded are read by a
worker first. Bulk actions run a batch at a time (see ``stop_after_batch``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.worker import WorkerState

from parkbench.core.lifecycle import Action
from parkbench.core.records import Expectation, RunRow
from parkbench.core.store import Store, default_actor
from parkbench.tui.action_history import HistoryEntry
from parkbench.tui.messages import (
    ActionDone,
    ActionProgress,
    ActionRowsLoaded,
    MatchesCounted,
    MatchesFetched,
)
from parkbench.tui.screens.actions import (
    ACTION_LABELS,
    REASONS_SCANNED,
    action_modal,
    action_title,
    mark_all_question,
    summarize,
    targets,
    view_actions,
)
from parkbench.tui.screens.confirm_modal import ConfirmModal
from parkbench.tui.screens.reason_modal import LISTED, Reply
from parkbench.tui.widgets.action_progress import ActionProgressBar
from parkbench.tui.widgets.run_list import RunList

#: The binding that stops a running bulk action between batches.
STOP_BINDING = "action-stop"


class ReviewActions:
    """Provided by MainScreen: the list, the mode, the workers and the screen's plumbing."""

    runs: RunList
    store: Store
    progress: ActionProgressBar
    sync_bindings: Callable[[], None]
    read_only: bool
    actor: str | None
    now_ms: Callable[[], int]
    stop_after_batch: threading.Event
    _action_request: int
    _pending_action: tuple[int, Action, dict[int, Expectation], int, dict[int, RunRow]] | None
    _mark_request: int
    #: The pending mark-all request inverts the marks instead.
    _inverting: bool = False
    app: Any
    notify: Callable[..., None]
    run_action: Callable[..., object]
    load_action_rows: Callable[..., object]
    count_matches: Callable[..., object]
    fetch_matches: Callable[..., object]
    store_changed: Callable[..., None]
    load_status_counts: Callable[[], object]

    def targets(self, action: Action) -> tuple[dict[int, Expectation], int]:
        """The runs ``action`` would touch as the reviewer saw them, and how many marked
        runs it skips (see :func:`parkbench.tui.screens.actions.targets`)."""
        return targets(action, self.runs.marks, self.runs.highlighted)

    def marking_applies(self) -> bool:
        """Marks are for actions: offered where this view has one to take."""
        return not self.read_only and bool(view_actions(self.runs.view_query.status))

    def action_requeue(self) -> None:
        self.start_action(Action.REQUEUE)

    def action_fail(self) -> None:
        self.start_action(Action.FAIL)

    def action_release(self) -> None:
        self.start_action(Action.RELEASE)

    @property
    def action_running(self) -> bool:
        return any(
            worker.group == "actions" and worker.state in (WorkerState.PENDING, WorkerState.RUNNING)
            for worker in self.app.workers
        )

    def start_action(self, action: Action) -> None:
        if self.read_only:
            return
        expected, skipped = self.targets(action)
        if not expected:
            return
        rows = {row.id: row for row in self.runs.window.rows if row.id in expected}
        self._action_request += 1
        self._pending_action = (self._action_request, action, expected, skipped, rows)
        listed = list(expected)[:LISTED]
        # A requeue of several runs shows the block reasons it answers: counted by a worker.
        # At most REASONS_SCANNED of them: the prompt says when it counted only the first.
        reasons_of = (
            tuple(expected)[:REASONS_SCANNED]
            if action is Action.REQUEUE and len(expected) > 1
            else ()
        )
        missing = tuple(run_id for run_id in listed if run_id not in rows)
        if missing or reasons_of:
            # Marked runs never scrolled into view: their titles are read first (a worker).
            self.load_action_rows(self._action_request, missing, reasons_of)
        else:
            self._open_action_modal(self._action_request, {})

    def on_action_rows_loaded(self, message: ActionRowsLoaded) -> None:
        self._open_action_modal(message.request, message.rows, message.reasons)

    def _open_action_modal(
        self,
        request: int,
        loaded: dict[int, RunRow],
        reasons: tuple[tuple[str, int], ...] | None = None,
    ) -> None:
        pending = self._pending_action
        if pending is None or pending[0] != request:
            return  # superseded by another key press
        self._pending_action = None
        _, action, expected, skipped, rows = pending
        rows = {**rows, **loaded}
        modal = action_modal(
            action, expected, skipped, rows, marked=bool(self.runs.marks), reasons=reasons
        )

        def confirmed(reply: Reply | None) -> None:
            if reply is not None:
                self.stop_after_batch.clear()
                keys = getattr(self.app, "binding_keys", lambda _id: ())(STOP_BINDING)
                title = action_title(action, expected, bool(self.runs.marks))
                self.progress.begin(title, len(expected), keys[0] if keys else "")
                self.run_action(action, expected, reply.text, reply.priority)
                self.sync_bindings()

        self.app.push_screen(modal, callback=confirmed)

    def on_action_progress(self, message: ActionProgress) -> None:
        """A batch landed: count it, unmark its runs, refresh the header's counts. The list
        follows once, when the action ends: re-anchoring it on every batch would reload the
        page under the cursor while the reviewer moves it."""
        done = sum(1 for result in message.batch if result.ok)
        self.progress.add(done, len(message.batch) - done, message.reached)
        self.runs.unmark(result.run_id for result in message.batch)
        self.load_status_counts()

    def on_action_done(self, message: ActionDone) -> None:
        self.progress.end()
        if not message.results:
            # It failed before its first batch landed: the error was said (CoreFailed),
            # and there is nothing done to summarise or keep.
            self.sync_bindings()
            return
        self.app.action_history.add(
            HistoryEntry.of(
                message.action,
                message.results,
                reason=message.reason,
                actor=self.actor or default_actor(),
                started_ms=message.started_ms,
                finished_ms=self.now_ms(),
                requested=message.total or len(message.results),
                cancelled=message.stopped,
            )
        )
        not_reached = max(0, message.total - len(message.results)) if message.stopped else 0
        summary, severity = summarize(message.action, message.results, not_reached=not_reached)
        self.notify(
            summary,
            title=ACTION_LABELS[message.action][0],
            severity=severity,
            markup=False,
            timeout=8,
        )
        self.runs.unmark(result.run_id for result in message.results)
        self.store_changed(frozenset(result.run_id for result in message.results), resync=False)
        self.sync_bindings()

    def stop_available(self) -> bool:
        return self.progress.running and not self.stop_after_batch.is_set()

    def action_stop_action(self) -> None:
        """Stop the running bulk action once its current batch is written."""
        if not self.stop_available():
            return
        self.stop_after_batch.set()
        self.progress.stopping()
        self.sync_bindings()

    def last_skipped(self) -> HistoryEntry | None:
        """The session's last action, if it skipped runs (the palette offers to list them)."""
        latest = self.app.action_history.latest
        return latest if latest is not None and latest.failed else None

    def show_skipped(self) -> None:
        """The skipped runs are listed, with why, in the action history (its newest entry)."""
        self.action_history()

    def action_history(self) -> None:
        """The action history screen: this session's actions and their results."""
        from parkbench.tui.screens.history import HistoryScreen

        self.app.push_screen(
            HistoryScreen(
                self.store,
                self.app.action_history,
                read_only=self.read_only,
                actor=self.actor,
                now_ms=self.now_ms,
            )
        )

    def action_mark_all(self) -> None:
        if not self.marking_applies():
            return
        self._mark_request += 1
        self._inverting = False
        self.count_matches(self.runs.view_query, self._mark_request)

    def action_invert_marks(self) -> None:
        """Mark-all's path (count, confirm, then a worker reads every run in view by id),
        the marks inverted in that worker: a view of 100,000 runs never loads on screen."""
        if not self.marking_applies():
            return
        self._mark_request += 1
        self._inverting = True
        self.count_matches(self.runs.view_query, self._mark_request)

    def on_matches_counted(self, message: MatchesCounted) -> None:
        query = self.runs.view_query
        if message.generation != self._mark_request:
            return
        if message.count == 0:
            self.notify("No runs match this view: nothing to mark.", markup=False)
            return

        inverting = self._inverting

        def answered(yes: bool | None) -> None:
            if yes:
                marks = dict(self.runs.marks) if inverting else None
                self.fetch_matches(query, message.generation, marks)

        question = mark_all_question(message.count, query, invert=inverting)
        self.app.push_screen(ConfirmModal(question), answered)

    def on_matches_fetched(self, message: MatchesFetched) -> None:
        if message.generation != self._mark_request:
            return
        if message.replace:
            self.runs.replace_marks(message.expected)
        else:
            self.runs.set_marks(message.expected)
        count = len(message.expected)
        now = " now" if message.replace else ""
        self.notify(f"{count:,} run{'s' if count != 1 else ''}{now} marked", markup=False)
