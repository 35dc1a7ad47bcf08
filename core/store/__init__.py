"""The lease store: every state change, each one transaction with its precondition in SQL.

Shape of every write: read the row, check the transition table and the token (to pick the
precise error), then ``UPDATE ... WHERE`` the very conditions just checked, verify the row
count, and write the audit event — all in one transaction. On SQLite write transactions
begin IMMEDIATE, so nothing can interleave; on PostgreSQL the conditional UPDATE is the
fence, and claim-next locks its candidate with ``FOR UPDATE SKIP LOCKED``.

The operations live by concept: enqueue in :mod:`~parkbench.core.store.enqueue`, worker
actions in :mod:`~parkbench.core.store.worker`, reviewer actions in
:mod:`~parkbench.core.store.review` (notes in :mod:`~parkbench.core.store.notes`, the undo
of a requeue in :mod:`~parkbench.core.store.undo`), the expiry sweep in
:mod:`~parkbench.core.store.sweep`, shared plumbing in :mod:`~parkbench.core.store.base`.
:class:`Store` joins them and adds the read side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parkbench.core.causes import Causes, CauseSelector
from parkbench.core.records import Page, RunDetail, RunFilter, SortKey
from parkbench.core.store import detail, queries
from parkbench.core.store.base import default_actor
from parkbench.core.store.causes import parked_causes, runs_of
from parkbench.core.store.enqueue import EnqueueOps, NewTask
from parkbench.core.store.lease import Lease
from parkbench.core.store.notes import NoteOps
from parkbench.core.store.review import ReviewOps
from parkbench.core.store.undo import UndoOps
from parkbench.core.store.worker import WorkerOps

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["Lease", "NewTask", "Store", "default_actor"]


class Store(EnqueueOps, WorkerOps, ReviewOps, NoteOps, UndoOps):
    """The lease store: worker, reviewer and system actions plus the read side."""

    # -- the worker's handle -------------------------------------------------------------

    def claim(self, worker: str, *, lease_s: float | None = None) -> Lease | None:
        """Claim the next run as a :class:`Lease` (``None`` when nothing is queued): the
        claim's facts plus its moves, and a context manager that heartbeats by itself."""
        claimed = self.claim_next(worker, lease_s=lease_s)
        if claimed is None:
            return None
        return Lease(self, claimed, lease_s=lease_s or self.default_lease_s)

    # -- read side ----------------------------------------------------------------------

    def list_runs(
        self,
        run_filter: RunFilter | None = None,
        *,
        sort: SortKey = SortKey.BLOCKED,
        limit: int = 50,
        after: str | None = None,
        before: str | None = None,
        from_end: bool = False,
        reverse: bool = False,
    ) -> Page:
        return self.read(
            lambda conn: queries.list_runs(
                conn,
                run_filter or RunFilter(),
                sort=sort,
                limit=limit,
                after=after,
                before=before,
                from_end=from_end,
                reverse=reverse,
            )
        )

    def count_runs(self, run_filter: RunFilter | None = None) -> int:
        return self.read(lambda conn: queries.count_runs(conn, run_filter or RunFilter()))

    def counts_by_status(self) -> dict[str, int]:
        return self.read(queries.counts_by_status)

    def causes(self, *, limit: int | None = None) -> Causes:
        """Every parked run folded by cause (:mod:`parkbench.core.causes`), largest first."""
        return self.read(lambda conn: parked_causes(conn, limit=limit))

    def causes_and_runs(self, *, limit: int | None = None) -> tuple[Causes, list[tuple[int, ...]]]:
        """:meth:`causes` and each listed cause's run ids (ascending), in one transaction."""

        def body(conn: sa.Connection) -> tuple[Causes, list[tuple[int, ...]]]:
            found = parked_causes(conn, limit=limit)
            return found, runs_of(conn, [group.selector for group in found.groups])

        return self.read(body)

    def cause_run_ids(self, selector: CauseSelector) -> tuple[int, ...]:
        """The ids of the parked runs a cause (its ``selector``) holds now, ascending."""
        return self.read(lambda conn: runs_of(conn, [selector])[0])

    def get_run(
        self,
        run_id: int,
        *,
        check_disk: bool = True,
        events_limit: int | None = detail.DETAIL_EVENTS,
    ) -> RunDetail:
        """One run in full; its newest ``events_limit`` events (None: all) and their count."""
        run = self.read(lambda conn: detail.run_detail(conn, run_id, events_limit=events_limit))
        return detail.with_artifacts(run) if check_disk else run

    def change_marker(self) -> int:
        """Grows with every transition (each writes an event): a cheap 'anything new?'."""
        return self.read(queries.change_marker)
