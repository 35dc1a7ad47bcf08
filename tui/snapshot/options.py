"""What a snapshot renders: which screens, at what size and clock, of which view.

Plain data with no Textual import, so ``parkbench snapshot`` can check its options (and
start writing the summary) before the app's code is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from parkbench.core.lifecycle import RunStatus

#: Every screen a snapshot can show, in the order they are visited.
SCREENS: tuple[str, ...] = ("list", "action", "help", "causes", "detail")
#: What each screen is, for help texts and the summary.
SCREEN_DESCRIPTIONS: dict[str, str] = {
    "list": "the review screen: parked list, header counts, detail pane, footer",
    "detail": "the detail of the first run in the view, full screen",
    "help": "the help screen: every key and binding id",
    "action": "the action modal for the first run (requeue), opened and not confirmed",
    "causes": "the causes screen: parked runs grouped by the shape of their reason",
}
DEFAULT_SIZE = (120, 40)


@dataclass(frozen=True, slots=True)
class View:
    """What to render: terminal size, clock, and the list's status and filter."""

    now_ms: int
    size: tuple[int, int] = DEFAULT_SIZE
    status: RunStatus | None = RunStatus.NEEDS_ATTENTION
    search: str = ""
    screens: tuple[str, ...] = ("list", "detail")
