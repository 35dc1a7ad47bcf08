"""The review screen's notes: ``n`` asks for a note on the cursor's run and adds it (a
worker), changing nothing about the run. Mixed into
:class:`parkbench.tui.screens.main.MainScreen` like its actions and workers; the binding
itself is declared there (Textual reads ``BINDINGS`` from widget classes only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import work

from parkbench.core import inputs
from parkbench.core.errors import ParkbenchError
from parkbench.core.records import RunRow
from parkbench.core.store import Store
from parkbench.tui.messages import CoreFailed, NoteAdded
from parkbench.tui.screens.answer_modal import AnswerModal
from parkbench.tui.screens.reason_modal import Reply
from parkbench.tui.textsafe import one_line
from parkbench.tui.widgets.run_list import RunList


def note_modal(row: RunRow) -> AnswerModal:
    body = Text()
    body.append(
        "A note changes nothing about the run: it is added to its audit trail, shown in its "
        "detail to every reviewer, and handed to its next attempt.\n"
    )
    body.append(f"  run {row.id}", style="bold")
    body.append(f"  {one_line(row.title, 60)}")
    body.append(f"  ({row.status.value})\n", style="dim")
    return AnswerModal(
        f"Note on run {row.id}",
        body,
        label="Your note (e.g. “looking at this”, “waiting for the DBA”):",
        placeholder="Note (required; several lines welcome)",
        check=inputs.note,
    )


class RunNotes:
    """Provided by MainScreen: the store, the reviewer, the list and the screen's plumbing."""

    store: Store
    actor: str | None
    runs: RunList
    read_only: bool
    app: Any
    notify: Callable[..., None]
    post_message: Callable[..., bool]
    store_changed: Callable[..., None]

    def note_available(self) -> bool:
        return not self.read_only and self.runs.highlighted is not None

    def action_note(self) -> None:
        row = self.runs.highlighted
        if not self.note_available() or row is None:
            return

        def answered(reply: Reply | None) -> None:
            if reply is not None:
                self.add_note(row.id, reply.text)

        self.app.push_screen(note_modal(row), callback=answered)

    @work(thread=True, group="actions", exit_on_error=False)
    def add_note(self, run_id: int, text: str) -> None:
        try:
            self.store.add_note(run_id, text=text, actor=self.actor)
        except ParkbenchError as error:
            self.post_message(CoreFailed(f"note on run {run_id} failed", error))
            return
        self.post_message(NoteAdded(run_id))

    def on_note_added(self, message: NoteAdded) -> None:
        self.notify(f"Note added to run {message.run_id}", title="Note", markup=False)
        self.store_changed(frozenset({message.run_id}), resync=False)
