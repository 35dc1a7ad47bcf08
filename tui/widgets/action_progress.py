"""A bulk action's progress: a line of counts and a bar, shown above the footer while it runs.

The review screen calls :meth:`ActionProgressBar.begin` when an action starts, :meth:`advance`
as each batch lands (one message per batch from the action's worker), and :meth:`end` when
it is over. The counts are plain text (no markup).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static


class ActionProgressBar(Horizontal):
    """Hidden until an action runs (``-running``)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = Static("", id="action-progress-label", markup=False)
        self.bar = ProgressBar(total=None, show_eta=False, id="action-progress-bar")
        self._title = self._stop_key = ""
        self._total = self.reached = self.done = self.skipped = 0
        self._stopping = False

    def compose(self) -> ComposeResult:
        yield self.label
        yield self.bar

    @property
    def running(self) -> bool:
        return self.has_class("-running")

    def begin(self, title: str, total: int, stop_key: str) -> None:
        self._title, self._stop_key, self._total = title, stop_key, total
        self.reached = self.done = self.skipped = 0
        self._stopping = False
        self.bar.update(total=max(total, 1), progress=0)
        self._show()
        self.add_class("-running")

    def add(self, done: int, skipped: int, reached: int) -> None:
        """A batch landed: ``done`` and ``skipped`` runs of it; ``reached`` so far."""
        self.done += done
        self.skipped += skipped
        self.reached = reached
        self.bar.update(progress=reached)
        self._show()

    def stopping(self) -> None:
        self._stopping = True
        self._show()

    def end(self) -> None:
        self.remove_class("-running")

    def _show(self) -> None:
        text = Text(f"{self._title}: {self.reached:,} of {self._total:,}")
        text.append(f" · {self.done:,} done, {self.skipped:,} skipped", style="dim")
        if self._stopping:
            text.append(" · stopping after this batch…", style="bold")
        elif self._stop_key:
            text.append(f" · {self._stop_key} stops", style="dim")
        self.label.update(text)
