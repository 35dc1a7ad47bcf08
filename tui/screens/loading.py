"""Store reads and writes for the main screen, run inside thread workers.

Plain functions over :class:`parkbench.core.store.Store`: no Textual here, so each is safe on any
thread and testable on its own. The screen's workers call them and post the answers as
messages; nothing in this module touches a widget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

import sqlalchemy as sa

from parkbench.core.contracts import ArtifactState, check_artifacts
from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.records import ActionResult, Expectation, Page, RunFilter, RunRow
from parkbench.core.store import Store, queries, reasons
from parkbench.tui.widgets.run_window import Fetch, FetchKind, Loaded, ViewQuery

#: Keys skipped per query when walking to a far index (an index scan, ~3 ms per 1,000).
SKIP_STEP = 10_000


def fetch_rows(store: Store, fetch: Fetch) -> Loaded:
    """Answer one :class:`Fetch` in a single read transaction."""
    return store.read(lambda conn: _fetch(conn, fetch))


def fetch_first(store: Store, fetch: Fetch) -> Loaded:
    """A query's first page and its count, in one read: the first screen shows both."""

    def read(conn: sa.Connection) -> Loaded:
        page = _page(conn, fetch)
        total = queries.count_runs(conn, fetch.query.run_filter())
        return Loaded(fetch, page.rows, 0, total=total, more=page.next_cursor is not None)

    return store.read(read)


def _page(conn: sa.Connection, fetch: Fetch, **where: object) -> Page:
    return queries.list_runs(
        conn,
        fetch.query.run_filter(),
        sort=fetch.query.sort,
        reverse=fetch.query.reverse,
        limit=fetch.limit,
        **where,
    )


def _fetch(conn: sa.Connection, fetch: Fetch) -> Loaded:
    kind = fetch.kind
    if kind is FetchKind.START:
        page = _page(conn, fetch)
        more = page.next_cursor is not None
        if more and not fetch.query.filter.terms:
            # Counting one status is an index-only count: cheap enough to come with the
            # page, so the list gets its height in one step. A search scans every row:
            # that count comes separately, after the rows are on screen.
            total = queries.count_runs(conn, fetch.query.run_filter())
            return Loaded(fetch, page.rows, 0, total=total, more=more)
        return Loaded(fetch, page.rows, 0, more=more)
    if kind is FetchKind.END:
        total = fetch.known_total
        counted = total is None
        if total is None:
            total = queries.count_runs(conn, fetch.query.run_filter())
        page = _page(conn, fetch, from_end=True)
        start = max(0, total - len(page.rows))
        return Loaded(fetch, page.rows, start, total=total if counted else None)
    if kind is FetchKind.AFTER:
        page = _page(conn, fetch, after=fetch.cursor)
        return Loaded(fetch, page.rows, fetch.index, more=page.next_cursor is not None)
    if kind is FetchKind.BEFORE:
        page = _page(conn, fetch, before=fetch.cursor)
        return Loaded(fetch, page.rows, max(0, fetch.index - len(page.rows)))
    if kind is FetchKind.WALK:
        return _walk_back(conn, fetch) if fetch.backwards else _walk(conn, fetch)
    return _anchor(conn, fetch)


def _skip(conn: sa.Connection, fetch: Fetch, count: int, **where: object) -> tuple[str | None, int]:
    return queries.skip_keys(
        conn,
        fetch.query.run_filter(),
        sort=fetch.query.sort,
        reverse=fetch.query.reverse,
        count=count,
        **where,
    )


def _walk(conn: sa.Connection, fetch: Fetch) -> Loaded:
    """Forward from the row at ``fetch.index`` (-1: the start) to ``fetch.target``."""
    cursor, index = fetch.cursor, fetch.index
    remaining = fetch.target - (index + 1)
    while remaining > 0:
        landed, passed = _skip(conn, fetch, min(remaining, SKIP_STEP), after=cursor)
        if not passed:
            break
        cursor, index, remaining = landed, index + passed, remaining - passed
    page = _page(conn, fetch, after=cursor)
    return Loaded(fetch, page.rows, index + 1, more=page.next_cursor is not None)


def _walk_back(conn: sa.Connection, fetch: Fetch) -> Loaded:
    """Backward from the row at ``fetch.index`` (total: the end) so the page ends just
    before ``fetch.target + fetch.limit``."""
    cursor, index = fetch.cursor, fetch.index
    remaining = index - (fetch.target + fetch.limit)
    while remaining > 0:
        where = {"before": cursor} if cursor else {"from_end": True}
        landed, passed = _skip(conn, fetch, min(remaining, SKIP_STEP), **where)
        if not passed:
            break
        cursor, index, remaining = landed, index - passed, remaining - passed
    page = _page(conn, fetch, before=cursor) if cursor else _page(conn, fetch, from_end=True)
    return Loaded(fetch, page.rows, max(0, index - len(page.rows)))


