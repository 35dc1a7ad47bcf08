"""The paged window behind the run list, against the real store on each backend: every way
of fetching rows lands the right runs at the right absolute indices, without OFFSET."""

from __future__ import annotations

import random

import pytest
from tuitest_support import park

from parkbench.core.records import RunFilter, SortKey
from parkbench.core.store import queries
from parkbench.tui.screens import loading
from parkbench.tui.widgets.run_window import Fetch, FetchKind, RunWindow, ViewQuery

TOTAL = 40


@pytest.fixture
def many(store, workspace, clock):  # type: ignore[no-untyped-def]
    """40 parked runs; blocked times tie in pairs and priorities repeat, so every order
    needs its id tie-break."""
    ids = []
    for i in range(TOTAL):
        ids.append(park(store, workspace, f"task {i:02}", f"reason {i}", priority=i % 3))
        if i % 2:
            clock.advance(10)
    return ids


def order(store, sort: SortKey) -> list[int]:
    return [row.id for row in store.list_runs(RunFilter(), sort=sort, limit=1000).rows]


def cursor_at(store, sort: SortKey, index: int) -> str:
    row = store.list_runs(RunFilter(), sort=sort, limit=1000).rows[index]
    return queries.cursor_for(sort, row)


@pytest.mark.parametrize("sort", list(SortKey))
def test_every_fetch_kind_places_rows_by_index(store, many, sort, monkeypatch):
    monkeypatch.setattr(loading, "SKIP_STEP", 4)  # walk in several key-skipping steps
    ids = order(store, sort)
    query = ViewQuery(sort=sort)

    def fetch(kind: FetchKind, **fields: object):
        loaded = loading.fetch_rows(store, Fetch(kind, query, 1, **fields))  # type: ignore[arg-type]
        return loaded.start, [row.id for row in loaded.rows], loaded

    assert fetch(FetchKind.START, limit=7)[:2] == (0, ids[:7])
    start, rows, loaded = fetch(FetchKind.END, limit=7)
    assert (start, rows, loaded.total) == (TOTAL - 7, ids[-7:], TOTAL)
    assert fetch(FetchKind.AFTER, limit=7, cursor=cursor_at(store, sort, 6), index=7)[:2] == (
        7,
        ids[7:14],
    )
    assert fetch(FetchKind.BEFORE, limit=7, cursor=cursor_at(store, sort, 20), index=20)[:2] == (
        13,
        ids[13:20],
    )
    assert fetch(FetchKind.WALK, limit=7, index=-1, target=23)[:2] == (23, ids[23:30])
    walk = fetch(FetchKind.WALK, limit=7, cursor=cursor_at(store, sort, 10), index=10, target=25)
    assert walk[:2] == (25, ids[25:32])
    back = fetch(FetchKind.WALK, limit=7, index=TOTAL, target=5, backwards=True)
    assert back[:2] == (5, ids[5:12])
    back = fetch(
        FetchKind.WALK,
        limit=7,
        cursor=cursor_at(store, sort, 30),
        index=30,
        target=3,
        backwards=True,
    )
    assert back[:2] == (3, ids[3:10])
    anchor = cursor_at(store, sort, 17)
    start, rows, loaded = fetch(FetchKind.ANCHOR, limit=8, cursor=anchor, anchor_id=ids[17])
    assert rows == ids[start : start + len(rows)] and loaded.cursor == 17
    for index in (0, 1, 17, TOTAL - 1):
        assert (
            store.read(
                lambda conn, i=index: queries.count_before(
                    conn, RunFilter(), sort=sort, cursor=cursor_at(store, sort, i)
                )
            )
            == index
        )


def test_anchor_keeps_the_place_of_a_run_that_left(store, many):
    ids = order(store, SortKey.BLOCKED)
    gone = ids[17]
    anchor = cursor_at(store, SortKey.BLOCKED, 17)
    store.requeue([gone], reason="done", actor="bob")
    loaded = loading.fetch_rows(
        store, Fetch(FetchKind.ANCHOR, ViewQuery(), 1, limit=8, cursor=anchor, anchor_id=gone)
    )
    rows = [row.id for row in loaded.rows]
    assert gone not in rows and loaded.total == TOTAL - 1
    assert loaded.cursor == 17 and rows[17 - loaded.start] == ids[18]


def drive(store, window: RunWindow, lo: int, hi: int) -> None:
    """Fetch and apply what the window plans until rows [lo, hi) are loaded."""
    for _ in range(10):
        fetch = window.plan(lo, hi)
        if fetch is None:
            return
        loaded = loading.fetch_rows(store, fetch)
        assert window.apply(loaded)
        if loaded.fetch.kind is FetchKind.START and loaded.more:
            window.set_total(loading.count_rows(store, window.query), window.generation)
    raise AssertionError(f"window did not converge on [{lo}, {hi})")


@pytest.mark.parametrize("sort", list(SortKey))
def test_window_converges_on_any_visible_range(store, many, sort):
    ids = order(store, sort)
    window = RunWindow(page=5, max_rows=15)
    first = window.reset(ViewQuery(sort=sort))
    window.apply(loading.fetch_rows(store, first))
    window.set_total(TOTAL, window.generation)
    rng = random.Random(5)
    ranges = [(0, 6), (5, 11), (30, 36), (34, 40), (12, 18), (2, 8)]
    ranges += [(lo, lo + 6) for lo in (rng.randrange(0, TOTAL - 6) for _ in range(15))]
    for lo, hi in ranges:
        drive(store, window, lo, hi)
        assert [window.row_at(i).id for i in range(lo, hi)] == ids[lo:hi]
        assert len(window.rows) <= window.max_rows
    # a far jump plans a key walk (or a list end), never a long chain of pages
    window.reset(ViewQuery(sort=sort))
    window.apply(
        loading.fetch_rows(store, Fetch(FetchKind.START, window.query, window.generation, limit=5))
    )
    window.set_total(TOTAL, window.generation)
    assert window.plan(20, 26).kind in (FetchKind.WALK, FetchKind.END)


def test_stale_answers_are_dropped(store, many):
    window = RunWindow(page=5)
    old = window.reset(ViewQuery())
    loaded = loading.fetch_rows(store, old)
    window.reset(ViewQuery(search="task 1"))
    assert not window.apply(loaded)
    assert not window.set_total(TOTAL, old.generation)


def test_a_short_or_empty_answer_leaves_nothing_to_ask(store, many):
    for search, expected in (('"task 1"', 10), ('"no such task"', 0)):
        window = RunWindow(page=5)
        fetch = window.reset(ViewQuery(search=search))
        assert window.plan(0, 20) is None  # the first page is on its way
        loaded = loading.fetch_rows(
            store, Fetch(FetchKind.START, fetch.query, fetch.generation, limit=50)
        )
        assert window.apply(loaded)
        assert window.total_known and window.total == expected
        assert window.plan(0, 20) is None
