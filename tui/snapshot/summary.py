"""``summary.json`` for ``parkbench snapshot``: counts by status, every parked run, causes.

Every ``needs_attention`` run is listed, oldest first, with its reason and its receipts
checked on disk, so a CI job (or a person reading the artifact) sees what blocks the
pipeline without opening the database. The runs come from the store's keyset read side
(:func:`parkbench.core.store.parked_reads.parked_runs`, one page at a time) and the counts from
:func:`~parkbench.core.store.queries.counts_by_status`, all in one read transaction, so the
counts and the list agree; then every parked run folded by cause
(:mod:`parkbench.core.causes`, the groups of ``parkbench causes --json``) in the same
transaction. The document is written as it is read, one line per run, never
held whole, and is pure ASCII (every other character a ``\\u`` escape): no byte of it can
act on a terminal that prints it, whatever the agents wrote. No Textual here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from parkbench.core.store import parked_reads, queries
from parkbench.core.store.causes import fold_parked
from parkbench.tui.snapshot.receipts import ENCODER, ReceiptChecker, ascii_string, receipts_of
from parkbench.tui.timefmt import iso

if TYPE_CHECKING:
    import sqlalchemy as sa

    from parkbench.core.store import Store

#: Parked runs read per query.
PAGE = 1000
#: Version of the summary document's shape (bump on an incompatible change).
SUMMARY_VERSION = 1
PARKED = "needs_attention"


@dataclass(frozen=True, slots=True)
class SummaryTotals:
    """What the command needs to know once the summary is written."""

    counts: dict[str, int]
    parked: int  # needs_attention runs (the gate's answer)
    listed: int  # of which summary.json lists


def write_summary(
    store: Store,
    out: IO[str],
    header: dict[str, object],
    *,
    limit: int | None = None,
    page: int = PAGE,
) -> SummaryTotals:
    """Write the summary document to ``out``: ``header``, the counts, every parked run (or
    the oldest ``limit``) and the totals; :func:`close_summary` adds the last fields and
    ends it. Returns the counts and the number of parked runs."""

    def body(conn: sa.Connection) -> SummaryTotals:
        if conn.dialect.name == "postgresql":
            # One snapshot for the counts and every page, as SQLite's read transaction gives.
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        counts = queries.counts_by_status(conn)
        parked = counts[PARKED]
        wanted = parked if limit is None else min(limit, parked)
        opening = ENCODER.encode(
            {
                "parkbench_snapshot": SUMMARY_VERSION,
                **header,
                "counts": counts,
                "total": sum(counts.values()),
            }
        )
        out.write(opening[:-1] + ',\n"needs_attention": [')
        lines = Lines()
        listed = 0
        after: tuple[int, int] | None = None
        while listed < wanted:
            rows = parked_reads.parked_runs(conn, after, min(page, wanted - listed))
            if not rows:
                break  # fewer than counted: not in one snapshot (cannot happen), stop cleanly
            out.write(("\n" if not listed else ",\n") + lines.text(rows))
            listed += len(rows)
            after = rows[-1].key
        total = parked if limit is not None else listed
        out.write(f'\n],\n"needs_attention_total": {total},\n"needs_attention_listed": {listed}')
        # Every parked run by cause, in the same snapshot (whatever --summary-limit lists).
        causes = fold_parked(conn)
        out.write(',\n"causes": [')
        out.write(",".join("\n" + ENCODER.encode(group.to_dict()) for group in causes.groups))
        out.write(f'\n],\n"causes_total": {causes.groups_total}')
        return SummaryTotals(counts=counts, parked=total, listed=listed)

    return store.read(body)


def close_summary(out: IO[str], fields: dict[str, object]) -> None:
    """End a document :func:`write_summary` began, adding ``fields`` (e.g. the screens)."""
    for key, value in fields.items():
        out.write(f",\n{ENCODER.encode(key)}: {ENCODER.encode(value)}")
    out.write("\n}\n")


class Lines:
    """Parked runs as the document's lines, one JSON object each (receipts checked on disk,
    each directory listed once per document).

    Written by hand from JSON's own C string encoder: a dict and the generic encoder per
    run cost three times as much (test_snapshot_summary checks the two agree).
    """

    def __init__(self) -> None:
        self._checker = ReceiptChecker()
        self._roots: dict[str, str] = {}
        self._times = Times()

    def text(self, rows: Iterable[parked_reads.ParkedRun]) -> str:
        """The rows' lines joined by ``",\\n"`` (pure ASCII)."""
        esc = ascii_string
        roots = self._roots
        when = self._times.iso
        lines = []
        for run in rows:
            root = run.workspace_root
            workspace = roots.get(root)
            if workspace is None:
                workspace = roots[root] = esc(root)
            receipts, present = receipts_of(self._checker, root, run.contract)
            blocked = when(run.blocked_at_ms)
            reason, worker = run.block_reason, run.worker
            lines.append(
                f'{{"id": {run.id}, "task_id": {run.task_id}, "title": {esc(run.title)}, '
                f'"reason": {"null" if reason is None else esc(reason)}, '
                f'"blocked_at": {"null" if blocked is None else esc(blocked)}, '
                f'"worker": {"null" if worker is None else esc(worker)}, '
                f'"attempt": {run.attempt}, "max_attempts": {run.max_attempts}, '
                f'"workspace": {workspace}, "receipts": {receipts}, '
                f'"receipts_present": {present}}}'
            )
        return ",\n".join(lines)


_MINUTE_SECOND = [f"{m:02d}:{s:02d}" for m in range(60) for s in range(60)]
_FRACTION = ["", *(f".{millis:03d}000" for millis in range(1, 1000))]


class Times:
    """:func:`parkbench.tui.timefmt.iso` for many instants: each hour's text is made once,
    the rest is looked up (the same text; test_snapshot_summary compares them)."""

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
