"""The action modal: names the action and how many runs it touches; asks for a reason."""

from __future__ import annotations

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static

#: Runs listed by id and title in the modal; the rest are counted.
LISTED = 5


class ReasonInput(Input):
    """The reason field: a multi-line paste keeps every line, joined into one (Textual's
    Input keeps only the first, silently), and the modal says so."""

    class LinesJoined(Message):
        def __init__(self, lines: int) -> None:
            self.lines = lines
            super().__init__()

    def on_paste(self, event: events.Paste) -> None:
        lines = [line.strip() for line in event.text.splitlines() if line.strip()]
        if len(lines) <= 1:
            return  # Input's own handling
        event.prevent_default()  # not Input's: it would insert the first line only
        event.stop()
        joined = " ".join(lines)
        selection = self.selection
        if selection.is_empty:
            self.insert_text_at_cursor(joined)
        else:
            self.replace(joined, *selection)
        self.post_message(self.LinesJoined(len(lines)))


class ReasonModal(ModalScreen[str | None]):
    """Dismisses with the trimmed reason (Enter) or None (Escape). A blank reason is refused
    here, with a message, so nothing reaches the store without one."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modal-cancel")]

    def __init__(
        self,
        title: str,
        targets: Text,
        *,
        placeholder: str = "Reason (required)",
        confirm_count: int | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.targets = targets
        self.placeholder = placeholder
        #: A big destructive batch: the reviewer types this count to confirm it.
        self.confirm_count = confirm_count

    def compose(self) -> ComposeResult:
        with Vertical(id="reason-dialog"):
            yield Static(Text(self.title_text), markup=False, id="reason-title")
            yield Static(self.targets, markup=False, id="reason-targets")
            yield ReasonInput(placeholder=self.placeholder, id="reason-input", max_length=10_000)
            if self.confirm_count is not None:
                yield Static(
                    Text(f"Type the number of runs ({self.confirm_count:,}) to confirm:"),
                    markup=False,
                    id="reason-count-label",
                )
                yield Input(placeholder=str(self.confirm_count), id="reason-count", max_length=20)
            yield Static("", markup=False, id="reason-error")
            yield Static(Text("Enter confirms · Escape cancels"), markup=False, id="reason-hint")

    def on_mount(self) -> None:
        field = self.query_one("#reason-input", Input)
        if self.app.is_headless:
            for each in self.query(Input):
                each.cursor_blink = False
        field.focus()

    @on(ReasonInput.LinesJoined)
    def _lines_joined(self, event: ReasonInput.LinesJoined) -> None:
        note = self.query_one("#reason-error", Static)
        note.update(Text(f"{event.lines} pasted lines were joined into one line."))
        note.add_class("-shown")

    @on(Input.Submitted, "#reason-input, #reason-count")
    def confirm(self, event: Input.Submitted) -> None:
        event.stop()
        reason = self.query_one("#reason-input", Input).value.strip()
        if not reason:
            self._refuse("A reason is required: it goes into the audit log.", "#reason-input")
            return
        if self.confirm_count is not None:
            typed = self.query_one("#reason-count", Input).value.strip()
            if typed.replace(",", "").replace("_", "") != str(self.confirm_count):
                said = "" if not typed else f"{typed[:20]!r} is not the count. "
                self._refuse(
                    f"{said}Type {self.confirm_count} to confirm: every one of these runs "
                    "ends for good.",
                    "#reason-count",
                )
                return
        self.dismiss(reason)

    def _refuse(self, why: str, field: str) -> None:
        error = self.query_one("#reason-error", Static)
        error.update(Text(why))
        error.add_class("-shown")
        self.query_one(field, Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
