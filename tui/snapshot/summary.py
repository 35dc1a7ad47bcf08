"""``summary.json`` for ``parkbench snapshot``: counts by status and every parked run.

Every ``needs_attention`` run is listed with its reason and its receipts checked on disk,
so a CI job (or a person reading the artifact) sees what blocks the pipeline without opening
the database. The document is written as it is read, one line per run, never held whole.
It has to stay fast with 100,000 parked runs, so two writers make the same bytes:

- :mod:`parkbench.tui.snapshot.sqlite` on SQLite: the raw ``sqlite3`` connection, without
  SQLAlchemy (whose row processing cost more than the rest), so the CLI's writer process
  also starts at once, before anything heavy is imported;
- :mod:`parkbench.tui.snapshot.rows` anywhere else (PostgreSQL), through SQLAlchemy Core.

Both read the same columns in the same order (:data:`COLUMNS`), write them with
:class:`Lines` (receipts by :class:`parkbench.tui.snapshot.receipts.Receipts`, each directory listed
once) and read everything in one read transaction: the counts and the list agree.
No Textual here, and no SQLAlchemy until a writer needs it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from parkbench.tui.snapshot.receipts import ENCODER, Receipts, ascii_string

if TYPE_CHECKING:
    from parkbench.core.store import Store

T = TypeVar("T")

#: Parked runs read per query (SQLAlchemy) or fetch (SQLite).
PAGE = 5000
#: Version of the summary document's shape (bump on an incompatible change).
SUMMARY_VERSION = 1
PARKED = "needs_attention"


@dataclass(frozen=True, slots=True)
class SummaryTotals:
    """What the command needs to know once the summary is written."""

    counts: dict[str, int]
    parked: int  # needs_attention runs (the gate's answer)
    listed: int  # of which summary.json lists


class Document:
    """The summary document as it is written: the opening (``header``, the counts), the
    parked runs' lines as they come, then how many there are and how many are listed;
    :func:`close_summary` adds the last fields and ends it.

    Pure ASCII (every other character is a ``\\u`` escape), so no byte of it can act on a
    terminal that prints it, whatever the agents wrote.
    """

    def __init__(self, out: IO[str], header: dict[str, object], counts: dict[str, int]):
        self.out = out
        self.listed = 0
        opening = ENCODER.encode({"parkbench_snapshot": SUMMARY_VERSION, **header,
                                  "counts": counts, "total": sum(counts.values())})
        out.write(opening[:-1] + ',\n"needs_attention": [')

    def add(self, lines: str, count: int) -> None:
        """``count`` runs' lines, joined by ``",\\n"``."""
        if count:
            self.out.write(("\n" if not self.listed else ",\n") + lines)
            self.listed += count

    def add_file(self, lines: IO[bytes], count: int) -> None:
        """``count`` runs' lines from a file (ASCII, joined by ``",\n"``), copied as
        bytes into ``out`` (a text file opened on a binary one)."""
        if count:
            self.out.write("\n" if not self.listed else ",\n")
            self.out.flush()
            shutil.copyfileobj(lines, self.out.buffer)  # type: ignore[attr-defined]
            self.listed += count

    def end(self, counts: dict[str, int], *, limited: bool) -> SummaryTotals:
        total = counts[PARKED] if limited else self.listed
        self.out.write(
            f'\n],\n"needs_attention_total": {total},\n"needs_attention_listed": {self.listed}'
        )
        return SummaryTotals(counts=counts, parked=total, listed=self.listed)


def close_summary(out: IO[str], fields: dict[str, object]) -> None:
    """End a document :func:`write_summary` began, adding ``fields`` (e.g. the screens)."""
    for key, value in fields.items():
        out.write(f",\n{ENCODER.encode(key)}: {ENCODER.encode(value)}")
    out.write("\n}\n")


def write_summary(
    store: Store,
    out: IO[str],
    header: dict[str, object],
    *,
    limit: int | None = None,
    page: int = PAGE,
    generic: bool = False,
) -> SummaryTotals:
    """Write the summary document to ``out`` (every parked run, or the first ``limit`` in
    blocked-time order); :func:`close_summary` ends it. Returns the counts and the number
    of parked runs. ``generic``: the SQLAlchemy writer even on SQLite (tests compare)."""
    if not generic and store.engine.dialect.name == "sqlite":
        from parkbench.tui.snapshot.sqlite import write_sqlite

        def direct(conn: Any) -> SummaryTotals:  # an sa.Connection, its transaction begun
            driver = conn.connection.driver_connection
            return write_sqlite(driver, out, header, limit=limit, page=page)

        return _sqlite_errors(store.url, lambda: store.read(direct))
    from parkbench.tui.snapshot.rows import write_rows

    return store.read(lambda conn: write_rows(conn, out, header, limit=limit, page=page))


