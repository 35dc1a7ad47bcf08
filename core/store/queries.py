"""The read side: keyset-paged lists, counts, one run's full detail.

Every list is ordered by an indexed key ending in ``id`` and paged by that key (a cursor
carries the last row's key): the cost of a page does not grow with how deep it is, and no
query ever uses OFFSET.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import sqlalchemy as sa

from parkbench.core import contracts
from parkbench.core.errors import ValidationError
from parkbench.core.lifecycle import OPEN_STATUSES, RunStatus
from parkbench.core.models import events, runs, tasks, workspaces
from parkbench.core.records import (
    Page,
    RunFilter,
    RunRow,
    SortKey,
)
from parkbench.core.store.filter_sql import filter_clauses, filter_needs_join

MAX_PAGE = 1000

_ROW_COLUMNS = (
    runs,
    tasks.c.title,
    tasks.c.metadata_json.label("task_metadata_json"),
    workspaces.c.name.label("workspace_name"),
    workspaces.c.root.label("workspace_root"),
)
_JOINED = runs.join(tasks, tasks.c.id == runs.c.task_id).join(
    workspaces, workspaces.c.id == runs.c.workspace_id
)

#: sort key -> (column, descending?) pairs; every order ends in id so keys are unique.
_ORDERS: dict[SortKey, tuple[tuple[sa.ColumnElement[Any], bool], ...]] = {
    SortKey.BLOCKED: ((runs.c.status_changed_at, False), (runs.c.id, False)),
    SortKey.PRIORITY: (
        (runs.c.priority, True),
        (runs.c.status_changed_at, False),
        (runs.c.id, False),
    ),
    SortKey.TASK: ((runs.c.task_id, False), (runs.c.id, False)),
}
_KEY_FIELDS: dict[SortKey, tuple[str, ...]] = {
    SortKey.BLOCKED: ("status_changed_at", "id"),
    SortKey.PRIORITY: ("priority", "status_changed_at", "id"),
    SortKey.TASK: ("task_id", "id"),
}


def run_with_task(run_id: int) -> sa.Select[Any]:
    return sa.select(*_ROW_COLUMNS).select_from(_JOINED).where(runs.c.id == run_id)


# -- cursors ---------------------------------------------------------------------------


def encode_cursor(sort: SortKey, key: tuple[int, ...]) -> str:
    raw = json.dumps([sort.value, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(sort: SortKey, cursor: str) -> tuple[int, ...]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
        name, *key = decoded
        if name != sort.value or len(key) != len(_KEY_FIELDS[sort]):
            raise ValueError("cursor is for another sort order")
        if not all(isinstance(k, int) and not isinstance(k, bool) for k in key):
            raise ValueError("cursor holds non-integer keys")
        return tuple(key)
    except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
        raise ValidationError(
            f"malformed cursor {cursor[:40]!r}",
            hint="pass the next_cursor from the previous `parkbench list --json` page",
        ) from None


def _key_of(sort: SortKey, row: RunRow) -> tuple[int, ...]:
    lookup = {
        "status_changed_at": row.status_changed_at_ms,
        "id": row.id,
        "priority": row.priority,
        "task_id": row.task_id,
    }
    return tuple(lookup[name] for name in _KEY_FIELDS[sort])


def _beyond(sort: SortKey, key: tuple[int, ...], forward: bool) -> sa.ColumnElement[bool]:
    """Rows strictly after (``forward``) or before ``key`` in ``sort`` order.

    Expanded as (a > x) OR (a = x AND (b > y OR ...)) so mixed directions work on both
    backends (row-value comparison only handles one direction).
    """
    order = _ORDERS[sort]
    condition: sa.ColumnElement[bool] | None = None
    for (column, descending), value in reversed(list(zip(order, key, strict=True))):
        ahead = (column < value) if (descending == forward) else (column > value)
        condition = (
            ahead if condition is None else sa.or_(ahead, sa.and_(column == value, condition))
        )
    assert condition is not None
    # The leading column's bound again, on its own: with bound parameters SQLite's planner
    # does not see the range inside the OR and walks the index from the start of the list
    # (a page deep in 100,000 parked runs cost 4x the first); with it, it seeks.
    (column, descending), value = order[0], key[0]
    leading = (column <= value) if (descending == forward) else (column >= value)
    return sa.and_(leading, condition)


# -- filters -----------------------------------------------------------------------------


def _where(run_filter: RunFilter) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = []
    matching = run_filter.matching
    status = matching.status if matching and matching.names_status else run_filter.status
    if status is not None:
        clauses.append(runs.c.status == status.value)
    if matching is not None:
        clauses += filter_clauses(matching)
    if run_filter.task_id is not None:
        clauses.append(runs.c.task_id == run_filter.task_id)
    if run_filter.run_ids is not None:
        # Inlined as literals (they are ints): a large set, such as the TUI's "ready to
        # requeue" filter, would pass the drivers' bind-parameter limits (PostgreSQL 65,535).
        ids: sa.BindParameter[tuple[int, ...]] = sa.bindparam(
            "run_ids", tuple(run_filter.run_ids), expanding=True, literal_execute=True, unique=True
        )
        clauses.append(runs.c.id.in_(ids))
    if run_filter.workspace:
        text = run_filter.workspace
        root = os.path.realpath(os.path.expanduser(text))
        clauses.append(sa.or_(workspaces.c.root == root, workspaces.c.name == text))
    if run_filter.worker:
        clauses.append(runs.c.worker == run_filter.worker)
    if run_filter.search and run_filter.search.strip():
        needle = run_filter.search.strip()
        clauses.append(
            sa.or_(
                tasks.c.title.icontains(needle, autoescape=True),
                runs.c.block_reason.icontains(needle, autoescape=True),
                runs.c.failure_reason.icontains(needle, autoescape=True),
                runs.c.worker.icontains(needle, autoescape=True),
                workspaces.c.root.icontains(needle, autoescape=True),
            )
        )
    return clauses


def _needs_join(run_filter: RunFilter) -> bool:
    return bool(
        run_filter.workspace
        or (run_filter.search and run_filter.search.strip())
        or (run_filter.matching and filter_needs_join(run_filter.matching))
    )


def to_row(row: Any) -> RunRow:
    # One dict per row: a Row's attribute access costs about a microsecond a field, and a
    # page reads two dozen fields of fifty rows (it was half the cost of a parked page).
    r = dict(zip(row._fields, row, strict=True))
    return RunRow(
        id=r["id"],
        task_id=r["task_id"],
        title=r["title"],
        workspace_id=r["workspace_id"],
        workspace_name=r["workspace_name"],
        workspace_root=r["workspace_root"],
        status=RunStatus(r["status"]),
        attempt=r["attempt"],
        max_attempts=r["max_attempts"],
        priority=r["priority"],
        worker=r["worker"],
        block_reason=r["block_reason"],
        failure_reason=r["failure_reason"],
        previous_run_id=r["previous_run_id"],
        lineage_depth=r["lineage_depth"],
        version=r["version"],
        queued_at_ms=r["queued_at"],
        claimed_at_ms=r["claimed_at"],
        blocked_at_ms=r["blocked_at"],
        finished_at_ms=r["finished_at"],
        lease_until_ms=r["lease_until"],
        status_changed_at_ms=r["status_changed_at"],
        attempt_limit_overridden=bool(r["attempt_limit_overridden"]),
        contract=contracts.stored_contract(r["task_metadata_json"], r["metadata_json"]),
        heartbeat_at_ms=r["heartbeat_at"],
    )


def _order(sort: SortKey, forward: bool) -> list[sa.UnaryExpression[Any]]:
    """ORDER BY for reading ``sort`` in its own direction (``forward``) or against it."""
    return [(col.desc() if desc == forward else col.asc()) for col, desc in _ORDERS[sort]]


def _keyset(
    run_filter: RunFilter,
    sort: SortKey,
    *,
    after: str | None,
    before: str | None,
    from_end: bool,
    reverse: bool,
) -> tuple[list[sa.ColumnElement[bool]], list[sa.UnaryExpression[Any]], bool]:
    """The WHERE clauses and ORDER BY of one keyset read, and whether it reads forward
    (``after`` or from the start) or backward (``before``, or ``from_end``)."""
    if after and before:
        raise ValidationError("pass either after or before, not both")
    forward = not (before or from_end)
    clauses = _where(run_filter)
    if after:
        clauses.append(_beyond(sort, decode_cursor(sort, after), forward=not reverse))
    if before:
        clauses.append(_beyond(sort, decode_cursor(sort, before), forward=reverse))
    return clauses, _order(sort, forward != reverse), forward


def list_runs(
    conn: sa.Connection,
    run_filter: RunFilter,
    *,
    sort: SortKey = SortKey.BLOCKED,
    limit: int = 50,
    after: str | None = None,
    before: str | None = None,
    from_end: bool = False,
    reverse: bool = False,
) -> Page:
    """One keyset page. ``after``/``before`` take cursors; ``from_end`` gives the last page.

    ``reverse`` flips the whole order (every key's direction): the same keys and cursors,
    read the other way, so "after" a cursor is what comes before it in the plain order.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(
            f"limit must be between 1 and {MAX_PAGE}, got {limit}",
            hint=f"pass --limit 1..{MAX_PAGE} and page with --after",
        )
    clauses, order, forward = _keyset(
        run_filter, sort, after=after, before=before, from_end=from_end, reverse=reverse
    )
    query = (
        sa.select(*_ROW_COLUMNS)
        .select_from(_JOINED)
        .where(*clauses)
        .order_by(*order)
        .limit(limit + 1)
    )
    fetched = [to_row(r) for r in conn.execute(query)]
    more = len(fetched) > limit
    rows = fetched[:limit]
    if not forward:
        rows.reverse()
    if not rows:
        return Page((), None, None)
    first, last = (
        encode_cursor(sort, _key_of(sort, rows[0])),
        encode_cursor(sort, _key_of(sort, rows[-1])),
    )
    if forward:
        return Page(tuple(rows), last if more else None, first if after else None)
    return Page(tuple(rows), last if before else None, first if more else None)


def count_runs(conn: sa.Connection, run_filter: RunFilter) -> int:
    source = _JOINED if _needs_join(run_filter) or run_filter.search else runs
    query = sa.select(sa.func.count()).select_from(source).where(*_where(run_filter))
    return int(conn.execute(query).scalar_one())


def cursor_for(sort: SortKey, row: RunRow) -> str:
    """The cursor at ``row``'s key: ``after=`` pages past it, ``before=`` pages up to it.

    A key stays a valid cursor after its row leaves the list, so a paged view can re-anchor
    on a row it saw (a refresh, a re-sort) without OFFSET.
    """
    return encode_cursor(sort, _key_of(sort, row))


def count_before(
    conn: sa.Connection,
    run_filter: RunFilter,
    *,
    sort: SortKey,
    cursor: str,
    reverse: bool = False,
) -> int:
    """How many matching rows sort strictly before ``cursor``: the index of that position."""
    source = _JOINED if _needs_join(run_filter) or run_filter.search else runs
    key = decode_cursor(sort, cursor)
    clauses = [*_where(run_filter), _beyond(sort, key, forward=reverse)]
    query = sa.select(sa.func.count()).select_from(source).where(*clauses)
    return int(conn.execute(query).scalar_one())


def skip_keys(
    conn: sa.Connection,
    run_filter: RunFilter,
    *,
    sort: SortKey,
    count: int,
    after: str | None = None,
    before: str | None = None,
    from_end: bool = False,
    reverse: bool = False,
) -> tuple[str | None, int]:
    """Pass over up to ``count`` rows reading only their sort keys; return the cursor of the
    last row passed and how many were passed (fewer at the end of the list).

    Forward from ``after`` (or the start); backward from ``before`` (or, with ``from_end``,
    from the end). A view uses it to jump deep into a long list by keyset: an index scan
    of keys, never OFFSET.
    """
    clauses, order, _ = _keyset(
        run_filter, sort, after=after, before=before, from_end=from_end, reverse=reverse
    )
    source = _JOINED if _needs_join(run_filter) or run_filter.search else runs
    keys = conn.execute(
        sa.select(*(runs.c[name] for name in _KEY_FIELDS[sort]))
        .select_from(source)
        .where(*clauses)
        .order_by(*order)
        .limit(max(1, count))
    ).all()
    if not keys:
        return None, 0
    return encode_cursor(sort, tuple(int(value) for value in keys[-1])), len(keys)


def matching_versions(
    conn: sa.Connection,
    run_filter: RunFilter,
    *,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[tuple[int, str, int]]:
    """``(id, status, version)`` of every matching run, in id order: what a bulk mark records.

    ``after_id`` and ``limit`` page it by id, so a bulk action over many runs reads a batch
    at a time and never a row's text.
    """
    source = _JOINED if _needs_join(run_filter) or run_filter.search else runs
    clauses = _where(run_filter)
    if after_id is not None:
        clauses.append(runs.c.id > after_id)
    query = (
        sa.select(runs.c.id, runs.c.status, runs.c.version)
        .select_from(source)
        .where(*clauses)
        .order_by(runs.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [(int(i), str(s), int(v)) for i, s, v in conn.execute(query)]


def counts_by_status(conn: sa.Connection) -> dict[str, int]:
    counts = {status.value: 0 for status in RunStatus}
    query = sa.select(runs.c.status, sa.func.count()).group_by(runs.c.status)
    for status, count in conn.execute(query):
        counts[status] = int(count)
    return counts


def change_marker(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0)


def open_run_id(conn: sa.Connection, task_id: int) -> int | None:
    return conn.execute(
        sa.select(runs.c.id).where(
            runs.c.task_id == task_id, runs.c.status.in_([s.value for s in OPEN_STATUSES])
        )
    ).scalar()
