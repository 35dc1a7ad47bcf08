"""The review screen's look-inside keys: view a receipt or the workspace (``v``), copy
what a reviewer pastes elsewhere (``y``), jump to a run by id (``:`` / ``#``).

Mixed into :class:`parkbench.tui.screens.main.MainScreen` like its actions and workers
(handlers use Textual's ``on_<message>`` names). The run acted on is the one the detail
pane shows: the cursor's, or the one a jump opened outside the view.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.message import Message

from parkbench.core.contracts import ArtifactState
from parkbench.core.errors import ParkbenchError
from parkbench.core.records import RunDetail, RunRow
from parkbench.core.store import Store
from parkbench.tui.screens import loading
from parkbench.tui.screens.choice_modal import ChoiceModal
from parkbench.tui.screens.confirm_modal import ConfirmModal
from parkbench.tui.screens.file_viewer import FileViewer
from parkbench.tui.screens.jump_modal import JumpModal
from parkbench.tui.textsafe import one_line, safe_text
from parkbench.tui.widgets.detail_pane import DetailPane
from parkbench.tui.widgets.run_list import RunList
from parkbench.tui.widgets.run_window import ViewQuery
from parkbench.tui.widgets.status_header import status_label

VIEW_BINDINGS = [
    Binding("v", "view", "View", id="run-view", tooltip="A receipt or the workspace, read-only"),
    Binding(
        "y", "copy", "Copy", id="run-copy", tooltip="Run id, workspace, a receipt path, the reason"
    ),
    Binding(
        "colon,number_sign",
        "jump",
        "Jump",
        id="run-jump",
        key_display=":",
        tooltip="Jump to a run by id (: or #)",
    ),
]
#: Characters of a copied value the notification repeats.
COPIED_SHOWN = 80
_RECEIPT_MARK = {
    ArtifactState.PRESENT: "✓ present ",
    ArtifactState.MISSING: "✗ missing ",
    ArtifactState.NOT_A_FILE: "✗ not a file",
    ArtifactState.UNSAFE: "⚠ unsafe  ",
}


@dataclass
class RunFound(Message, bubble=False):
    """A jump's answer: the run (or why not), and whether the current view lists it."""

    run_id: int
    query: ViewQuery
    detail: RunDetail | None
    in_view: bool = False
    error: ParkbenchError | None = None


def receipt_choices(run: RunRow, detail: RunDetail | None) -> list[tuple[str, Text]]:
    """``receipt:<i>`` items: each required path, with its state when it was checked."""
    states = {a.path: a.state for a in detail.artifacts} if detail is not None else {}
    items = []
    for index, path in enumerate(run.contract.required):
        state = states.get(path)
        label = Text(_RECEIPT_MARK[state] if state else "receipt   ", style="dim")
        label.append(f"  {one_line(path, 300)}")
        items.append((f"receipt:{index}", label))
    return items


class ViewActions:
    """Provided by MainScreen: the list, the pane, the store and the screen's plumbing."""

    runs: RunList
    detail: DetailPane
    store: Store
    app: Any
    notify: Callable[..., None]
    post_message: Callable[[Message], bool]
    set_query: Callable[..., None]

    def shown_run(self) -> tuple[RunRow, RunDetail | None] | None:
        """The run the detail pane shows (with its detail), else the cursor's run."""
        detail = self.detail.detail
        if detail is not None:
            return detail.run, detail
        row = self.runs.highlighted
        return None if row is None else (row, None)

    def _no_run(self) -> None:
        self.notify("No run selected.", markup=False)

    # -- v: view ------------------------------------------------------------------------

    def action_view(self) -> None:
        shown = self.shown_run()
        if shown is None:
            return self._no_run()
        run, detail = shown
        browse = Text("browse    ", style="dim")
        browse.append(f"  the workspace {safe_text(run.workspace_root, 300)}")
        choices = [*receipt_choices(run, detail), ("browse", browse)]

        def picked(key: str | None) -> None:
            if key is None:
                return
            relative = "" if key == "browse" else run.contract.required[int(key[8:])]
            self.app.push_screen(FileViewer(run.id, run.workspace_root, relative))

        self.app.push_screen(ChoiceModal(f"View — run {run.id}", choices), picked)

    # -- y: copy ------------------------------------------------------------------------

    def action_copy(self) -> None:
        shown = self.shown_run()
        if shown is None:
            return self._no_run()
        run, _ = shown
        values: dict[str, tuple[str, str]] = {
            "run-id": ("run id", str(run.id)),
            "workspace": ("workspace path", run.workspace_root),
        }
        for index, path in enumerate(run.contract.required):
            values[f"receipt:{index}"] = ("receipt path", os.path.join(run.workspace_root, path))
        if run.reason is not None:
            values["reason"] = (
                "block reason" if run.block_reason is not None else "failure reason",
                run.reason,
            )
        choices = []
        for key, (what, value) in values.items():
            label = Text(f"{what:<15}", style="dim")
            label.append(f" {one_line(value, 200)}")
            choices.append((key, label))

        def picked(key: str | None) -> None:
            if key is None:
                return
            what, value = values[key]
            self.app.copy_to_clipboard(value)
            self.notify(
                f"Copied the {what}: {one_line(value, COPIED_SHOWN)}",
                title="Clipboard",
                markup=False,
            )

        self.app.push_screen(ChoiceModal(f"Copy — run {run.id}", choices), picked)

    # -- : or #: jump ---------------------------------------------------------------------

    def action_jump(self) -> None:
        def typed(run_id: int | None) -> None:
            if run_id is not None:
                self.find_run(run_id, self.runs.view_query)

        self.app.push_screen(JumpModal(), typed)

    @work(thread=True, exclusive=True, group="jump", exit_on_error=False)
    def find_run(self, run_id: int, query: ViewQuery) -> None:
        try:
            detail = self.store.get_run(run_id)
            in_view = loading.run_in_view(self.store, query, run_id)
        except ParkbenchError as error:
            self.post_message(RunFound(run_id, query, None, error=error))
            return
        self.post_message(RunFound(run_id, query, detail, in_view))

    def on_run_found(self, message: RunFound) -> None:
        if message.detail is None:
            error = message.error
            assert error is not None
            self.notify(
                one_line(f"{error.code}: {error.message} — {error.hint}", 300),
                title="Jump",
                severity="warning",
                markup=False,
            )
            return
        run = message.detail.run
        if message.query != self.runs.view_query:  # the view changed meanwhile: ask again
            self.find_run(run.id, self.runs.view_query)
            return
        if message.in_view:
            self.runs.reanchor(anchor=run)  # the window around it; the cursor on it
            self.runs.focus()
            return
        where = status_label(run.status)
        note = f"Run {run.id} is {run.status.value}: not in this view (it is in the {where} view)."
        self.detail.show(message.detail, note=note)
        question = Text(f"Run {run.id} is {run.status.value}, not in this view.\n")
        question.append(f"Show {where} (without the filter), on run {run.id}?", style="bold")

        def answered(yes: bool | None) -> None:
            if yes:
                query = self.runs.view_query
                wanted = ViewQuery(status=run.status, sort=query.sort, reverse=query.reverse)
                self.set_query(wanted, anchor=run)
                self.runs.focus()

        self.app.push_screen(ConfirmModal(question), answered)
