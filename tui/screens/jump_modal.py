"""Ask for a run id to jump to (``:`` or ``#``): ``945`` or ``#945``; enter goes there."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


def parse_run_id(text: str) -> int | None:
    """``945``, ``#945``, `` run 945 ``: the id; anything else: None."""
    value = text.strip().removeprefix("#").strip()
    if value.lower().startswith("run"):
        value = value[3:].strip().removeprefix("#")
    if not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 0 < number < 2**63 else None


class JumpModal(ModalScreen[int | None]):
    """Dismisses with the run id typed, or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="jump-cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="jump-dialog"):
            yield Static(Text("Jump to run", style="bold"), markup=False, id="jump-title")
            yield Input(placeholder="run id, e.g. 945 or #945", id="jump-input")
            yield Static("", markup=False, id="jump-error")
            yield Static(Text("Enter jumps · Escape cancels"), markup=False, id="jump-hint")

    @on(Input.Submitted, "#jump-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        run_id = parse_run_id(event.value)
        if run_id is None:
            error = self.query_one("#jump-error", Static)
            error.update(Text("A run id is a positive number, e.g. 945 or #945."))
            error.add_class("-shown")
            return
        self.dismiss(run_id)

    def action_cancel(self) -> None:
        self.dismiss(None)
