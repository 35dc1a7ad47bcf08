"""The file viewer: a receipt, or anything under a run's workspace, read-only.

The first block of a file is shown literally (escaped as reasons are, by
:func:`parkbench.tui.textsafe.safe_text`), with "first 64 KB of 50 MB" when there is more;
a binary file is named as binary with a hex dump of its first bytes; a directory lists its
entries, and enter opens one (a directory, a file) without leaving the workspace: every
path goes through :func:`parkbench.core.peek.peek`, which refuses what the contract rules
refuse. Reading happens in a thread worker, never on the UI thread.

``e`` hands the file to ``$PAGER`` (else ``$EDITOR``, else ``less``; see
:mod:`parkbench.tui.pager`) with the app suspended; where the terminal cannot be handed
over (a headless or test driver) a notification says so and names the command.
"""

from __future__ import annotations

import os
import posixpath
import shlex
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import OptionList, Static, TextArea
from textual.widgets.option_list import Option

from parkbench.core.errors import ParkbenchError
from parkbench.core.peek import LIMIT, Entry, EntryKind, Peek, PeekKind, hex_dump, human_size, peek
from parkbench.tui.pager import pager_command, run_command
from parkbench.tui.textsafe import one_line, safe_text
from parkbench.tui.widgets.fit_footer import FitFooter

#: Characters of a path shown in the viewer's header lines.
PATH_MAX = 300
_KIND_LABEL = {
    EntryKind.DIRECTORY: "dir ",
    EntryKind.FILE: "file",
    EntryKind.LINK: "link",
    EntryKind.OTHER: "    ",
}


@dataclass
class FilePeeked(Message, bubble=False):
    """A worker read ``relative``: what it saw, or why it could not."""

    request: int
    relative: str
    seen: Peek | None
    error: str = ""


def summary(seen: Peek) -> str:
    """One line on what the viewer shows: its kind, and how much of it."""
    if seen.kind is PeekKind.TEXT:
        if seen.truncated:
            shown = f"first {human_size(seen.bytes_read)} of {human_size(seen.size)}"
            return f"text · {shown} · e opens all of it in your pager"
        return f"text · {human_size(seen.size)}"
    if seen.kind is PeekKind.BINARY:
        return f"binary ({seen.why_binary}) · {human_size(seen.size)} · first bytes as hex"
    if seen.kind is PeekKind.DIRECTORY:
        shown = len(seen.entries)
        counted = f"{seen.entries_seen:,}{'+' if seen.entries_more else ''}"
        more = "" if shown == seen.entries_seen else f", first {shown:,} shown"
        return f"directory · {counted} entries{more}"
    if seen.kind is PeekKind.MISSING:
        return "missing: nothing is at this path (yet)"
    return "not a regular file (a FIFO, socket or device): not opened"


def entry_label(entry: Entry) -> Text:
    text = Text(f"{_KIND_LABEL[entry.kind]}  ", style="dim")
    name = one_line(entry.name, 200)
    text.append(name + ("/" if entry.is_dir else ""))
    if entry.size is not None:
        text.append(f"  {human_size(entry.size)}", style="dim")
    return text


