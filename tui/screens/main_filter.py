"""The review screen's filter: typed text parsed live, problems shown under the bar, saved
filters by name. Mixed into :class:`parkbench.tui.screens.main.MainScreen`.

Each keystroke parses the text (:func:`parkbench.core.filters.parse_filter`, a pure
function): a text it understands becomes the view's filter; one it does not (``wrker:``,
``status:bogus``) leaves the list as it was and says why, with a hint, on the line under
the bar. Saved filters and the last filter live in the app's settings
(:mod:`parkbench.tui.settings`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rich.text import Text
from textual.markup import escape
from textual.widgets import Static

from parkbench.core.filters import FilterProblem, parse_filter
from parkbench.tui.screens.name_prompt import NamePrompt
from parkbench.tui.textsafe import one_line
from parkbench.tui.widgets.filter_bar import FilterBar
from parkbench.tui.widgets.run_list import RunList
from parkbench.tui.widgets.run_window import ViewQuery
from parkbench.tui.widgets.status_header import StatusHeader

Command = tuple[str, str, Callable[[], object]]


class FilterNote(Static):
    """The line under the filter bar: why the text typed is not a filter (hidden if it is)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", markup=False, id=id)
        self.problem: FilterProblem | None = None

    def show_problem(self, problem: FilterProblem | None) -> None:
        if problem == self.problem:
            return
        self.problem = problem
        if problem is None:
            self.remove_class("-shown")
            self.update("")
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(one_line(problem.message, 120), style="bold")
        text.append(" — " + one_line(problem.hint, 200))
        text.append("  (list unchanged)", style="dim")
        self.update(text)
        self.add_class("-shown")


class FilterView:
    """Provided by MainScreen: the list, the bar, the note and the view's plumbing."""

    runs: RunList
    filter_bar: FilterBar
    filter_note: FilterNote
    header: StatusHeader
    app: Any
    notify: Callable[..., None]
    set_query: Callable[..., None]

    def show_restored_view(self) -> None:
        """The view the screen opened on (the app's settings: the last filter and sort)."""
        query = self.runs.view_query
        self.header.update_state(
            status=query.status, sort=query.sort, reverse=query.reverse, search=query.search
        )
        if query.search:
            self.show_filter(query.search)

    def action_filter(self) -> None:
        bar = self.filter_bar
        bar.add_class("-shown")
        bar.focus()

    def filter_typed(self, value: str) -> None:
        """The bar's text changed: apply it if it is a filter, else say why not."""
        query = self.runs.view_query
        parsed = parse_filter(value)
        self.filter_note.show_problem(parsed.problems[0] if parsed.problems else None)
        if parsed.problems or value == query.search:
            return
        # Cleared: every run the filter showed is back in view, so the cursor stays
        # on its run (a narrower search starts at the top, as a new list).
        cleared = parsed.filter.empty and not query.filter.empty
        self.set_query(query.with_filter(value), keep_cursor=cleared)

    def filter_done(self) -> None:
        """Enter or escape in the bar: back to the list; an empty bar hides."""
        if not self.filter_bar.value.strip():
            self.filter_bar.remove_class("-shown")
        self.runs.focus()

    def action_clear_filter(self) -> None:
        self.filter_bar.value = ""  # posts Input.Changed, which resets the query
        self.filter_note.show_problem(None)
        self.filter_bar.remove_class("-shown")
        self.runs.focus()

    def show_filter(self, text: str) -> None:
        """Put ``text`` in the bar (shown) as if typed: the list follows it."""
        self.filter_bar.add_class("-shown")
        self.filter_bar.value = text

    def status_kept_by_filter(self) -> bool:
        """``s`` and "Show <status>" wait while the filter decides the status."""
        query = self.runs.view_query
        if not query.status_from_filter:
            return False
        self.notify(
            "The filter sets the status (a status: term or a run id): edit or clear it "
            "to browse statuses.",
            severity="warning",
            markup=False,
        )
        return True

    # -- saved filters ------------------------------------------------------------------

    def saved_filters(self) -> dict[str, str]:
        return dict(self.app.settings_state.saved_filters)

    def action_save_filter(self) -> None:
        text = self.runs.view_query.search
        if not text.strip():
            return

        def named(name: str | None) -> None:
            if name:
                self.app.save_filter(name, text)
                self.notify(f"Filter saved as “{one_line(name, 60)}”", markup=False)

        self.app.push_screen(NamePrompt(text, taken=set(self.saved_filters())), named)

    def apply_saved_filter(self, name: str) -> None:
        text = self.saved_filters().get(name)
        if text is not None:
            self.show_filter(text)
            self.runs.focus()

    def delete_saved_filter(self, name: str) -> None:
        self.app.delete_filter(name)
        self.notify(f"Saved filter “{one_line(name, 60)}” deleted", markup=False)

    def filter_commands(self) -> Iterable[Command]:
        """The palette's saved-filter commands: save this one, apply or delete each."""
        query: ViewQuery = self.runs.view_query
        if query.search.strip():
            yield ("Save filter as…", "Keep this filter under a name", self.action_save_filter)
        for name, text in self.saved_filters().items():
            # The palette reads its labels as markup: the reviewer's text is escaped.
            label = escape(one_line(name, 60))
            yield (
                f"Filter: {label}",
                escape(one_line(text, 80)),
                lambda name=name: self.apply_saved_filter(name),
            )
            yield (
                f"Delete saved filter: {label}",
                "Forget it (the list stays as it is)",
                lambda name=name: self.delete_saved_filter(name),
            )
