"""A reversed sort is the plain order read the other way, page by page, by keyset."""

from __future__ import annotations

from pathlib import Path

import pytest
from testkit import FakeClock

from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import RunFilter, SortKey
from parkbench.core.store import NewTask, Store, queries

EVERY = RunFilter(status=None)


@pytest.fixture
def many(store: Store, workspace: Path, clock: FakeClock) -> list[int]:
    ids = []
    for i in range(23):
        clock.advance(1 + i % 3)  # ties in time and priority: the id breaks them
        ids += [e.run_id for e in store.enqueue_many([NewTask(f"t{i}", workspace, priority=i % 4)])]
    return ids


def _walk(store: Store, sort: SortKey, *, reverse: bool, limit: int = 5) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        page = store.list_runs(EVERY, sort=sort, limit=limit, after=cursor, reverse=reverse)
        seen += [row.id for row in page.rows]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def _walk_back(store: Store, sort: SortKey, *, reverse: bool, limit: int = 4) -> list[int]:
    page = store.list_runs(EVERY, sort=sort, limit=limit, from_end=True, reverse=reverse)
    seen = [row.id for row in page.rows]
    while page.prev_cursor is not None:
        page = store.list_runs(
            EVERY, sort=sort, limit=limit, before=page.prev_cursor, reverse=reverse
        )
        seen = [row.id for row in page.rows] + seen
    return seen


@pytest.mark.parametrize("sort", list(SortKey))
def test_reversed_pages_are_the_plain_order_backwards(
    store: Store, many: list[int], sort: SortKey
) -> None:
    plain = _walk(store, sort, reverse=False)
    assert sorted(plain) == sorted(many) and len(plain) == 23
    assert _walk(store, sort, reverse=True) == plain[::-1]
    assert _walk_back(store, sort, reverse=True) == plain[::-1]
    assert _walk_back(store, sort, reverse=False) == plain


@pytest.mark.parametrize("sort", list(SortKey))
def test_index_and_skip_follow_the_reversed_order(
    store: Store, many: list[int], sort: SortKey
) -> None:
    reversed_ids = _walk(store, sort, reverse=True)
    with store.engine.connect() as conn:
        for index in (0, 7, 22):
            row = store.get_run(reversed_ids[index], check_disk=False).run
            cursor = queries.cursor_for(sort, row)
            assert (
                queries.count_before(conn, EVERY, sort=sort, cursor=cursor, reverse=True) == index
            )
        cursor, passed = queries.skip_keys(conn, EVERY, sort=sort, count=10, reverse=True)
        assert passed == 10
        page = queries.list_runs(conn, EVERY, sort=sort, limit=3, after=cursor, reverse=True)
        assert [r.id for r in page.rows] == reversed_ids[10:13]


def test_priority_reversed_puts_the_lowest_first(store: Store, many: list[int]) -> None:
    rows = store.list_runs(
        RunFilter(status=RunStatus.QUEUED), sort=SortKey.PRIORITY, limit=50, reverse=True
    ).rows
    assert [r.priority for r in rows] == sorted(r.priority for r in rows)
