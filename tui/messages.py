"""Messages the workers post back to the UI thread.

Workers only ever call the store and post one of these; ``@on`` handlers on the screen own
every state change (the Harlequin pipeline). Answers to a superseded question are recognised
by their ``generation`` and dropped. High-rate ones can replace an unhandled predecessor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from parkbench.core.db.notify import FeedState
from parkbench.core.errors import ParkbenchError
from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.records import ActionResult, Expectation, RunDetail, RunRow
from parkbench.tui.widgets.run_window import Loaded


@dataclass
class RowsLoaded(Message, bubble=False):
    """A page of the run list arrived."""

    loaded: Loaded


@dataclass
class RowsCounted(Message, bubble=False):
    """The total for the current query arrived (sets the list's virtual height)."""

    generation: int
    total: int


@dataclass
class ReceiptsChecked(Message, bubble=False):
    """Receipt counts for some rows: ``run id -> (present, required)``."""

    counts: dict[int, tuple[int, int]]


@dataclass
class DetailLoaded(Message, bubble=False):
    run_id: int
    detail: RunDetail | None
    error: ParkbenchError | None = None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DetailLoaded)


@dataclass
class StatusCounts(Message, bubble=False):
    counts: dict[str, int]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusCounts)


@dataclass
class StoreChanged(Message, bubble=False):
    """The change feed saw runs change (any process, this one included); ``resync``: it may
    have missed some (it was reconnecting), so reload everything shown."""

    run_ids: frozenset[int]
    resync: bool = False


@dataclass
class FeedStateChanged(Message, bubble=False):
    """The change feed connected, lost its connection, or closed."""

    state: FeedState


@dataclass
class MatchesCounted(Message, bubble=False):
    """How many runs a mark-all would mark (shown before marking)."""

    generation: int
    count: int


@dataclass
class MatchesFetched(Message, bubble=False):
    """Every run matching the filter, as it is now: the marks to set."""

    generation: int
    expected: dict[int, Expectation] = field(default_factory=dict)
    #: The marks to have, replacing the ones there are (inverting), not to add.
    replace: bool = False


@dataclass
class MarkedChecked(Message, bubble=False):
    """Marked runs as they are now (a run no longer in the store is absent): the screen
    drops the marks of runs that left the ``status`` view."""

    status: RunStatus | None
    asked: tuple[int, ...]
    rows: dict[int, RunRow]


@dataclass
class ActionRowsLoaded(Message, bubble=False):
    """The rows (titles) an action's dialog lists that the list had not loaded."""

    request: int
    rows: dict[int, RunRow]
    #: A requeue of marked runs: their distinct block reasons, counted (None: not asked).
    reasons: tuple[tuple[str, int], ...] | None = None


@dataclass
class NoteAdded(Message, bubble=False):
    """A reviewer's note was added to a run (nothing about it changed)."""

    run_id: int


@dataclass
class ActionDone(Message, bubble=False):
    action: Action
    results: list[ActionResult]
    #: What the action history records of it (tui/action_history.py).
    reason: str = ""
    requested: int = 0
    started_ms: int = 0


@dataclass
class CoreFailed(Message, bubble=False):
    """A store call failed as a whole (``database`` and friends): shown, never a crash."""

    what: str
    error: ParkbenchError
