"""Issue 20.3: a parsed review filter in the store, on both backends: fields, AND of terms,
run ids, the status it names, literal wildcards, and keyset paging through the result."""

from __future__ import annotations

from pathlib import Path

import pytest
from testkit import FakeClock

from parkbench.core.filters import parse_filter
from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import RunFilter, SortKey
from parkbench.core.store import Store


def _park(store: Store, workspace: Path, title: str, reason: str, worker: str) -> int:
    run_id = store.enqueue(title, workspace, actor="ci").run_id
    claim = store.claim_next(worker)
    assert claim is not None and claim.run_id == run_id
    store.block(run_id, claim.claim_token, reason=reason)
    return run_id


@pytest.fixture
def runs(store: Store, tmp_path: Path, clock: FakeClock) -> dict[str, int]:
    payments = tmp_path / "payments"
    search = tmp_path / "search-index"
    payments.mkdir()
    search.mkdir()
    made = {}
    for key, root, title, reason, worker in [
        ("a", payments, "Settle invoices", "disk quota exceeded on runner 7", "agent-7"),
        ("b", payments, "Refund batch", "need approval", "agent-7"),
        ("c", search, "Rebuild index", "disk quota exceeded", "agent-7"),
        ("d", payments, "Reconcile", "disk quota exceeded", "agent-8"),
        ("e", search, "100% coverage_run", "literal 50% off_peak", "agent-9"),
    ]:
        clock.advance(5)
        made[key] = _park(store, root, title, reason, worker)
    made["queued"] = store.enqueue("Queued disk quota job", payments, actor="ci").run_id
    return made


def ids(store: Store, text: str, status: RunStatus | None = RunStatus.NEEDS_ATTENTION) -> set[int]:
    parsed = parse_filter(text)
    assert parsed.ok, parsed.problems
    run_filter = RunFilter(status=status, matching=parsed.filter)
    found = {row.id for row in store.list_runs(run_filter, limit=1000).rows}
    assert store.count_runs(run_filter) == len(found)
    return found


def test_terms_and_fields_all_apply(store: Store, runs: dict[str, int]) -> None:
    assert ids(store, 'worker:agent-7 workspace:payments "disk quota"') == {runs["a"]}
    assert ids(store, '"disk quota"') == {runs["a"], runs["c"], runs["d"]}
    assert ids(store, "workspace:search") == {runs["c"], runs["e"]}
    assert ids(store, "task:refund") == {runs["b"]}
    assert ids(store, "title:REBUILD reason:quota") == {runs["c"]}
    assert ids(store, "reason:invoices") == set()  # a title is not a reason
    assert ids(store, "worker:agent-8") == {runs["d"]}


def test_run_ids_find_the_run(store: Store, runs: dict[str, int]) -> None:
    target = runs["c"]
    assert ids(store, f"#{target}") == {target}
    assert ids(store, f"id:{target} #{runs['a']}") == {target, runs["a"]}
    assert target in ids(store, str(target))  # a bare number: the run, or the number in text
    assert ids(store, "7") >= {runs["a"]}  # "runner 7" / "agent-7"
    assert ids(store, f"#{runs['queued']}") == set()  # not parked ...
    assert ids(store, f"#{runs['queued']}", status=None) == {runs["queued"]}  # ... but there


def test_a_named_status_replaces_the_views(store: Store, runs: dict[str, int]) -> None:
    assert ids(store, '"disk quota" status:queued') == {runs["queued"]}
    assert ids(store, '"disk quota" status:all') == {runs[k] for k in ("a", "c", "d", "queued")}
    assert ids(store, "status:parked", status=RunStatus.QUEUED) == {runs[k] for k in "abcde"}


def test_wildcards_are_literal(store: Store, runs: dict[str, int]) -> None:
    assert ids(store, "100%") == {runs["e"]}
    assert ids(store, "0%_o") == set()  # "%" and "_" match only themselves
    assert ids(store, "50%") == {runs["e"]}
    assert ids(store, "off_peak") == {runs["e"]}
    assert ids(store, "off_") == {runs["e"]}
    # (the workspace roots hold "_": pytest's tmp_path is named after the test)
    assert ids(store, "reason:%") == {runs["e"]}
    assert ids(store, "reason:_") == {runs["e"]}
    assert ids(store, "task:_") == {runs["e"]}
    assert ids(store, "o%f") == set()


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", '\\" OR 1=1 --', "'; DROP TABLE runs; --"])
def test_hostile_values_match_literally_and_never_fail(
    store: Store, runs: dict[str, int], text: str
) -> None:
    from parkbench.core.filters import quote

    assert ids(store, quote(text)) == set()
    assert ids(store, f"worker:{quote(text)}") == set()
    assert len(ids(store, "")) == 5  # the table is still there


@pytest.mark.parametrize("sort", list(SortKey))
@pytest.mark.parametrize("reverse", [False, True])
def test_keyset_pages_walk_the_filtered_list(
    store: Store, runs: dict[str, int], sort: SortKey, reverse: bool
) -> None:
    run_filter = RunFilter(status=None, matching=parse_filter('"disk quota"').filter)
    whole = [row.id for row in store.list_runs(run_filter, sort=sort, reverse=reverse).rows]
    assert len(whole) == 4
    seen: list[int] = []
    cursor = None
    while True:
        page = store.list_runs(run_filter, sort=sort, limit=1, after=cursor, reverse=reverse)
        seen += [row.id for row in page.rows]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == whole
    back = store.list_runs(run_filter, sort=sort, limit=2, from_end=True, reverse=reverse)
    assert [row.id for row in back.rows] == whole[-2:]
