"""This session's reviewer actions and their per-run results, kept for the history screen.

The App owns one :class:`ActionHistory` (``app.action_history``); the review screen adds an
:class:`HistoryEntry` for every action that finished (its ``ActionDone``), the history screen
adds the undos it makes. Memory stays bounded however big an action was: an entry keeps
its counts (per outcome and per error code) in full, but only :data:`KEPT_RESULTS` results
(failures first, then successes, in the order they happened), and the history keeps the
newest :data:`KEPT_ENTRIES` entries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.records import ActionResult

#: Results kept per entry (the counts always cover every result).
KEPT_RESULTS = 200
#: Entries kept per session (the oldest go first).
KEPT_ENTRIES = 500


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    action: Action
    reason: str
    actor: str
    started_ms: int
    finished_ms: int
    #: Runs the action was asked to touch (some are never reached when it is stopped).
    requested: int
    ok: int
    failed: int
    #: error code -> how many runs failed with it (every failure, kept or not)
    codes: dict[str, int]
    #: At most KEPT_RESULTS of the results: failures first, then successes. (For an
    #: undo_requeue entry, a result's ``new_run_id`` is the new run the undo canceled.)
    results: tuple[ActionResult, ...]
    #: Stopped after a batch: ``requested - ok - failed`` runs were left as they were.
    cancelled: bool = False

    @classmethod
    def of(
        cls,
        action: Action,
        results: Iterable[ActionResult],
        *,
        reason: str,
        actor: str,
        started_ms: int,
        finished_ms: int,
        requested: int | None = None,
        cancelled: bool = False,
        keep: int = KEPT_RESULTS,
    ) -> HistoryEntry:
        """An entry for ``results``, streamed once: counts in full, ``keep`` results."""
        failures: list[tuple[int, ActionResult]] = []
        successes: list[tuple[int, ActionResult]] = []
        codes: Counter[str] = Counter()
        ok = failed = 0
        for index, result in enumerate(results):
            if result.ok:
                ok += 1
                if len(successes) < keep:
                    successes.append((index, result))
            else:
                failed += 1
                codes[result.error.code if result.error else "error"] += 1
                if len(failures) < keep:
                    failures.append((index, result))
        kept = failures + successes[: max(keep - len(failures), 0)]
        return cls(
            action=action,
            reason=reason,
            actor=actor,
            started_ms=started_ms,
            finished_ms=finished_ms,
            requested=ok + failed if requested is None else requested,
            ok=ok,
            failed=failed,
            codes=dict(codes),
            results=tuple(result for _, result in sorted(kept, key=lambda pair: pair[0])),
            cancelled=cancelled,
        )

    @property
    def not_kept(self) -> int:
        """Results counted but not kept (the entry was bigger than KEPT_RESULTS)."""
        return self.ok + self.failed - len(self.results)

    @property
    def not_reached(self) -> int:
        return max(self.requested - self.ok - self.failed, 0)


@dataclass
class ActionHistory:
    """The session's entries, newest first; which requeues have been undone since."""

    limit: int = KEPT_ENTRIES
    _entries: list[HistoryEntry] = field(default_factory=list)
    _undone: set[int] = field(default_factory=set)

    def add(self, entry: HistoryEntry) -> None:
        self._entries.insert(0, entry)
        del self._entries[self.limit :]
        if entry.action is Action.UNDO_REQUEUE:
            self._undone.update(r.new_run_id for r in entry.results if r.ok and r.new_run_id)

    @property
    def entries(self) -> tuple[HistoryEntry, ...]:
        return tuple(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def undone(self, new_run_id: int) -> bool:
        """Whether this session undid the requeue that created ``new_run_id``."""
        return new_run_id in self._undone

    def undoable(self, entry: HistoryEntry) -> tuple[ActionResult, ...]:
        """The kept requeues of ``entry`` that may still be undone: done, with a new run,
        not undone here yet (the store decides whether the new run is still untouched)."""
        if entry.action is not Action.REQUEUE:
            return ()
        return tuple(
            r
            for r in entry.results
            if r.ok
            and r.status is RunStatus.REQUEUED
            and r.new_run_id is not None
            and not self.undone(r.new_run_id)
        )
