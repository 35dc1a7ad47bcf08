"""A short list to pick one item from (what to view, what to copy): enter picks, escape
cancels. Labels are plain ``Text`` built by the caller from escaped strings."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

#: Items offered at most (a contract with thousands of receipts lists the first ones).
CHOICES_MAX = 200


class ChoiceModal(ModalScreen[str | None]):
    """Dismisses with the picked item's key, or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="choice-cancel")]

    def __init__(self, title: str, choices: Sequence[tuple[str, Text]], hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.choices = list(choices)[:CHOICES_MAX]
        self.hint = hint or "Enter picks · Escape cancels"

    def compose(self) -> ComposeResult:
        with Vertical(id="choice-dialog"):
            yield Static(Text(self.title_text, style="bold"), markup=False, id="choice-title")
            yield OptionList(
                *(Option(label, id=key) for key, label in self.choices), id="choice-list"
            )
            yield Static(Text(self.hint), markup=False, id="choice-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected, "#choice-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
