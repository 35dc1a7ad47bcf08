"""Command palette provider: every action the current screen offers right now.

State-aware like Posting's: the screen's ``palette_commands()`` decides what is valid (no
requeue on a completed run, nothing that changes data in read-only mode), so the palette and
the footer never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from textual.command import DiscoveryHit, Hit, Hits, Provider

from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.records import Expectation, SortKey
from parkbench.tui.screens.actions import ACTION_LABELS, ACTION_NAMES
from parkbench.tui.widgets.run_list import RunList
from parkbench.tui.widgets.run_window import SORT_CYCLE, STATUS_CYCLE, ViewQuery
from parkbench.tui.widgets.status_header import sort_label, status_label

Command = tuple[str, str, Callable[[], object]]


class HasCommands(Protocol):
    def palette_commands(self) -> Iterable[Command]: ...


class ParkbenchCommands(Provider):
    def _commands(self) -> list[Command]:
        screen = self.screen
        provider = getattr(screen, "palette_commands", None)
        return list(provider()) if callable(provider) else []

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


class ReviewScreen(Protocol):
    """What the palette reads of the review screen (MainScreen), named here so that the
    palette needs no import of the screen that imports it."""

    runs: RunList
    read_only: bool
    app: Any

    def targets(self, action: Action) -> tuple[Mapping[int, Expectation], int]: ...
    def marking_applies(self) -> bool: ...
    def note_available(self) -> bool: ...
    def action_note(self) -> None: ...
    def show_sort(self, sort: SortKey) -> None: ...
    def show_status(self, status: RunStatus | None) -> None: ...
    def ready_filter_available(self) -> bool: ...
    def ready_label(self, query: ViewQuery) -> str: ...
    def action_filter(self) -> None: ...
    def action_clear_filter(self) -> None: ...
    def action_mark_all(self) -> None: ...
    def action_toggle_ready(self) -> None: ...
    def action_refresh(self) -> None: ...
    def action_reverse_sort(self) -> None: ...
    def action_causes(self) -> None: ...
    def action_invert_marks(self) -> None: ...
    def filter_commands(self) -> Iterable[Command]: ...
    def action_history(self) -> None: ...
    def action_view(self) -> None: ...
    def action_copy(self) -> None: ...
    def action_jump(self) -> None: ...


def main_screen_commands(screen: ReviewScreen) -> Iterable[Command]:
    """What the review screen can do right now, named for the palette."""
    runs = screen.runs
    if not screen.read_only:
        for name, action in ACTION_NAMES.items():
            expected, _ = screen.targets(action)
            if expected:
                label = ACTION_LABELS[action][0]
                what = (
                    f"{len(expected)} marked runs" if runs.marks else f"run {next(iter(expected))}"
                )
                yield (
                    f"{label} {what}",
                    f"{label} with a reason ({name})",
                    getattr(screen, f"action_{name}"),
                )
        if screen.marking_applies():
            yield (
                "Mark all runs in view",
                "Mark every run matching the filter",
                screen.action_mark_all,
            )
            yield (
                "Invert marks in view",
                "Mark the unmarked runs in view, unmark the marked (i)",
                screen.action_invert_marks,
            )
        if runs.marks:
            yield ("Clear marks", f"Unmark {len(runs.marks)} runs", runs.action_clear_marks)
        if screen.note_available() and runs.highlighted is not None:
            yield (
                "Add note",
                f"Comment on run {runs.highlighted.id} without changing it (n)",
                screen.action_note,
            )
    if runs.highlighted is not None:
        yield (
            f"Open run {runs.highlighted.id}",
            "Focus its detail pane (enter)",
            runs.action_open_detail,
        )
        yield (
            f"View a receipt or the workspace of run {runs.highlighted.id}",
            "Read-only viewer; e opens the file in $PAGER (v)",
            screen.action_view,
        )
        yield (
            f"Copy from run {runs.highlighted.id}",
            "Run id, workspace path, a receipt path or the reason (y)",
            screen.action_copy,
        )
    yield ("Jump to run", "Go to a run by its id (: or #)", screen.action_jump)
    yield (
        "Filter runs",
        'Fields and phrases: worker:agent-7 "disk quota" #945 status:queued',
        screen.action_filter,
    )
    if runs.view_query.search:
        yield ("Clear filter", "Show every run in this status", screen.action_clear_filter)
    yield from screen.filter_commands()
    for sort in SORT_CYCLE:
        if sort is not runs.view_query.sort:
            yield (
                f"Sort by {sort_label(sort, runs.view_query.status)}",
                "Change the list order",
                lambda sort=sort: screen.show_sort(sort),
            )
    yield (
        "Sort in the original order" if runs.view_query.reverse else "Reverse the sort",
        "Read the list the other way (O)",
        screen.action_reverse_sort,
    )
    for status in STATUS_CYCLE:
        if status is not runs.view_query.status:
            yield (
                f"Show {status_label(status)}",
                "Browse runs in another status",
                lambda status=status: screen.show_status(status),
            )
    if screen.ready_filter_available():
        yield (
            screen.ready_label(runs.view_query),
            "Parked runs whose receipts are all present",
            screen.action_toggle_ready,
        )
    yield ("Causes", "Parked runs grouped by the shape of their reason (c)", screen.action_causes)
    yield (
        "Action history",
        "This session's actions and their results, run by run; undo a requeue (h)",
        screen.action_history,
    )
    yield ("Refresh", "Reload the list, counts and detail", screen.action_refresh)
    yield ("Help", "Keys and binding ids", screen.app.action_help)
    yield ("Quit", "Leave Parkbench", screen.app.action_quit)
