"""The marked runs of a list: each run's id and what it was when marked.

An action on marked runs sends each run's ``Expectation`` (status and version when marked)
as its precondition, so a run that changed since the reviewer looked is skipped, never
acted on blind. Also keeps a shift+arrow range in progress: where it began and what was
marked before it, so moving back towards its start unmarks only what the range added.
"""

from __future__ import annotations

from parkbench.core.records import Expectation, RunRow

#: A range in progress: the index it began at, and the runs marked before it.
Span = tuple[int, frozenset[int]]


class RunMarks(dict[int, Expectation]):
    """Run id -> its expectation; a plain dict to every reader."""

    def __init__(self) -> None:
        super().__init__()
        self.span: Span | None = None

    def replace(self, expected: dict[int, Expectation]) -> None:
        self.clear()
        self.update(expected)

    def toggle(self, row: RunRow) -> None:
        if self.pop(row.id, None) is None:
            self[row.id] = Expectation(row.status, row.version)

    def add(self, row: RunRow) -> None:
        self.setdefault(row.id, Expectation(row.status, row.version))

    def extend_span(self, start: int, target: int, row: RunRow, following: RunRow) -> Span:
        """The cursor goes from ``start`` (on ``row``) to ``target`` (on ``following``)
        marking the way: away from the range's beginning both are marked; back towards it
        ``row`` is unmarked unless it was marked before the range. Returns the range, for
        :attr:`span` once the cursor has moved (a move of any other kind ends it)."""
        anchor, before = self.span or (start, frozenset(self))
        if abs(target - anchor) > abs(start - anchor) or start == anchor:
            self.add(row)
            self.add(following)
        elif row.id not in before:
            self.pop(row.id, None)
        return anchor, before