def write_summary_file(
    url: str, path: Path, header: dict[str, object], *, limit: int | None, share: bool = False
) -> SummaryTotals:
    """Write the summary document into a new file at ``path`` from the database at ``url``
    (resolved). A plain SQLite file is read on a connection of its own, without SQLAlchemy
    (the snapshot command's writer process starts before anything heavy is imported).
    ``share``: on SQLite, make half of the lines in a forked helper (from a process with
    one thread; :func:`parkbench.tui.snapshot.sqlite.write_file`)."""
    from parkbench.core.db.info import sqlite_file

    db = sqlite_file(url)
    if db is not None and db.is_file():  # else the store says what is wrong
        from parkbench.tui.snapshot.sqlite import write_file

        totals = _sqlite_errors(
            url, lambda: write_file(db, path, header, limit=limit, share=share)
        )
        if totals is not None:
            return totals
    from parkbench.core.store import Store

    with Store.open(url, read_only=True) as store, path.open(
        "w", encoding="utf-8", newline="\n"
    ) as out:
        return write_summary(store, out, header, limit=limit)


def _sqlite_errors(url: str, body: Callable[[], T]) -> T:
    """``body()``, with a driver error from the raw connection made the ``database``
    error the store would have raised."""
    import sqlite3

    from parkbench.core.db.info import translate

    try:
        return body()
    except sqlite3.Error as error:
        raise translate(error, url) from None


#: The columns each writer's query returns, in this order (the formatter unpacks them).
COLUMNS = (
    "id", "task_id", "title", "block_reason", "blocked_at", "attempt", "max_attempts",
    "worker", "workspace_id", "task_metadata (if it mentions a contract)",
    "run_metadata (if it mentions a contract)", "status_changed_at",
)


class Lines:
    """Parked runs' rows (:data:`COLUMNS`) as the document's lines, one JSON object each.

    Written by hand from JSON's own C string encoder: a dict and the generic encoder per
    run cost three times as much (test_snapshot_summary checks the two agree). ``root_of``
    gives a workspace's root by id (asked once per workspace).
    """

    def __init__(self, root_of: Callable[[int], str]) -> None:
        self._root_of = root_of
        self._roots: dict[int, tuple[str, str]] = {}
        self._receipts = Receipts()
        self._times = Times()

    def text(self, rows: Sequence[Sequence[Any]]) -> str:
        """The rows' lines joined by ``",\n"`` (pure ASCII)."""
        esc = ascii_string
        when = self._times.iso
        receipts_of = self._receipts.of
        roots = self._roots
        lines = []
        append = lines.append
        for (run_id, task_id, title, reason, blocked_at, attempt, max_attempts, worker,
             workspace_id, task_metadata, run_metadata, _changed) in rows:
            workspace = roots.get(workspace_id)
            if workspace is None:
                root = self._root_of(workspace_id)
                workspace = roots[workspace_id] = (root, esc(root))
            receipts, present = "[]", 0
            if task_metadata is not None or run_metadata is not None:
                receipts, present = receipts_of(workspace[0], task_metadata, run_metadata)
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
        return ",\n".join(lines)


_MINUTE_SECOND = [f"{m:02d}:{s:02d}" for m in range(60) for s in range(60)]
_FRACTION = ["", *(f".{millis:03d}000" for millis in range(1, 1000))]


class Times:
    """:func:`parkbench.tui.cli.output.iso` for many instants: each hour's text is made once, the
    rest is looked up (the same text; test_snapshot_summary compares them)."""

    def __init__(self) -> None:
        from parkbench.tui.cli.output import iso

        self._iso = iso
        self._hours: dict[int, str] = {}

    def iso(self, ms: int | None) -> str | None:
        if ms is None:
            return None
        hour, rest = divmod(ms, 3_600_000)
        prefix = self._hours.get(hour)
        if prefix is None:
            prefix = self._hours[hour] = str(self._iso(hour * 3_600_000))[:14]  # YYYY-MM-DDTHH:
        second, millis = divmod(rest, 1000)
        return f"{prefix}{_MINUTE_SECOND[second]}{_FRACTION[millis]}Z"
