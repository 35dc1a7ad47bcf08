"""The action modal: names the action and how many runs it touches; asks for a reason."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Reply:
    """What a prompt was answered with: the trimmed text, and (a requeue's prompt) the new
    attempt's priority when the reviewer changed it."""

    text: str
    priority: int | None = None


class ReasonModal(ModalScreen[Reply | None]):
    """Dismisses with the trimmed reason (Enter or ctrl+s) or None (Escape). A blank reason
    is refused here, with a message, so nothing reaches the store without one.

    Every prompt sends with ctrl+s; this one-line prompt (fail, release) also with Enter.
    The multi-line prompts (:mod:`parkbench.tui.screens.answer_modal`) keep Enter for a new
    line."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="modal-cancel"),
        Binding("ctrl+s", "send", "Send", id="modal-send", tooltip="Send the text (every prompt)"),
    ]
    HINT = "Enter or ctrl+s sends · Escape cancels"

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
            yield Static(Text(self.HINT), markup=False, id="reason-hint")

    def on_mount(self) -> None:
        self.focus_field()

    def focus_field(self) -> None:
        """Focus the text field (no blinking cursor when headless: stable snapshots)."""
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

    def show_error(self, message: str) -> None:
        error = self.query_one("#reason-error", Static)
        error.update(Text(message))
        error.add_class("-shown")

    @on(Input.Submitted, "#reason-input, #reason-count")
    def confirm(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_send()

    def text_value(self) -> str:
        return self.query_one("#reason-input", Input).value

    def reply(self, text: str) -> Reply | None:
        """The reply to dismiss with, or None after showing why the text will not do."""
        return Reply(text)

    def count_confirmed(self) -> bool:
        """A big fail's typed count matches (always, for a prompt that asks none)."""
        if self.confirm_count is None:
            return True
        field = self.query_one("#reason-count", Input)
        typed = field.value.strip()
        if typed.replace(",", "").replace("_", "") == str(self.confirm_count):
            return True
        said = "" if not typed else f"{typed[:20]!r} is not the count. "
        self.show_error(
            f"{said}Type {self.confirm_count} to confirm: every one of these runs ends for good."
        )
        field.focus()
        return False

    def action_send(self) -> None:
        text = self.text_value().strip()
        if not text:
            self.show_error("A reason is required: it goes into the audit log.")
            return
        if not self.count_confirmed():
            return
        reply = self.reply(text)
        if reply is not None:
            self.dismiss(reply)

    def action_cancel(self) -> None:
        self.dismiss(None)
