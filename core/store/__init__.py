"""The lease store: every state change, each one transaction with its precondition in SQL.

Shape of every write: read the row, check the transition table and the token (to pick the
precise error), then ``UPDATE ... WHERE`` the very conditions just checked, verify the row
count, and write the audit event — all in one transaction. On SQLite write transactions
begin IMMEDIATE, so nothing can interleave; on PostgreSQL the conditional UPDATE is the
fence, and claim-next locks its candidate with ``FOR UPDATE SKIP LOCKED``.

The operations live by concept: worker actions in :mod:`parkbench.core.store.worker`, reviewer actions
in :mod:`parkbench.core.store.review`, the expiry sweep in :mod:`parkbench.core.store.sweep`, shared plumbing in
:mod:`parkbench.core.store.base`. :class:`Store` joins them and adds enqueue and the read side.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import sqlalchemy as sa
from parkbench.core import contracts, inputs
from parkbench.core.errors import (
    InvalidTransitionError,
    NotFoundError,
    ValidationError,
)
from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.models import tasks, workspaces
from parkbench.core.records import (
    Enqueued,
    Page,
    RunDetail,
    RunFilter,
    SortKey,
)
from parkbench.core.store import queries
from parkbench.core.store.base import (
    WORKER,
    default_actor,
    insert_run,
)
from parkbench.core.store.review import ReviewOps
from parkbench.core.store.worker import WorkerOps
from sqlalchemy.exc import IntegrityError

__all__ = ["Store", "default_actor"]

INT32_MAX = 2**31 - 1
#: A year: far beyond any real task, and small enough to stay exact in epoch milliseconds.
MAX_RUNTIME_S = 366 * 24 * 3600


class Store(WorkerOps, ReviewOps):
    """The lease store: worker, reviewer and system actions plus the read side."""

    # -- enqueue ----------------------------------------------------------------------

    def enqueue(
        self,
        title: str,
        workspace: str | os.PathLike[str],
        *,
        priority: int = 0,
        max_attempts: int = 3,
        metadata: Mapping[str, object] | str | None = None,
        run_metadata: Mapping[str, object] | str | None = None,
        max_runtime_s: float | None = None,
        actor: str | None = None,
    ) -> Enqueued:
        """Create a task and its first queued run."""
        clean_title = inputs.title(title)
        root = _workspace_root(workspace)
        task_md = inputs.json_object("metadata", metadata)
        run_md = inputs.json_object("run metadata", run_metadata)
        contract = contracts.parse_contract(task_md, run_md)
        contracts.validate_for_enqueue(root, contract)
        # Both are 32-bit columns on PostgreSQL: refuse the same range on every backend.
        if not 1 <= max_attempts <= INT32_MAX:
            raise ValidationError(
                f"max attempts must be between 1 and {INT32_MAX:,}, got {max_attempts}",
                hint="pass --max-attempts 1 or more",
            )
        if not -INT32_MAX - 1 <= priority <= INT32_MAX:
            raise ValidationError(
                f"priority must be between {-INT32_MAX - 1:,} and {INT32_MAX:,}, got {priority}",
                hint="pass a smaller --priority (higher runs first)",
            )
        if max_runtime_s is not None and not 0 < max_runtime_s <= MAX_RUNTIME_S:
            raise ValidationError(
                f"max runtime must be between 0 and {MAX_RUNTIME_S:,} seconds, "
                f"got {max_runtime_s:g}",
                hint="pass a positive number of seconds",
            )
        who = inputs.name("actor", actor or default_actor())
        max_runtime_ms = None if max_runtime_s is None else int(max_runtime_s * 1000)

        def body(conn: sa.Connection) -> Enqueued:
            now = self.clock()
            workspace_id = _ensure_workspace(conn, root, now)
            task_id = conn.execute(
                tasks.insert().returning(tasks.c.id),
                {
                    "title": clean_title,
                    "workspace_id": workspace_id,
                    "priority": priority,
                    "max_attempts": max_attempts,
                    "max_runtime_ms": max_runtime_ms,
                    "metadata_json": inputs.dump(task_md),
                    "created_at": now,
                },
            ).scalar_one()
            run_id = insert_run(
                conn,
                task_id=task_id,
                workspace_id=workspace_id,
                attempt=1,
                max_attempts=max_attempts,
                priority=priority,
                max_runtime_ms=max_runtime_ms,
                metadata_json=inputs.dump(run_md),
                now=now,
            )
            self._event(
                conn,
                run_id=run_id,
                task_id=task_id,
                actor_kind=WORKER,
                actor=who,
                action=Action.ENQUEUE,
                from_status=None,
                to_status=RunStatus.QUEUED,
                now=now,
            )
            return Enqueued(task_id=task_id, run_id=run_id)

        return self._write(body)

    def enqueue_again(self, task_id: int, *, actor: str | None = None) -> Enqueued:
        """A fresh first run for an existing task; refused while it has an open run."""
        who = inputs.name("actor", actor or default_actor())

        def body(conn: sa.Connection) -> Enqueued:
            now = self.clock()
            task = conn.execute(sa.select(tasks).where(tasks.c.id == task_id)).first()
            if task is None:
                raise NotFoundError(f"task {task_id} does not exist")
            try:
                with conn.begin_nested():
                    run_id = insert_run(
                        conn,
                        task_id=task_id,
                        workspace_id=task.workspace_id,
                        attempt=1,
                        max_attempts=task.max_attempts,
                        priority=task.priority,
                        max_runtime_ms=task.max_runtime_ms,
                        metadata_json="{}",
                        now=now,
                    )
            except IntegrityError:
                open_run = queries.open_run_id(conn, task_id)
                raise InvalidTransitionError(
                    f"task {task_id} already has an open run ({open_run})",
                    hint=f"inspect it with `parkbench show {open_run}`",
                ) from None
            self._event(
                conn,
                run_id=run_id,
                task_id=task_id,
                actor_kind=WORKER,
                actor=who,
                action=Action.ENQUEUE,
                from_status=None,
                to_status=RunStatus.QUEUED,
                now=now,
            )
            return Enqueued(task_id=task_id, run_id=run_id)

        return self._write(body)

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
            )
        )

    def count_runs(self, run_filter: RunFilter | None = None) -> int:
        return self.read(lambda conn: queries.count_runs(conn, run_filter or RunFilter()))

    def counts_by_status(self) -> dict[str, int]:
        return self.read(queries.counts_by_status)

    def get_run(
        self,
        run_id: int,
        *,
        check_disk: bool = True,
        events_limit: int | None = queries.DETAIL_EVENTS,
    ) -> RunDetail:
        """One run in full; its newest ``events_limit`` events (None: all) and their count."""
        detail = self.read(
            lambda conn: queries.run_detail(conn, run_id, events_limit=events_limit)
        )
        return queries.with_artifacts(detail) if check_disk else detail

    def change_marker(self) -> int:
        """Grows with every transition (each writes an event): a cheap 'anything new?'."""
        return self.read(queries.change_marker)


def _workspace_root(workspace: str | os.PathLike[str]) -> str:
    text = os.fspath(workspace)
    if not text.strip():
        raise ValidationError("workspace is required", hint="pass --workspace DIR")
    inputs._check_encodable("workspace", text)
    root = os.path.realpath(os.path.expanduser(text))
    if not os.path.isdir(root):
        raise ValidationError(
            f"workspace {text!r} is not a directory",
            hint=f"create it first (`mkdir -p {text}`) or pass an existing --workspace",
        )
    return root


def _ensure_workspace(conn: sa.Connection, root: str, now: int) -> int:
    query = sa.select(workspaces.c.id).where(workspaces.c.root == root)
    existing = conn.execute(query).scalar()
    if existing is not None:
        return existing
    try:
        with conn.begin_nested():
            return conn.execute(
                workspaces.insert().returning(workspaces.c.id),
                {"name": os.path.basename(root) or root, "root": root, "created_at": now},
            ).scalar_one()
    except IntegrityError:  # another process created it first (PostgreSQL)
        return conn.execute(query).scalar_one()
