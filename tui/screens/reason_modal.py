"""The action modal: names the action and how many runs it touches; asks for a reason."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

#: Runs listed by id and title in the modal; the rest are counted.
LISTED = 5


class ReasonModal(ModalScreen[str | None]):
    """Dismisses with the trimmed reason (Enter) or None (Escape). A blank reason is refused
    here, with a message, so nothing reaches the store without one."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modal-cancel")]

    def __init__(self, title: str, targets: Text) -> None:
        super().__init__()
        self.title_text = title
        self.targets = targets

    def compose(self) -> ComposeResult:
        with Vertical(id="reason-dialog"):
            yield Static(Text(self.title_text), markup=False, id="reason-title")
            yield Static(self.targets, markup=False, id="reason-targets")
            yield Input(placeholder="Reason (required)", id="reason-input", max_length=10_000)
            yield Static("", markup=False, id="reason-error")
            yield Static(
                Text("Enter confirms · Escape cancels"), markup=False, id="reason-hint"
            )

    def on_mount(self) -> None:
        field = self.query_one("#reason-input", Input)
        if self.app.is_headless:
            field.cursor_blink = False
        field.focus()

    @on(Input.Submitted, "#reason-input")
    def confirm(self, event: Input.Submitted) -> None:
        event.stop()
        reason = event.value.strip()
        if not reason:
            error = self.query_one("#reason-error", Static)
            error.update(Text("A reason is required: it goes into the audit log."))
            error.add_class("-shown")
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)
