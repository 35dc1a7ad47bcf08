"""What the reviewer did this session: every bulk or single action and its per-run results.

The app owns one :class:`ActionHistory` (``app.action_history``); the review screen adds a
record when an action ends (finished, or stopped between batches). Screens read it to show
what happened, e.g. the runs an action skipped and why. Nothing here touches the store or
Textual: records are plain data, in the order the actions ended.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from parkbench.core.lifecycle import Action
from parkbench.core.records import ActionResult

#: Why a run was skipped, by error code, as the summary says it.
SKIP_REASONS = {
    "conflict": "changed since you looked",
    "not_found": "no longer exist",
    "invalid_transition": "not allowed in their state",
}


def skip_reason(code: str) -> str:
    return SKIP_REASONS.get(code, code.replace("_", " "))


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One action as it ended: what, why, when (epoch ms), and one result per run reached.

    ``asked`` is how many runs it was started on; ``stopped`` says the reviewer stopped it
    between batches, so ``asked - len(results)`` runs were left as they were.
    """

    action: Action
    reason: str
    when: int
    results: tuple[ActionResult, ...]
    asked: int
    stopped: bool = False

    @property
    def done(self) -> int:
        return sum(1 for result in self.results if result.ok)

    @property
    def skipped(self) -> tuple[ActionResult, ...]:
        """The runs it did not act on (conflicts and the like), in the order they came."""
        return tuple(result for result in self.results if not result.ok)

    @property
    def not_reached(self) -> int:
        return self.asked - len(self.results)

    def skipped_by_reason(self) -> Counter[str]:
        """``code -> count`` of the skipped runs."""
        return Counter(r.error.code if r.error else "error" for r in self.results if not r.ok)


class ActionHistory:
    """The session's actions, oldest first."""

    def __init__(self) -> None:
        self._records: list[ActionRecord] = []

    def add(
        self,
        action: Action,
        reason: str,
        when: int,
        results: Sequence[ActionResult],
        *,
        asked: int | None = None,
        stopped: bool = False,
    ) -> ActionRecord:
        record = ActionRecord(
            action,
            reason,
            when,
            tuple(results),
            len(results) if asked is None else asked,
            stopped,
        )
        self._records.append(record)
        return record

    @property
    def latest(self) -> ActionRecord | None:
        return self._records[-1] if self._records else None

    def __iter__(self) -> Iterator[ActionRecord]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)