def _anchor(conn: sa.Connection, fetch: Fetch) -> Loaded:
    """The rows around a key the view showed, with its index and a fresh count."""
    assert fetch.cursor is not None
    run_filter, sort, reverse = fetch.query.run_filter(), fetch.query.sort, fetch.query.reverse
    total = queries.count_runs(conn, run_filter)
    index = queries.count_before(conn, run_filter, sort=sort, cursor=fetch.cursor, reverse=reverse)
    before: tuple[RunRow, ...] = ()
    if index > 0:
        before = queries.list_runs(
            conn,
            run_filter,
            sort=sort,
            reverse=reverse,
            limit=fetch.limit // 2,
            before=fetch.cursor,
        ).rows
    after_key = queries.cursor_for(sort, before[-1]) if before else None
    page = queries.list_runs(
        conn, run_filter, sort=sort, reverse=reverse, limit=fetch.limit, after=after_key
    )
    start = index - len(before)
    rows = before + page.rows
    cursor = index
    for offset, row in enumerate(page.rows):
        if row.id == fetch.anchor_id:
            cursor = index + offset
            break
    cursor = max(0, min(cursor, total - 1))
    return Loaded(fetch, rows, start, total=total, more=page.next_cursor is not None, cursor=cursor)


def run_in_view(store: Store, query: ViewQuery, run_id: int) -> bool:
    """Whether ``query`` (status, search, the ready filter) lists run ``run_id``."""
    if query.run_ids is not None and run_id not in query.run_ids:
        return False
    only = replace(query.run_filter(), run_ids=(run_id,))
    return store.count_runs(only) > 0


def count_rows(store: Store, query: ViewQuery) -> int:
    return store.count_runs(query.run_filter())


def receipt_counts(rows: Iterable[RunRow]) -> dict[int, tuple[int, int]]:
    """``run id -> (present, required)`` for rows with a completion contract (disk I/O)."""
    counts: dict[int, tuple[int, int]] = {}
    for row in rows:
        required = row.contract.required
        if required:
            checks = check_artifacts(row.workspace_root, required)
            present = sum(check.state is ArtifactState.PRESENT for check in checks)
            counts[row.id] = (present, len(required))
    return counts


def matching_expectations(store: Store, query: ViewQuery) -> dict[int, Expectation]:
    """What a bulk mark records: each matching run as it is now."""
    rows = store.read(lambda conn: queries.matching_versions(conn, query.run_filter()))
    return {run_id: Expectation(RunStatus(status), version) for run_id, status, version in rows}


def inverted_marks(
    in_view: Mapping[int, Expectation], marks: Mapping[int, Expectation]
) -> dict[int, Expectation]:
    """The marks after inverting them over the runs ``in_view``: the unmarked ones there
    become marked, the marked ones unmarked; marks on runs out of view stay."""
    kept = {run_id: mark for run_id, mark in marks.items() if run_id not in in_view}
    added = {run_id: mark for run_id, mark in in_view.items() if run_id not in marks}
    return kept | added


#: Runs read per query by :func:`rows_by_id` (their ids are inlined in the statement).
IDS_PER_READ = 500


def rows_by_id(store: Store, run_ids: Sequence[int]) -> dict[int, RunRow]:
    """The runs ``run_ids`` as they are now, any status; ids not in the store are absent."""

    def read(conn: sa.Connection) -> dict[int, RunRow]:
        found: dict[int, RunRow] = {}
        for lo in range(0, len(run_ids), IDS_PER_READ):
            chunk = tuple(run_ids[lo : lo + IDS_PER_READ])
            run_filter = RunFilter(status=None, run_ids=chunk)
            page = queries.list_runs(conn, run_filter, limit=len(chunk))
            found.update((row.id, row) for row in page.rows)
        return found

    return store.read(read) if run_ids else {}


def reason_counts(store: Store, run_ids: Sequence[int]) -> tuple[tuple[str, int], ...]:
    """The distinct block reasons of ``run_ids`` with how many runs have each."""
    counts = store.read(lambda conn: reasons.block_reason_counts(conn, run_ids))
    return tuple(counts.items())


#: Runs per store call of a bulk action: between two batches the reviewer may stop it.
ACTION_BATCH = 200


def apply_action(
    store: Store,
    action: Action,
    expected: Mapping[int, Expectation],
    *,
    reason: str,
    actor: str | None,
    should_stop: Callable[[], bool] = lambda: False,
    priority: int | None = None,
) -> list[ActionResult]:
    """``action`` on ``expected``, a batch (one store call) at a time; once
    ``should_stop()`` says so, the runs not yet reached are left as they are."""
    run_ids: Sequence[int] = list(expected)
    results: list[ActionResult] = []
    for lo in range(0, len(run_ids), ACTION_BATCH):
        if lo and should_stop():
            break
        batch = run_ids[lo : lo + ACTION_BATCH]
        results += store.review(
            action,
            batch,
            reason=reason,
            actor=actor,
            expected={run_id: expected[run_id] for run_id in batch},
            priority=priority,
        )
    return results
