"""Follow the store's parked set: a keyset-paged load, then cheap event deltas.

Blocking database calls: the watcher runs every method here in a worker thread.

The delta reads events past a marker that moved a run into or out of ``needs_attention``.
On PostgreSQL event ids come from a sequence and a transaction may commit after one holding
a later id, so while events are flowing each poll looks back over a window of recent ids and
skips the ones already handled (SQLite serialises writers, so its ids commit in order). A
periodic reconcile (``(id, version)`` pages of every parked run) backstops anything a delta
could still miss.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import partial

import sqlalchemy as sa

from parkbench.core.db.engine import is_sqlite
from parkbench.core.store import Store, parked_reads, queries
from parkbench.core.watch.index import ParkedRun

#: How far back (in event ids) each delta looks for late-committed events (PostgreSQL).
LOOKBACK_IDS = 512
#: ... and for how long after the marker last moved.
LATE_COMMIT_S = 10.0


def parked_run(row: parked_reads.WatchedRun) -> ParkedRun | None:
    """The watcher's view of a parked run, or ``None`` when there is nothing to watch for it."""
    if row.contract.empty:
        return None
    return ParkedRun(row.id, row.workspace_root, row.contract.required, row.version, row.parked_by)


class ParkedFeed:
    def __init__(self, store: Store, *, page_size: int = 1000) -> None:
        self.store = store
        self.page_size = page_size
        self.marker = 0
        self._late_commits = not is_sqlite(store.engine)
        self._moved_at = time.monotonic()
        self._seen: set[int] = set()  # event ids handled inside the look-back window
        # Parked runs without a contract, at the version seen: nothing to watch, and no
        # reason to fetch them again on every reconcile.
        self._unwatched: dict[int, int] = {}
        self._after: tuple[int, int] | None = None  # the load's keyset position
        self.loading = False

    def begin(self) -> dict[str, int]:
        """Start a load: the marker the deltas start from, and the roots of the parked set
        (root -> parked runs there), so they can be watched before any receipt is checked."""
        # Read first, so that moves during the load are replayed by the next delta; moves
        # already visible now are in the load, so the look-back window skips them.
        self.marker, visible, roots = self.store.read(self._begin)
        self._seen = {e for e, _ in visible if e <= self.marker}
        self._unwatched.clear()
        self._after = None
        self.loading = True
        return roots

    def next_page(self) -> tuple[list[ParkedRun], int]:
        """The load's next keyset page: the runs to watch, and how many parked runs it read
        (``loading`` turns false after the last page)."""
        rows = self.store.read(
            partial(parked_reads.watched_runs, after=self._after, limit=self.page_size)
        )
        if len(rows) < self.page_size:
            self.loading = False
        if rows:
            self._after = rows[-1].key
        found = []
        for row in rows:
            if (run := parked_run(row)) is not None:
                found.append(run)
            else:
                self._unwatched[row.id] = row.version
        return found, len(rows)

    def load(self) -> list[ParkedRun]:
        """Every parked run with a contract, page by page; the delta starts from here."""
        self.begin()
        found: list[ParkedRun] = []
        while self.loading:
            found.extend(self.next_page()[0])
        return found

    def _begin(self, conn: sa.Connection) -> tuple[int, list[tuple[int, int]], dict[str, int]]:
        marker, visible = self._visible_moves(conn)
        return marker, visible, parked_reads.parked_roots(conn)

    def _visible_moves(self, conn: sa.Connection) -> tuple[int, list[tuple[int, int]]]:
        marker = queries.change_marker(conn)
        return marker, parked_reads.parked_moves_since(
            conn, max(0, marker - LOOKBACK_IDS), LOOKBACK_IDS
        )

    def moved_run_ids(self) -> list[int]:
        """Runs parked or unparked since the last call (possibly a few already handled).

        Idle, this is one ``max(events.id)`` read. The look-back window is only scanned on
        PostgreSQL, and only for a while after the marker last moved: a late commit comes
        from a transaction that was in flight then.
        """
        lookback = (
            LOOKBACK_IDS
            if self._late_commits and time.monotonic() - self._moved_at < LATE_COMMIT_S
            else 0
        )
        moved: dict[int, None] = {}
        after = max(0, self.marker - lookback)
        marker: int | None = None
        while True:

            def delta(conn: sa.Connection, after: int = after) -> tuple[int, list[tuple[int, int]]]:
                top = queries.change_marker(conn)
                if top == self.marker and not lookback:
                    return top, []
                return top, parked_reads.parked_moves_since(conn, after, self.page_size)

            top, moves = self.store.read(delta)
            marker = top if marker is None else marker
            fresh = [(e, r) for e, r in moves if e not in self._seen]
            moved.update(dict.fromkeys(r for _, r in fresh))
            self._seen.update(e for e, _ in fresh)
            if len(moves) < self.page_size:
                break
            after = moves[-1][0]
        if marker > self.marker:
            self.marker = marker
            self._moved_at = time.monotonic()
        floor = self.marker - LOOKBACK_IDS
        self._seen = {e for e in self._seen if e > floor}
        return list(moved)

    def fetch(self, run_ids: Iterable[int]) -> dict[int, ParkedRun | None]:
        """The current watcher view of each run (``None``: no longer parked with a contract)."""
        wanted = list(dict.fromkeys(run_ids))
        result: dict[int, ParkedRun | None] = dict.fromkeys(wanted)
        for start in range(0, len(wanted), self.page_size):
            chunk = tuple(wanted[start : start + self.page_size])
            found = self.store.read(
                partial(parked_reads.watched_runs, run_ids=chunk, limit=len(chunk))
            )
            for run_id in chunk:
                self._unwatched.pop(run_id, None)
            for row in found:
                result[row.id] = parked_run(row)
                if result[row.id] is None:
                    self._unwatched[row.id] = row.version
        return result

    def stale(self, watched: dict[int, int]) -> list[int]:
        """Reconcile: runs whose parked state differs from ``watched`` (run id -> version).

        One pass of ``(id, version)`` keyset pages over every parked run: cheap even with
        100,000 of them, and it catches anything the deltas missed.
        """
        current: dict[int, int] = {}
        after: tuple[int, int] | None = None
        while True:
            page = self.store.read(
                partial(parked_reads.parked_versions, after=after, limit=self.page_size)
            )
            current.update((run_id, version) for _, run_id, version in page)
            if len(page) < self.page_size:
                break
            after = (page[-1][0], page[-1][1])
        self._unwatched = {r: v for r, v in self._unwatched.items() if current.get(r) == v}
        changed = [
            run_id
            for run_id, version in current.items()
            if watched.get(run_id) != version and run_id not in self._unwatched
        ]
        return changed + [run_id for run_id in watched if run_id not in current]
