"""The help screen: every binding of the review screen, its keys (after the keymap) and id.

Posting's contextual help, reduced to what a reviewer needs: what each key does right now
(unavailable ones are dimmed, with why), and the binding ids to remap in keymap.toml.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.textsafe import safe_text


@dataclass(frozen=True, slots=True)
class HelpRow:
    section: str
    keys: str
    description: str
    binding_id: str
    available: bool = True


INTRO = (
    "Parkbench lists runs that workers parked (needs_attention) with why, and lets you "
    "requeue, fail or release them. Every action asks for a reason and is audited; an "
    "action on a run that changed since you looked is refused as a conflict. Text from "
    "agents is shown literally, with control characters escaped."
)


def help_text(rows: list[HelpRow], keymap_note: str) -> Text:
    text = Text(overflow="fold")
    text.append(INTRO + "\n", style="italic")
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            text.append(f"\n{section}\n", style="bold")
        style = "" if row.available else "dim"
        text.append(f"  {row.keys:<16}", style="bold" if row.available else "dim")
        text.append(f"{row.description:<30}", style=style)
        text.append(f"{row.binding_id}\n", style="dim")
    text.append(f"\n{safe_text(keymap_note)}\n", style="dim")
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close", id="help-close"),
    ]

    def __init__(self, rows: list[HelpRow], keymap_note: str) -> None:
        super().__init__()
        self.rows = rows
        self.keymap_note = keymap_note

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static(Text("Parkbench keys"), markup=False, id="help-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(
                    help_text(self.rows, self.keymap_note), markup=False, id="help-body"
                )
            yield Static(Text("Escape closes"), markup=False, id="help-hint")

    def action_close(self) -> None:
        self.dismiss(None)
