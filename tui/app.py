"""The Parkbench review app: composes the main screen, applies the keymap, follows changes.

``run_app(store_url, read_only=...)`` is what ``parkbench`` (parkbench.tui.cli) calls. Tests build
:class:`ParkbenchApp` directly with a store, a fixed clock (``now``) and, when they want to
drive live updates themselves, their own change source. ``receipts`` (default: as ``live``)
runs the receipt watcher (:mod:`parkbench.tui.live_receipts`); off, nothing on screen depends on the
file system's timing, which keeps snapshots deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.widgets import HelpPanel
from textual.worker import (
    Worker,
    WorkerCancelled,
    WorkerFailed,
    WorkerState,
    get_current_worker,
)

from parkbench.core.db.engine import from_datetime, system_clock
from parkbench.core.db.info import redact_url
from parkbench.core.db.notify import ChangeFeed, FeedState, change_feed_for
from parkbench.core.errors import ParkbenchError
from parkbench.core.store import Store
from parkbench.tui.action_history import ActionHistory
from parkbench.tui.app_keys import KeysAndHelp
from parkbench.tui.app_settings import SettingsKeeper
from parkbench.tui.live_receipts import WATCHER_GROUP, LiveReceipts, ReceiptsChanged
from parkbench.tui.messages import FeedStateChanged, StoreChanged
from parkbench.tui.opening import open_for_review
from parkbench.tui.screens.confirm_modal import ConfirmModal
from parkbench.tui.screens.main import MainScreen
from parkbench.tui.screens.palette import ParkbenchCommands
from parkbench.tui.settings import settings_path
from parkbench.tui.textsafe import one_line
from parkbench.tui.widgets.run_window import MAX_WINDOW, PAGE

#: How long an exiting app waits for its receipt watcher to finish stopping.
WATCHER_STOP_S = 5.0

Now = Callable[[], datetime | int]


class ParkbenchApp(KeysAndHelp, SettingsKeeper, App[int]):
    CSS_PATH = "styles/app.tcss"
    TITLE = "Parkbench"
    COMMANDS = App.COMMANDS | {ParkbenchCommands}

    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark,f1", "help", "Help", id="help", key_display="?"),
        Binding(
            "ctrl+p",
            "command_palette",
            "Palette",
            id="command-palette",
            priority=True,
            show=False,  # the footer shows the palette key on its own, at the right
            tooltip="Every action, searchable",
        ),
        # Textual's keys panel (palette: "Keys") closes with escape, like every other panel.
        Binding("escape", "hide_help_panel", "Close keys panel", id="keys-panel-close", show=False),
    ]

    def __init__(
        self,
        store: Store,
        *,
        read_only: bool = False,
        now: Now | None = None,
        actor: str | None = None,
        live: bool = True,
        change_feed: ChangeFeed | None = None,
        keymap: dict[str, str] | None = None,
        page_size: int = PAGE,
        window_rows: int = MAX_WINDOW,
        receipts: bool | None = None,
        receipt_watcher_options: dict[str, Any] | None = None,
        settings_file: Path | None = None,
        database: str = "",
        open_note: str = "",
    ) -> None:
        super().__init__()
        #: Which database is open (a path, or a URL without its password), for the help.
        self.database = database
        #: Said once the app is up (e.g. why it opened read-only by itself).
        self.open_note = open_note
        #: Where the theme, the last view and saved filters are kept (run_app: the user
        #: config dir); None: kept for this session only.
        self.load_settings(settings_file)
        saved = self.settings_state.theme
        if saved is not None and saved in self.available_themes:
            self.theme = saved
        self.store = store
        self.read_only = read_only
        self.actor = actor
        self.live = live
        self.receipts = live if receipts is None else receipts
        self.live_receipts = LiveReceipts()
        #: Extra ReceiptWatcher options (e.g. a test's page size and pace).
        self.receipt_watcher_options = dict(receipt_watcher_options or {})
        #: This session's reviewer actions and their results (the history screen, `h`).
        self.action_history = ActionHistory()
        self.change_feed = change_feed
        self._now = now
        self._keymap_override = keymap
        self.keymap_note = ""
        self.applied_keymap: dict[str, str] = {}
        self.main = MainScreen(
            store,
            read_only=read_only,
            actor=actor,
            now_ms=self.now_ms,
            page_size=page_size,
            window_rows=window_rows,
            live_receipts=self.live_receipts,
            initial=self.initial_view(),
        )

    def now_ms(self) -> int:
        """Epoch milliseconds from the injected clock (tests, snapshots) or the system."""
        if self._now is None:
            return system_clock()
        value = self._now()
        return from_datetime(value) if isinstance(value, datetime) else int(value)

    def on_mount(self) -> None:
        if self.is_headless:
            self.animation_level = "none"
        self._apply_keymap()
        self.push_screen(self.main)
        if self.open_note:
            self.notify(
                one_line(self.open_note, 500),
                title="Parkbench",
                severity="warning",
                markup=False,
                timeout=10,
            )
        if self.live:
            self.watch_changes()
        if self.receipts:
            self.watch_receipts()

    # -- live changes ---------------------------------------------------------------
    # The seam for live updates is parkbench.core.db.notify.ChangeFeed: LISTEN/NOTIFY on PostgreSQL,
    # the polled change marker on SQLite (change_feed_for picks), or any feed passed in.

    @work(thread=True, exclusive=True, group="changes", exit_on_error=False)
    def watch_changes(self) -> None:
        feed = self.change_feed or change_feed_for(self.store, on_state=self._post_feed_state)
        self.change_feed = feed
        for changes in feed:  # blocks in this thread; ends when the feed is closed
            self.post_message(StoreChanged(changes.run_ids, changes.resync))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == WATCHER_GROUP and event.state is WorkerState.ERROR:
            error = event.worker.error
            what = (
                f"{error.code}: {error.message} — {error.hint}"
                if isinstance(error, ParkbenchError)
                else f"{type(error).__name__}: {error}"
            )
            self.notify(
                one_line(f"live receipts stopped: {what}", 500),
                title="Parkbench",
                severity="error",
                markup=False,
            )
        if event.worker.group == "changes" and event.state is WorkerState.ERROR:
            error = event.worker.error
            self.main.header.update_state(feed_state="stopped")
            self.notify(
                one_line(f"live updates stopped: {type(error).__name__}: {error}", 500)
                + " (ctrl+r still reloads)",
                title="Parkbench",
                severity="error",
                markup=False,
            )

    def _post_feed_state(self, state: FeedState) -> None:
        self.post_message(FeedStateChanged(state))  # called on the feed's thread

    # -- live receipts ------------------------------------------------------------------
    # The watcher runs on this event loop (an async worker); it does its file checks and
    # database reads in threads. Each batch it publishes becomes one ReceiptsChanged.

    @work(exclusive=True, group=WATCHER_GROUP, exit_on_error=False)
    async def watch_receipts(self) -> None:
        from parkbench.core.watch import ReceiptWatcher  # watchfiles loads only when this runs

        live = self.live_receipts
        # While this app's change feed runs, it tells the watcher what changed (one
        # LISTEN connection per app on PostgreSQL, not two).
        # The first pass runs in the background: counts show as they arrive, the header
        # says "checking receipts…" until it is done, and the ready filter works meanwhile.
        async with ReceiptWatcher(
            self.store,
            listen=not self.live,
            first_pass_in_background=True,
            announce_initial=True,
            **self.receipt_watcher_options,
        ) as watcher:
            live.attach(watcher)
            self.post_message(ReceiptsChanged())
            try:
                async for batch in watcher.batches():
                    live.note(batch)
                    self.post_message(ReceiptsChanged())
            finally:
                live.detach()
                if not get_current_worker().is_cancelled:  # cancelled: the app is closing
                    self.post_message(ReceiptsChanged())

    @on(ReceiptsChanged)
    def _receipts_changed(self, _message: ReceiptsChanged) -> None:
        if self.main.is_mounted and self.main.is_attached:  # (not while closing)
            self.main.receipts_changed()

    @on(StoreChanged)
    def _store_changed(self, message: StoreChanged) -> None:
        watcher = self.live_receipts.watcher
        if watcher is not None:  # it does not listen itself while this feed runs
            if message.resync:
                watcher.nudge()
            else:
                watcher.runs_changed(message.run_ids)
        if self.main.is_mounted:
            self.main.store_changed(message.run_ids, resync=message.resync)

    @on(FeedStateChanged)
    def _feed_state(self, message: FeedStateChanged) -> None:
        if self.main.is_mounted and message.state is not FeedState.CLOSED:
            self.main.header.update_state(feed_state=message.state.value)

    def _stop_feed(self) -> None:
        if self.change_feed is not None:
            self.change_feed.close()

    async def on_unmount(self) -> None:
        self._stop_feed()
        # Textual cancels workers as the app exits but does not wait for them: let the
        # receipt watcher finish stopping (file watches retired, threads joined) first.
        # Each wait ends in WorkerCancelled (the app cancelled it): caught here, or asyncio
        # prints "Task exception was never retrieved" as the terminal is handed back.
        watchers = [worker for worker in self.workers if worker.group == WATCHER_GROUP]
        if watchers:
            # (a watcher that does not stop in time is left to the process exit)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(_stopped(worker) for worker in watchers)), WATCHER_STOP_S
                )

    async def action_quit(self) -> None:
        main = self.main
        if main.is_mounted and main.action_running:
            if main.stop_after_batch.is_set():
                return  # already stopping: the app quits when the batch is written
            question = Text("A bulk action is still running.\n")
            question.append("Stop it after the current batch and quit?", style="bold")
            question.append("\nThe runs not reached yet stay as they are.", style="dim")
            self.push_screen(ConfirmModal(question), self._quit_answered)
            return
        self._stop_feed()
        self.exit(0)

    def _quit_answered(self, stop: bool | None) -> None:
        if not stop:
            return
        self.main.stop_after_batch.set()
        self.notify("Stopping after the current batch, then quitting…", markup=False)
        self._quit_when_idle()

    @work(exclusive=True, group="quitting", exit_on_error=False)
    async def _quit_when_idle(self) -> None:
        actions = [worker for worker in self.workers if worker.group == "actions"]
        await asyncio.gather(*(_stopped(worker) for worker in actions))
        self._stop_feed()
        self.exit(0)

    # -- help ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "hide_help_panel":
            return bool(self.screen.query(HelpPanel))
        return True


async def _stopped(worker: Worker[object]) -> None:
    """Wait for ``worker`` to end, however it ends."""
    with contextlib.suppress(WorkerCancelled, WorkerFailed):
        await worker.wait()


def run_app(store_url: str | None, *, read_only: bool = False) -> int:
    """Open the store at ``store_url`` (None: $PARKBENCH_DB or the default file) and run."""
    store, read_only, note = open_for_review(store_url, read_only=read_only)
    try:
        app = ParkbenchApp(
            store,
            read_only=read_only,
            settings_file=settings_path(),
            database=redact_url(str(store.url)),
            open_note=note,
        )
        result = app.run()
    finally:
        store.close()
    return exit_status(app.return_code, result)


def exit_status(return_code: int | None, result: int | None) -> int:
    """The process's exit status: an unhandled exception (Textual has printed its
    traceback and set ``return_code`` to 1) must never end as a silent 0."""
    if return_code:
        return return_code
    return 0 if result is None else int(result)
