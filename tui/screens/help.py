"""The help screen: every binding of the review screen, its keys (after the keymap) and id.

Posting's contextual help, reduced to what a reviewer needs: what each key does right now
(unavailable ones are dimmed, with why), and the binding ids to remap in keymap.toml.

The sections sit in two columns so that every binding fits on a 120x40 terminal (the
headless snapshot size) without scrolling; on a narrow terminal the columns stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from parkbench.tui.textsafe import safe_text


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

#: The filter's language (parkbench.core.filters) in short; README has it in full.
FILTER_SYNTAX = (
    'Filter (/): all terms match; "a phrase",',
    "  worker: workspace: task: reason: status:",
    "  945 or #945 (a run), status:parked|all",
)


def filter_syntax_text() -> Text:
    text = Text("\n".join(FILTER_SYNTAX), no_wrap=True, overflow="ellipsis")
    text.stylize("bold", 0, len("Filter (/):"))
    return text


#: Widest key and description column; a longer (remapped) key pushes its row to the right.
MAX_KEYS_WIDTH = 14
MAX_DESCRIPTION_WIDTH = 16
#: Cells between the two columns (the first column's right margin in app.tcss).
GUTTER = 2


def sections(rows: list[HelpRow]) -> list[list[HelpRow]]:
    """The rows grouped by section, in order."""
    grouped: list[list[HelpRow]] = []
    for row in rows:
        if grouped and grouped[-1][0].section == row.section:
            grouped[-1].append(row)
        else:
            grouped.append([row])
    return grouped


def split_columns(groups: list[list[HelpRow]]) -> tuple[list[list[HelpRow]], list[list[HelpRow]]]:
    """Two runs of whole sections, in order, whose heights (heading, rows and a blank line
    between sections) differ least."""

    def height(part: list[list[HelpRow]]) -> int:
        return sum(1 + len(group) for group in part) + max(len(part) - 1, 0)

    best = min(
        range(len(groups) + 1),
        key=lambda cut: (max(height(groups[:cut]), height(groups[cut:])), -cut),
    )
    return groups[:best], groups[best:]


def sections_text(groups: list[list[HelpRow]], keys_width: int, description_width: int) -> Text:
    """Sections as aligned rows: keys, what they do, and the binding id (dim)."""
    text = Text(overflow="fold", no_wrap=False)
    for index, group in enumerate(groups):
        if index:
            text.append("\n")
        text.append(f"{group[0].section}\n", style="bold")
        for row in group:
            style = "" if row.available else "dim"
            keys = row.keys + " " * max(keys_width - cell_len(row.keys), 0)
            text.append(f"  {keys}  ", style="bold" if row.available else "dim")
            text.append(f"{row.description:<{description_width}}  ", style=style)
            text.append(f"{row.binding_id}\n", style="dim")
    text.rstrip()
    return text


def help_columns(rows: list[HelpRow]) -> tuple[Text, Text]:
    """The left and right columns of the help screen, aligned alike."""
    keys_width = min(max((cell_len(row.keys) for row in rows), default=0), MAX_KEYS_WIDTH)
    description_width = min(
        max((cell_len(row.description) for row in rows), default=0), MAX_DESCRIPTION_WIDTH
    )
    left, right = split_columns(sections(rows))
    return (
        sections_text(left, keys_width, description_width),
        sections_text(right, keys_width, description_width),
    )


def widest_line(text: Text) -> int:
    return max((line.cell_len for line in text.split("\n")), default=0)


class HelpColumns(Horizontal):
    """Two columns side by side; stacked (class ``-stacked``) when either would fold."""

    def __init__(self, widest: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.widest = widest

    def on_resize(self, event: events.Resize) -> None:
        # Stacking keeps the width, so this settles after one layout.
        self.set_class(2 * self.widest + GUTTER > event.size.width, "-stacked")


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close", id="help-close"),
    ]

    def __init__(self, rows: list[HelpRow], keymap_note: str) -> None:
        super().__init__()
        self.rows = rows
        self.keymap_note = keymap_note

    def compose(self) -> ComposeResult:
        left, right = help_columns(self.rows)
        with Vertical(id="help-dialog"):
            yield Static(Text("Parkbench keys"), markup=False, id="help-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(Text(INTRO, style="italic"), markup=False, id="help-intro")
                widest = max(widest_line(left), widest_line(right))
                with HelpColumns(widest, id="help-columns"):
                    yield Static(left, markup=False, classes="help-column")
                    with Vertical(classes="help-column"):
                        yield Static(right, markup=False)
                        yield Static(
                            Text(safe_text(self.keymap_note), style="dim"),
                            markup=False,
                            id="help-note",
                        )
                        yield Static(filter_syntax_text(), markup=False, id="help-filter")
            yield Static(Text("Escape closes"), markup=False, id="help-hint")

    def action_close(self) -> None:
        self.dismiss(None)
