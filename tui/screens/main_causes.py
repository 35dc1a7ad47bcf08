"""The review screen's side of the Causes screen (``c``): open it, apply what it chose.

Mixed into :class:`parkbench.tui.screens.main.MainScreen` (like its actions). A chosen
cause's runs are found by a thread worker (:meth:`parkbench.core.store.Store.cause_run_ids`:
the parked runs whose stored cause key is one of the cause's) and become a filter of the parked
list on those ids (``ViewQuery.cause`` names it, for the header and the mark-all question);
"mark runs" then marks every run of it still parked, through the same worker as "mark all".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from textual import work

from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store
from parkbench.tui.screens.causes import CauseChoice, CausesCache, CausesScreen
from parkbench.tui.widgets.filter_bar import FilterBar
from parkbench.tui.widgets.run_list import RunList


class CauseActions:
    """Provided by MainScreen: the store, the list, the filter bar and the workers."""

    store: Store
    runs: RunList
    filter_bar: FilterBar
    read_only: bool
    now_ms: Callable[[], int]
    _mark_request: int
    app: Any
    set_query: Callable[..., None]
    fetch_matches: Callable[..., object]
    _call: Callable[..., Any]
    #: The groups last shown, reused while the database has not changed (made on first use).
    causes_cache: CausesCache | None = None

    def action_causes(self) -> None:
        if isinstance(self.app.screen, CausesScreen):
            return
        if self.causes_cache is None:
            self.causes_cache = CausesCache()
        screen = CausesScreen(
            self.store, now_ms=self.now_ms, can_mark=not self.read_only, cache=self.causes_cache
        )
        self.app.push_screen(screen, self.cause_chosen)

    def cause_chosen(self, choice: CauseChoice | None) -> None:
        if choice is not None:
            self.find_cause_runs(choice)

    @work(thread=True, exclusive=True, group="cause-runs", exit_on_error=False)
    def find_cause_runs(self, choice: CauseChoice) -> None:
        selector = choice.group.selector
        run_ids = self._call("finding the cause's runs", lambda: self.store.cause_run_ids(selector))
        if run_ids is not None:
            self.app.call_from_thread(self.show_cause, choice, run_ids)

    def show_cause(self, choice: CauseChoice, run_ids: tuple[int, ...]) -> None:
        """The list shows the cause's runs (``run_ids``); marks them too if asked."""
        group = choice.group
        query = replace(
            self.runs.view_query,
            status=RunStatus.NEEDS_ATTENTION,
            search="",
            run_ids=run_ids,
            cause=group.key,
        )
        self.set_query(query)
        self.filter_bar.value = ""  # the cause is the filter now (no Input.Changed effect)
        self.filter_bar.remove_class("-shown")
        self.runs.focus()
        if choice.mark and not self.read_only:
            self._mark_request += 1
            self.fetch_matches(query, self._mark_request)

    def clear_cause(self) -> None:
        """Back to every parked run (escape, like a filter)."""
        query = self.runs.view_query
        if query.cause is not None:
            self.set_query(replace(query, run_ids=None, cause=None), keep_cursor=True)
