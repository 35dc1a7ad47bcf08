"""Asks for a saved filter's name: Enter keeps it, Escape cancels.

The name is the reviewer's own text but still shown literally (markup off, control
characters refused here, bounded), like everything else on screen.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from parkbench.tui.textsafe import one_line

#: The longest name kept (the palette shows "Filter: <name>").
MAX_NAME = 60


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a filter, or None."""
    if not name:
        return "A name is required."
    if len(name) > MAX_NAME:
        return f"At most {MAX_NAME} characters."
    if any(not char.isprintable() for char in name):
        return "Letters, digits, spaces and punctuation only."
    return None


class NamePrompt(ModalScreen[str | None]):
    """Dismisses with the trimmed name (Enter) or None (Escape)."""

    CSS_PATH = "../styles/name_prompt.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="name-cancel")]

    def __init__(self, filter_text: str, *, taken: set[str]) -> None:
        super().__init__()
        self.filter_text = filter_text
        self.taken = taken

    def compose(self) -> ComposeResult:
        with Vertical(id="name-dialog"):
            yield Static(Text("Save filter as…"), markup=False, id="name-title")
            yield Static(Text(one_line(self.filter_text, 200)), markup=False, id="name-filter")
            yield Input(placeholder="Name", id="name-input", max_length=MAX_NAME)
            yield Static("", markup=False, id="name-error")
            yield Static(
                Text("Enter saves (the same name replaces it) · Escape cancels"),
                markup=False,
                id="name-hint",
            )

    def on_mount(self) -> None:
        field = self.query_one("#name-input", Input)
        if self.app.is_headless:
            field.cursor_blink = False
        field.focus()

    @on(Input.Changed, "#name-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        note = self.query_one("#name-error", Static)
        if event.value.strip() in self.taken:
            note.update(Text("A saved filter has this name: Enter replaces it."))
            note.add_class("-shown")
        else:
            note.remove_class("-shown")

    @on(Input.Submitted, "#name-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.value.strip()
        problem = name_problem(name)
        if problem is not None:
            note = self.query_one("#name-error", Static)
            note.update(Text(problem))
            note.add_class("-shown")
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)
