"""A yes/no question (Posting's confirmation pattern): y or Enter confirms, n or Escape cancels."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmModal(ModalScreen[bool]):
    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm-yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm-no"),
    ]

    def __init__(self, question: Text) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static(self.question, markup=False, id="confirm-question")
            yield Static(Text("y / Enter: yes · n / Escape: no"), markup=False, id="confirm-hint")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
