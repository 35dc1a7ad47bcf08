"""``summary.json`` for ``parkbench snapshot``: counts by status and every parked run.

Every ``needs_attention`` run is listed with its reason and its receipts checked on disk,
so a CI job (or a person reading the artifact) sees what blocks the pipeline without opening
the database. It has to stay fast with 100,000 parked runs, so:

- rows come by keyset page (``status, status_changed_at, id``: the parked list's own index
  and order) with only the columns the summary prints, never as full ``RunRow`` records;
- a contract is parsed only for rows whose metadata mentions one;
- receipts are checked by :class:`ReceiptChecker`: each workspace root is resolved once and
  each directory listed once, and anything unusual (a symlink, a non-file, an unreadable
  directory) is handed to :func:`core.contracts.check_path` itself, so every answer is the
  one ``parkbench show`` and the TUI give;
- the JSON is written page by page (one line per run), never held whole.

Everything is read in one read transaction: the counts and the list agree. No Textual here.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import IO, Any

import sqlalchemy as sa

from core import inputs, queries
from core.contracts import (
    CONTRACT_KEY,
    ArtifactCheck,
    ArtifactState,
    Contract,
    check_path,
    parse_contract,
)
from core.errors import ValidationError
from core.lifecycle import RunStatus
from core.models import runs, tasks, workspaces
from core.store import Store
from tui.cli.output import iso

#: Parked runs read per query.
PAGE = 5000
#: Version of the summary document's shape (bump on an incompatible change).
SUMMARY_VERSION = 1

_PARKED = RunStatus.NEEDS_ATTENTION.value


def _if_contract(column: sa.ColumnElement[str]) -> sa.ColumnElement[str | None]:
    # Most runs have no contract: not fetching (decoding) their metadata at all is the
    # biggest saving per row. parse_contract still reads every one that mentions it.
    return sa.case((column.contains(CONTRACT_KEY, autoescape=True), column), else_=None)


_COLUMNS = (
    runs.c.id,
    runs.c.task_id,
    tasks.c.title,
    runs.c.block_reason,
    runs.c.blocked_at,
    runs.c.status_changed_at,
    runs.c.attempt,
    runs.c.max_attempts,
    runs.c.worker,
    runs.c.workspace_id,
    _if_contract(tasks.c.metadata_json),
    _if_contract(runs.c.metadata_json),
)
_JOINED = runs.join(tasks, tasks.c.id == runs.c.task_id)
# Case-insensitive file systems: a name missing from a listing may still exist under
# another case or normalisation, so there only check_path may call it missing.
_LISTING_IS_EXACT = sys.platform not in ("darwin", "win32")
_FILE = "file"
_OTHER = "other"
#: ASCII only: the document is safe to print anywhere; JSON readers decode the escapes.
_ENCODER = json.JSONEncoder(ensure_ascii=True, check_circular=False, allow_nan=False)
_ascii_string: Callable[[str], str] = encode_basestring_ascii


@dataclass(frozen=True, slots=True)
class SummaryTotals:
    """What the command needs to know once the summary is written."""

    counts: dict[str, int]
    parked: int  # needs_attention runs (the gate's answer)
    listed: int  # of which summary.json lists


def parked_page(conn: sa.Connection, after: tuple[int, int] | None, limit: int) -> list[Any]:
    """One page of parked runs in blocked-time order, after the key ``(changed_at, id)``."""
    query = sa.select(*_COLUMNS).select_from(_JOINED).where(runs.c.status == _PARKED)
    if after is not None:
        changed, run_id = after
        query = query.where(
            sa.or_(
                runs.c.status_changed_at > changed,
                sa.and_(runs.c.status_changed_at == changed, runs.c.id > run_id),
            )
        )
    query = query.order_by(runs.c.status_changed_at, runs.c.id).limit(limit)
    return list(conn.execute(query).all())


def contract_of(task_metadata: str | None, run_metadata: str | None) -> Contract:
    """The run's completion contract, as :func:`core.queries.to_row` reads it (metadata
    that does not mention one arrives as None and is not parsed at all)."""
    if task_metadata is None and run_metadata is None:
        return Contract()
    try:
        return parse_contract(inputs.load(task_metadata), inputs.load(run_metadata))
    except (ValidationError, ValueError, TypeError, AttributeError):
        return Contract()  # to_row's rule: one odd row never breaks a list


class ReceiptChecker:
    """:func:`core.contracts.check_path` for many paths: the same answers, fewer syscalls.

    A plain case (a regular file, or no entry at all, in a directory reached without
    symlinks) is answered from one cached listing of that directory; every other case is
    answered by ``check_path`` itself. Listings are taken once: the answers describe the
    disk as it was when each directory was first read.
    """

    def __init__(self) -> None:
        self._roots: dict[str, str | None] = {}
        self._listings: dict[tuple[str, str], dict[str, str] | None] = {}

    def check(self, root: str, relative: str) -> ArtifactCheck:
        """``check_path(root, relative)`` for a path from a parsed :class:`Contract` (so
        already normalised by :func:`normalize_path`; anything else takes the slow way)."""
        real_root = self._real_root(root)
        if real_root is None or not _plain(relative):
            return check_path(root, relative)
        parent, _, name = relative.rpartition("/")
        listing = self._listing(real_root, parent)
        if listing is None:
            return check_path(root, relative)
        kind = listing.get(name)
        if kind == _FILE:
            return ArtifactCheck(relative, ArtifactState.PRESENT)
        if kind is None and _LISTING_IS_EXACT:
            return ArtifactCheck(relative, ArtifactState.MISSING)
        return check_path(root, relative)

    def check_all(self, root: str, paths: tuple[str, ...]) -> list[ArtifactCheck]:
        return [self.check(root, path) for path in paths]

    def _real_root(self, root: str) -> str | None:
        if root not in self._roots:
            real = os.path.realpath(root)
            self._roots[root] = real if os.path.isdir(real) else None
        return self._roots[root]

    def _listing(self, real_root: str, parent: str) -> dict[str, str] | None:
        key = (real_root, parent)
        if key not in self._listings:
            self._listings[key] = _list_directory(real_root, parent)
        return self._listings[key]


def _plain(relative: str) -> bool:
    """True for a relative path in normal form (what normalize_path returns): no empty,
    ``.`` or ``..`` part, not absolute, no backslash or NUL."""
    wrapped = f"/{relative}/"
    return not (
        "//" in wrapped
        or "/./" in wrapped
        or "/../" in wrapped
        or "\\" in relative
        or "\x00" in relative
    )


def _list_directory(real_root: str, parent: str) -> dict[str, str] | None:
    """``name -> "file" | "other"`` for ``real_root/parent``; ``{}`` when it does not exist;
    None when check_path must decide (a symlink on the way, an unreadable directory)."""
    directory = os.path.join(real_root, parent) if parent else real_root
    if parent and os.path.realpath(directory) != directory:
        return None  # a symlink (or an odd component) on the way: resolve it the slow way
    listing: dict[str, str] = {}
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                regular = not entry.is_symlink() and entry.is_file(follow_symlinks=False)
                listing[entry.name] = _FILE if regular else _OTHER
    except FileNotFoundError:
        return {}
    except OSError:
        return None
    return listing


_MINUTE_SECOND = [f"{m:02d}:{s:02d}" for m in range(60) for s in range(60)]
_FRACTION = ["", *(f".{millis:03d}000" for millis in range(1, 1000))]


class _Times:
    """:func:`tui.cli.output.iso` for many instants: each hour's text is made once, the
    rest is looked up (the same text; test_snapshot_summary compares them)."""

    def __init__(self) -> None:
        self._hours: dict[int, str] = {}

    def iso(self, ms: int | None) -> str | None:
        if ms is None:
            return None
        hour, rest = divmod(ms, 3_600_000)
        prefix = self._hours.get(hour)
        if prefix is None:
            prefix = self._hours[hour] = str(iso(hour * 3_600_000))[:14]  # YYYY-MM-DDTHH:
        second, millis = divmod(rest, 1000)
        return f"{prefix}{_MINUTE_SECOND[second]}{_FRACTION[millis]}Z"


def _json_text(value: str | None) -> str:
    return "null" if value is None else _ascii_string(value)


def _entries(
    conn: sa.Connection, rows: list[Any], roots: dict[int, tuple[str, str]],
    checker: ReceiptChecker, times: _Times,
) -> list[str]:
    """One JSON object per run. Written by hand from JSON's own string encoder (C): a
    dict and the generic encoder per run cost three times as much (test_snapshot_summary
    checks the two agree)."""
    esc = _ascii_string
    when = times.iso
    lines = []
    append = lines.append
    for (run_id, task_id, title, reason, blocked_at, _changed, attempt, max_attempts, worker,
         workspace_id, task_metadata, run_metadata) in rows:
        workspace = roots.get(workspace_id)
        if workspace is None:
            root = _workspace_root(conn, workspace_id)
            workspace = roots[workspace_id] = (root, esc(root))
        receipts, present = "[]", 0
        if task_metadata is not None or run_metadata is not None:
            required = contract_of(task_metadata, run_metadata).required
            if required:
                checks = checker.check_all(workspace[0], required)
                present = sum(check.state is ArtifactState.PRESENT for check in checks)
                receipts = _ENCODER.encode([check.to_dict() for check in checks])
        blocked = when(blocked_at)
        # Inlined on purpose: this line runs once per parked run.
        append(
            f'{{"id": {run_id}, "task_id": {task_id}, "title": {esc(title)}, '
            f'"reason": {"null" if reason is None else esc(reason)}, '
            f'"blocked_at": {"null" if blocked is None else esc(blocked)}, '
            f'"worker": {"null" if worker is None else esc(worker)}, "attempt": {attempt}, '
            f'"max_attempts": {max_attempts}, "workspace": {workspace[1]}, '
            f'"receipts": {receipts}, "receipts_present": {present}}}'
        )
    return lines


def _workspace_root(conn: sa.Connection, workspace_id: int) -> str:
    query = sa.select(workspaces.c.root).where(workspaces.c.id == workspace_id)
    return str(conn.execute(query).scalar_one())


def write_summary(
    store: Store,
    out: IO[str],
    header: dict[str, object],
    *,
    limit: int | None = None,
    page: int = PAGE,
) -> SummaryTotals:
    """Write the summary document to ``out``: ``header`` first, then the counts, then the
    parked runs (one per line; every one, or the first ``limit`` in blocked-time order),
    then how many there are and how many are listed; :func:`close_summary` adds the last
    fields and ends it. Returns the counts and the number of parked runs.

    The document is pure ASCII (every other character is a ``\\u`` escape), so no byte of
    it can act on a terminal that prints it, whatever the agents wrote.
    """
    return store.read(lambda conn: _write(conn, out, header, limit, page))


def _write(
    conn: sa.Connection, out: IO[str], header: dict[str, object], limit: int | None, page: int
) -> SummaryTotals:
    if conn.dialect.name == "postgresql":
        # One snapshot for the counts and every page, as SQLite's read transaction gives.
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    counts = queries.counts_by_status(conn)
    encode = _ENCODER.encode
    opening = encode({"parkbench_snapshot": SUMMARY_VERSION, **header, "counts": counts,
                      "total": sum(counts.values())})
    out.write(opening[:-1] + ',\n"needs_attention": [')
    checker, times, roots = ReceiptChecker(), _Times(), {}
    listed = 0
    wanted = counts[_PARKED] if limit is None else min(limit, counts[_PARKED])
    after: tuple[int, int] | None = None
    while listed < wanted:
        rows = parked_page(conn, after, min(page, wanted - listed))
        if not rows:
            break
        out.write(("\n" if not listed else ",\n") + ",\n".join(
            _entries(conn, rows, roots, checker, times)))
        listed += len(rows)
        after = (rows[-1][5], rows[-1][0])
    total = counts[_PARKED] if limit is not None else listed
    out.write(f'\n],\n"needs_attention_total": {total},\n"needs_attention_listed": {listed}')
    return SummaryTotals(counts=counts, parked=total, listed=listed)


def close_summary(out: IO[str], fields: dict[str, object]) -> None:
    """End a document :func:`write_summary` began, adding ``fields`` (e.g. the screens)."""
    for key, value in fields.items():
        out.write(f",\n{_ENCODER.encode(key)}: {_ENCODER.encode(value)}")
    out.write("\n}\n")
