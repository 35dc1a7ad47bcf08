"""The app's remembered settings (:mod:`parkbench.tui.settings`), kept current and saved.

Mixed into :class:`parkbench.tui.app.ParkbenchApp`. The settings live in memory as one
immutable :class:`~parkbench.tui.settings.Settings`; each change replaces it and a worker
writes the whole file (never on the UI thread). Without a file (tests, snapshots) the
saved filters still work for the session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import work

from parkbench.core.filters import parse_filter
from parkbench.core.records import SortKey
from parkbench.tui.settings import Settings, load_settings, store_settings
from parkbench.tui.textsafe import one_line
from parkbench.tui.widgets.run_window import ViewQuery


class SettingsKeeper:
    settings_file: Path | None
    settings_state: Settings
    is_running: bool
    notify: Callable[..., None]
    call_from_thread: Callable[..., Any]

    def load_settings(self, path: Path | None) -> None:
        self.settings_file = path
        self.settings_state = load_settings(path) if path is not None else Settings()

    def initial_view(self) -> ViewQuery:
        """The view the app opens on: the last filter and sort, if still understood."""
        state = self.settings_state
        query = ViewQuery(reverse=state.reverse)
        if state.sort in {key.value for key in SortKey}:
            query = replace(query, sort=SortKey(state.sort))
        parsed = parse_filter(state.filter)
        if state.filter.strip() and parsed.ok:
            query = query.with_filter(state.filter)
        return query

    def update_settings(self, **changes: Any) -> None:
        self.replace_settings(replace(self.settings_state, **changes))

    def replace_settings(self, new: Settings) -> None:
        if new == self.settings_state:
            return
        self.settings_state = new
        if self.settings_file is not None and self.is_running:
            self.save_settings()

    def remember_view(self, query: ViewQuery) -> None:
        self.update_settings(filter=query.search, sort=query.sort.value, reverse=query.reverse)

    def save_filter(self, name: str, text: str) -> None:
        self.replace_settings(self.settings_state.with_saved(name, text))

    def delete_filter(self, name: str) -> None:
        self.replace_settings(self.settings_state.without_saved(name))

    def watch_theme(self, theme: str) -> None:
        self.update_settings(theme=theme)

    @work(thread=True, exclusive=True, group="settings", exit_on_error=False)
    def save_settings(self) -> None:
        assert self.settings_file is not None
        try:
            # The newest state when this runs: a write cancelled before it started loses
            # nothing, as the one that replaced it writes everything.
            store_settings(self.settings_file, self.settings_state)
        except OSError as error:
            self.call_from_thread(
                self.notify,
                one_line(f"settings not saved: {error}", 300),
                title="Parkbench",
                severity="warning",
                markup=False,
            )
