"""The runs an action skipped, and why: one line each (run, code, message), bounded.

Opened from the palette ("Skipped runs of the last action") after an action that skipped
some runs; reads the app's :class:`parkbench.tui.action_history.ActionHistory` record.
Messages can quote actor names and reasons: they pass through :func:`one_line` and are
rendered as plain text.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from parkbench.tui.action_history import ActionRecord, skip_reason
from parkbench.tui.textsafe import one_line

#: Skipped runs listed one by one; beyond this many, a count.
LISTED_SKIPPED = 500


def skipped_text(record: ActionRecord) -> Text:
    skipped = record.skipped
    text = Text()
    for code, count in record.skipped_by_reason().most_common():
        text.append(f"{count:,} {skip_reason(code)}\n", style="bold")
    text.append("\n")
    for result in skipped[:LISTED_SKIPPED]:
        code = result.error.code if result.error else "error"
        message = result.error.message if result.error else f"run {result.run_id} failed"
        text.append(f"run {result.run_id}", style="bold")
        text.append(f"  {code}  ", style="dim")
        text.append(one_line(message, 200) + "\n")
    if len(skipped) > LISTED_SKIPPED:
        text.append(f"… and {len(skipped) - LISTED_SKIPPED:,} more\n", style="dim")
    return text


class SkippedModal(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "close", "Close", id="skipped-close")]

    def __init__(self, record: ActionRecord, title: str) -> None:
        super().__init__()
        self.record = record
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="skipped-dialog"):
            yield Static(Text(self.title_text, style="bold"), markup=False, id="skipped-title")
            with VerticalScroll(id="skipped-list"):
                yield Static(skipped_text(self.record), markup=False)
            yield Static(Text("Escape: close"), markup=False, id="skipped-hint")

    def action_close(self) -> None:
        self.dismiss(None)
