"""The run list's data model: a bounded window of rows over a virtual list of ``total`` rows.

The list on screen is as tall as the whole result (``count_runs``), but only a window of
at most :data:`MAX_WINDOW` rows is ever held. Rows arrive by keyset page: the window knows
the absolute index of its first row and asks for the page next to an edge (``after`` /
``before`` the edge row's key), the last page (``from_end``), or, for a far jump such as a
scrollbar drag, a walk over sort keys only (:func:`parkbench.core.store.queries.skip_keys`).
Nothing here touches the database or Textual: :meth:`RunWindow.plan` says what to fetch,
:mod:`parkbench.tui.screens.loading` fetches it in a worker, :meth:`RunWindow.apply` takes it in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from parkbench.core.filters import Filter, parse_filter
from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import RunFilter, RunRow, SortKey
from parkbench.core.store.queries import cursor_for

#: Rows per incremental page: a few screens, so holding a key down rarely waits.
PAGE = 120
#: Rows in the first page of a new query: one tall screen, so it paints as soon as possible
#: (the next page is asked for right after).
FIRST_PAGE = 60
#: Rows held at most; the far side of the window is dropped beyond this.
MAX_WINDOW = 1200
#: The store's largest page (parkbench.core.store.queries.MAX_PAGE).
MAX_PAGE = 1000


#: ``s`` walks through these; None shows every status.
STATUS_CYCLE: tuple[RunStatus | None, ...] = (
    RunStatus.NEEDS_ATTENTION,
    RunStatus.QUEUED,
    RunStatus.CLAIMED,
    RunStatus.FAILED,
    RunStatus.COMPLETED,
    RunStatus.CANCELED,
    RunStatus.REQUEUED,
    None,
)
#: ``o`` walks through these.
SORT_CYCLE: tuple[SortKey, ...] = (SortKey.BLOCKED, SortKey.PRIORITY, SortKey.TASK)


@dataclass(frozen=True, slots=True)
class ViewQuery:
    """What the list shows: one status (or all), a filter, a sort order, maybe only some runs."""

    #: The status shown: the one browsed (``s``), unless the filter names one.
    status: RunStatus | None = RunStatus.NEEDS_ATTENTION
    #: The filter as typed (:mod:`parkbench.core.filters`), and what it says.
    search: str = ""
    sort: SortKey = SortKey.BLOCKED
    #: The sort read the other way (newest first, lowest priority first, last task first).
    reverse: bool = False
    #: Only these runs (the ready filter: runs whose receipts are all present), or any.
    run_ids: tuple[int, ...] | None = None
    #: The cause (parkbench.core.causes) whose runs ``run_ids`` are, when that is the filter.
    cause: str | None = None
    #: The status browsed with ``s``: shown again once the filter names none.
    browsed: RunStatus | None = RunStatus.NEEDS_ATTENTION

    @property
    def filter(self) -> Filter:
        """What ``search`` says (the screen only ever sets a text that parses cleanly)."""
        return parse_filter(self.search).filter

    def run_filter(self) -> RunFilter:
        matching = self.filter
        return RunFilter(
            status=self.status, run_ids=self.run_ids, matching=None if matching.empty else matching
        )

    def with_status(self, status: RunStatus | None) -> ViewQuery:
        """Browse ``status`` (the filter must not name one: see :attr:`status_from_filter`)."""
        return replace(self, status=status, browsed=status)

    def with_filter(self, text: str) -> ViewQuery:
        """The view under a new filter: a status it names is shown; run ids (``#945``)
        are looked for in every status; otherwise the browsed status again."""
        matching = parse_filter(text).filter
        if matching.names_status:
            status = matching.status
        elif matching.run_ids:
            status = None
        else:
            status = self.browsed
        return replace(self, search=text, status=status)

    @property
    def status_from_filter(self) -> bool:
        """The filter, not ``s``, decides the status (it names one, or run ids)."""
        matching = self.filter
        return matching.names_status or bool(matching.run_ids)


class FetchKind(StrEnum):
    START = "start"  # the first page
    END = "end"  # the last page, with a fresh count
    AFTER = "after"  # the page after the window's last row
    BEFORE = "before"  # the page before the window's first row
    WALK = "walk"  # skip keys to a far index, then one page
    ANCHOR = "anchor"  # re-place the window around a row it showed (refresh, re-sort)


@dataclass(frozen=True, slots=True)
class Fetch:
    kind: FetchKind
    query: ViewQuery
    generation: int
    limit: int = PAGE
    #: AFTER/BEFORE: the edge row's key; WALK: the key walked from (None: a list end);
    #: ANCHOR: the anchor row's key in ``query.sort`` order.
    cursor: str | None = None
    #: AFTER: index of the first new row; BEFORE: index just past the last new row;
    #: WALK: index of the row whose key is ``cursor`` (-1 from the start, total from the end).
    index: int = 0
    #: WALK: the first index wanted in the page.
    target: int = 0
    backwards: bool = False
    #: AFTER/BEFORE: the id of the edge row, to check the window still ends there.
    edge_id: int | None = None
    #: ANCHOR: the run the cursor was on, kept there if it is still listed.
    anchor_id: int | None = None
    #: END: the count the view already has (refreshes keep it current), or None to count.
    known_total: int | None = None


@dataclass(frozen=True, slots=True)
class Loaded:
    fetch: Fetch
    rows: tuple[RunRow, ...]
    start: int  # absolute index of rows[0]
    total: int | None = None  # a count taken in the same read, if any
    more: bool = False  # START: rows exist past these
    cursor: int | None = None  # ANCHOR: where the cursor now belongs


class RunWindow:
    """Rows ``[start, start + len(rows))`` of a virtual list of ``total`` rows."""

    def __init__(self, *, page: int = PAGE, max_rows: int = MAX_WINDOW) -> None:
        self.page = page
        self.max_rows = max(max_rows, 3 * page)
        self.query = ViewQuery()
        self.generation = 0
        self.rows: list[RunRow] = []
        self.start = 0
        self.total = 0
        #: False until a count arrives; the list then shows what it has plus one more line.
        self.total_known = False
        self._more = False
        self._ids: dict[int, int] = {}
        #: A START/ANCHOR/END answer for this generation is on its way: plan nothing else
        #: (the list's worker group is exclusive, so asking would cancel it).
        self.replacing = False

    # -- reading --------------------------------------------------------------------

    @property
    def end(self) -> int:
        return self.start + len(self.rows)

    def row_at(self, index: int) -> RunRow | None:
        offset = index - self.start
        return self.rows[offset] if 0 <= offset < len(self.rows) else None

    def index_of(self, run_id: int) -> int | None:
        offset = self._ids.get(run_id)
        return None if offset is None else self.start + offset

    # -- changing the view -------------------------------------------------------------

    def reset(self, query: ViewQuery) -> Fetch:
        """A new query, from its first page. The old rows stay on screen until that page
        replaces them (no blank flash, one relayout instead of two)."""
        self.query = query
        self.generation += 1
        self.replacing = True
        return Fetch(FetchKind.START, query, self.generation, limit=min(self.page, FIRST_PAGE))

    def reanchor(self, query: ViewQuery, anchor: RunRow | None) -> Fetch:
        """Reload around ``anchor`` (the cursor row) under ``query``; the rows stay until
        the answer arrives, so the screen does not blink."""
        self.query = query
        self.generation += 1
        self.replacing = True
        if anchor is None:
            return Fetch(FetchKind.START, query, self.generation, limit=self.page)
        cursor = cursor_for(query.sort, anchor)
        return Fetch(
            FetchKind.ANCHOR,
            query,
            self.generation,
            limit=2 * self.page,
            cursor=cursor,
            anchor_id=anchor.id,
        )

    def jump_to_end(self) -> Fetch:
        self.replacing = True
        known = self.total if self.total_known else None
        return Fetch(FetchKind.END, self.query, self.generation, limit=self.page, known_total=known)

    def plan(self, lo: int, hi: int) -> Fetch | None:
        """What to fetch so rows ``[lo, hi)`` (the visible ones) are loaded, or None."""
        if self.replacing:
            return None
        if self.total_known:
            hi = min(hi, self.total)
        lo = max(0, min(lo, hi))
        if lo >= hi:
            return None
        query, generation, near = self.query, self.generation, self.page
        if not self.rows:
            return self._far(lo, hi)
        need_after = hi + near // 2 > self.end and (self._more or self.end < self.total)
        need_before = lo - near // 2 < self.start and self.start > 0
        if need_after and lo <= self.end + near:
            last = self.rows[-1]
            return Fetch(
                FetchKind.AFTER,
                query,
                generation,
                cursor=cursor_for(query.sort, last),
                limit=self.page,
                index=self.end,
                edge_id=last.id,
            )
        if need_before and hi >= self.start - near:
            first = self.rows[0]
            return Fetch(
                FetchKind.BEFORE,
                query,
                generation,
                cursor=cursor_for(query.sort, first),
                limit=self.page,
                index=self.start,
                edge_id=first.id,
            )
        if (need_after and lo > self.end + near) or (need_before and hi < self.start - near):
            return self._far(lo, hi)
        return None

    def _far(self, lo: int, hi: int) -> Fetch:
        """A jump away from the window: the nearest end of the list or of the window."""
        query, generation, near = self.query, self.generation, self.page
        most = min(MAX_PAGE, self.max_rows)
        if lo <= near:
            return Fetch(FetchKind.START, query, generation, limit=min(most, hi + near))
        if self.total_known and hi >= self.total - near:
            limit = min(most, self.total - lo + near)
            return Fetch(FetchKind.END, query, generation, limit=limit, known_total=self.total)
        target = max(0, lo - near // 2)
        limit = min(most, hi - target + near)
        # Walk from whichever known point is closest: a window edge or an end of the list.
        origins: list[tuple[int, Fetch]] = [
            (target, Fetch(FetchKind.WALK, query, generation, limit, index=-1, target=target))
        ]
        if self.total_known:
            origins.append(
                (
                    self.total - target,
                    Fetch(
                        FetchKind.WALK,
                        query,
                        generation,
                        limit,
                        index=self.total,
                        target=target,
                        backwards=True,
                    ),
                )
            )
        if self.rows:
            if target >= self.end:
                key = cursor_for(query.sort, self.rows[-1])
                walk = Fetch(
                    FetchKind.WALK,
                    query,
                    generation,
                    limit,
                    cursor=key,
                    index=self.end - 1,
                    target=target,
                )
                origins.append((target - self.end, walk))
            elif target < self.start:
                key = cursor_for(query.sort, self.rows[0])
                walk = Fetch(
                    FetchKind.WALK,
                    query,
                    generation,
                    limit,
                    cursor=key,
                    index=self.start,
                    target=target,
                    backwards=True,
                )
                origins.append((self.start - target, walk))
        return min(origins, key=lambda pair: pair[0])[1]

    # -- taking answers in ----------------------------------------------------------------

    def apply(self, loaded: Loaded) -> bool:
        """Take a fetched page in; False when it is stale (another query, or the window
        moved since it was asked for)."""
        fetch = loaded.fetch
        if fetch.generation != self.generation:
            return False
        rows = list(loaded.rows)
        if loaded.total is not None:
            self.total, self.total_known = loaded.total, True
        kind = fetch.kind
        if kind is FetchKind.AFTER:
            if not self.rows or self.rows[-1].id != fetch.edge_id or self.end != fetch.index:
                return False
            self._more = loaded.more
            self._replace(self.rows + rows, self.start)
            if len(self.rows) > self.max_rows:
                drop = len(self.rows) - self.max_rows
                self._replace(self.rows[drop:], self.start + drop)
        elif kind is FetchKind.BEFORE:
            if not self.rows or self.rows[0].id != fetch.edge_id or self.start != fetch.index:
                return False
            self._replace(rows + self.rows, loaded.start)
            if len(self.rows) > self.max_rows:
                self._replace(self.rows[: self.max_rows], self.start)
        else:
            if kind is FetchKind.START and loaded.total is None:
                # A new query: without more rows its count is what came; else it follows.
                self.total, self.total_known = len(rows), not loaded.more
            self._more = loaded.more
            self.replacing = False
            self._replace(rows, loaded.start)
        if not self.total_known:
            # Until the count arrives: what is loaded, plus a line when more exist.
            self.total = self.end + (1 if self._more else 0)
        elif self.end > self.total:
            self.total = self.end
        return True

    def set_total(self, total: int, generation: int) -> bool:
        if generation != self.generation:
            return False
        self.total, self.total_known = max(total, self.end), True
        return True

    def _replace(self, rows: list[RunRow], start: int) -> None:
        self.rows, self.start = rows, start
        self._ids = {row.id: offset for offset, row in enumerate(rows)}