class FileViewer(Screen[None]):
    """One run's workspace, read-only, starting at ``relative`` (blank: the root)."""

    CSS_PATH = "file_viewer.tcss"
    AUTO_FOCUS = "#viewer-text"

    BINDINGS = [
        Binding("escape", "close", "Back", id="viewer-close", tooltip="Back to the run list"),
        Binding("e", "external", "Pager", id="viewer-pager", tooltip="$PAGER, else $EDITOR"),
        # Priority: the text area would take backspace (its arrows scroll long lines).
        Binding(
            "backspace",
            "up",
            "Up",
            id="viewer-up",
            tooltip="The enclosing directory",
            priority=True,
        ),
    ]

    def __init__(self, run_id: int, root: str, relative: str = "", *, limit: int = LIMIT) -> None:
        super().__init__()
        self.run_id = run_id
        self.root = root
        self.limit = limit
        self.relative = relative or "."
        self.seen: Peek | None = None
        self._request = 0
        #: The highlighted entry of each directory left, so going back up lands on it.
        self._cursor_at: dict[str, int] = {}
        self.title_line = Static("", markup=False, id="viewer-title")
        self.path_line = Static("", markup=False, id="viewer-path")
        # A read-only TextArea paints only the lines on screen (64 KB of text is a thousand
        # lines or more), and lets the reviewer select a part to copy.
        self.text = TextArea(
            "",
            read_only=True,
            soft_wrap=False,
            highlight_cursor_line=False,
            id="viewer-text",
        )
        self.entries = OptionList(id="viewer-entries")

    def compose(self) -> ComposeResult:
        yield self.title_line
        yield self.path_line
        yield self.text
        yield self.entries
        yield FitFooter()

    def on_mount(self) -> None:
        title = Text(f"run {self.run_id} · workspace ", style="bold")
        title.append(safe_text(self.root, PATH_MAX))
        self.title_line.update(title)
        self.open_path(self.relative)

    # -- reading -------------------------------------------------------------------------

    def open_path(self, relative: str) -> None:
        if self.seen is not None and self.seen.kind is PeekKind.DIRECTORY:
            self._cursor_at[self.seen.relative] = self.entries.highlighted or 0
        self.relative = relative.strip() or "."  # as given: peek applies the contract rules
        self._request += 1
        self.path_line.update(Text(f"{safe_text(self.relative, PATH_MAX)} · reading…"))
        self.read(self._request, self.relative)

    @work(thread=True, exclusive=True, group="viewer", exit_on_error=False)
    def read(self, request: int, relative: str) -> None:
        try:
            seen = peek(self.root, relative, limit=self.limit)
        except ParkbenchError as error:
            self.post_message(
                FilePeeked(request, relative, None, f"{error.code}: {error.message} — {error.hint}")
            )
            return
        except OSError as error:
            why = error.strerror or type(error).__name__
            self.post_message(FilePeeked(request, relative, None, f"cannot read it: {why}"))
            return
        self.post_message(FilePeeked(request, relative, seen))

    @on(FilePeeked)
    def _peeked(self, message: FilePeeked) -> None:
        if message.request != self._request:
            return  # the reviewer moved on
        line = Text(safe_text(message.relative, PATH_MAX), style="bold")
        if message.seen is None:
            self.seen = None
            line.append(" · refused" if message.error.startswith("validation") else " · error")
            self.path_line.update(line)
            self._show_text(one_line(message.error, 1000))
            return
        seen = self.seen = message.seen
        self.relative = seen.relative
        line.append(f" · {summary(seen)}")
        self.path_line.update(line)
        if seen.kind is PeekKind.DIRECTORY:
            self._show_entries(seen)
        elif seen.kind is PeekKind.TEXT:
            self._show_text(safe_text(seen.text, multiline=True))
        elif seen.kind is PeekKind.BINARY:
            self._show_text(hex_dump(seen.head))
        else:
            self._show_text(summary(seen))
        self.refresh_bindings()

    def _show_text(self, text: str) -> None:
        """``text`` (already escaped) in the read-only text area, from its top."""
        self.entries.display = False
        self.text.display = True
        self.text.load_text(text)
        self.text.focus()

    def _show_entries(self, seen: Peek) -> None:
        options: list[Option] = []
        if seen.relative != ".":
            options.append(Option(Text("..    (the enclosing directory)", style="dim"), id=".."))
        options += [Option(entry_label(e), id=f"entry:{i}") for i, e in enumerate(seen.entries)]
        if not seen.entries:
            options.append(Option(Text("(empty)", style="dim"), id="empty", disabled=True))
        self.text.display = False
        self.entries.display = True
        self.entries.set_options(options)
        self.entries.highlighted = min(self._cursor_at.get(seen.relative, 0), len(options) - 1)
        self.entries.focus()

    @on(OptionList.OptionSelected, "#viewer-entries")
    def _entry_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        seen = self.seen
        option_id = event.option.id or ""
        if seen is None:
            return
        if option_id == "..":
            self.action_up()
        elif option_id.startswith("entry:"):
            entry = seen.entries[int(option_id.removeprefix("entry:"))]
            base = "" if seen.relative == "." else seen.relative + "/"
            self.open_path(base + entry.name)

    # -- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "up":
            return self.relative != "."
        if action == "external":
            seen = self.seen
            return seen is not None and seen.kind in (PeekKind.TEXT, PeekKind.BINARY)
        return True

    def action_close(self) -> None:
        self.dismiss(None)

    def action_up(self) -> None:
        if self.relative != ".":
            self.open_path(posixpath.dirname(self.relative))

    def action_external(self) -> None:
        """The file in the reviewer's pager, the app suspended; back on this screen after."""
        seen = self.seen
        if seen is None or seen.kind not in (PeekKind.TEXT, PeekKind.BINARY):
            self.notify("e opens files: pick a file first.", markup=False)
            return
        command = pager_command(seen.path)
        if command is None:
            self.notify(
                "No pager found: set $PAGER (or $EDITOR) to the program to open files with.",
                severity="warning",
                markup=False,
            )
            return
        shown = one_line(shlex.join(command), 300)
        try:
            with self.app.suspend():
                status = run_command(command)
        except SuspendNotSupported:
            self.notify(
                f"This terminal cannot be handed to a pager (headless). Run: {shown}",
                title="Viewer",
                severity="warning",
                markup=False,
            )
            return
        if status != 0:
            self.notify(
                f"{one_line(os.path.basename(command[0]), 80)} exited with status {status}",
                title="Viewer",
                severity="warning",
                markup=False,
            )
