"""Undo a requeue: cancel the successor that never ran and park the source run again.

A reviewer who requeued a run by mistake (the wrong run, or the answer was wrong) takes it
back while the new attempt is still waiting in the queue, untouched: once a worker has
claimed it, the answer has been read and the undo is refused as a ``conflict``. Both moves
are the lifecycle's ``undo_requeue`` (:mod:`parkbench.core.lifecycle`), made in ONE
transaction, each an ``UPDATE ... WHERE`` on the very state just read, each with its audit
event. The successor is canceled first: the source reopening makes it the task's one open
run (``ux_runs_one_open_per_task``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from parkbench.core import inputs
from parkbench.core.causes import run_cause_key
from parkbench.core.errors import ConflictError, NotFoundError
from parkbench.core.lifecycle import Action, RunStatus, find, invalid_transition
from parkbench.core.models import runs, tasks
from parkbench.core.records import Expectation, RequeueUndone
from parkbench.core.store import detail
from parkbench.core.store.base import HUMAN, StoreBase, default_actor

UNDO = Action.UNDO_REQUEUE


class UndoOps(StoreBase):
    def undo_requeue(
        self,
        source_run_id: int,
        *,
        reason: str,
        actor: str | None = None,
        expected: Expectation | None = None,
    ) -> RequeueUndone:
        """Take back the requeue of ``source_run_id``: its successor (still queued, never
        claimed, and as ``expected`` if given: the reviewer saw it so) is canceled, and the
        source goes back to ``needs_attention`` as it was parked (its block reason and
        blocked time kept). Raises ``not_found``, ``invalid_transition`` (the source is not
        a requeued run) or ``conflict`` (the successor was claimed or changed)."""
        why = inputs.reason(reason)
        who = inputs.name("actor", actor or default_actor())
        return self._write(lambda conn: self._undo(conn, source_run_id, why, who, expected))

    def _undo(
        self,
        conn: sa.Connection,
        source_id: int,
        why: str,
        who: str,
        seen: Expectation | None,
    ) -> RequeueUndone:
        now = self.clock()
        source = conn.execute(
            sa.select(runs, tasks.c.metadata_json.label("task_metadata_json"))
            .join(tasks, tasks.c.id == runs.c.task_id)
            .where(runs.c.id == source_id)
        ).first()
        if source is None:
            raise NotFoundError(f"run {source_id} does not exist")
        status = RunStatus(source.status)
        restore = find(HUMAN, UNDO, status)
        if restore is None or restore.companion:  # (a queued run is no requeue's source)
            raise invalid_transition(HUMAN, UNDO, status, source_id)
        # The newest run that continues it (an earlier successor may be an undone one);
        # ix_runs_task (task_id, id) finds it among the task's runs.
        new = conn.execute(
            sa.select(runs)
            .where(runs.c.task_id == source.task_id, runs.c.previous_run_id == source_id)
            .order_by(runs.c.id.desc())
            .limit(1)
        ).first()
        if new is None:
            raise NotFoundError(
                f"run {source_id} is requeued but no run continues it",
                hint=f"inspect it with `parkbench show {source_id}`",
            )
        new_status = RunStatus(new.status)
        refusal = _refusal(new, new_status, seen)
        if refusal is not None:
            raise ConflictError(
                f"cannot undo the requeue of run {source_id}: its new run {new.id} {refusal}",
                hint=f"inspect it with `parkbench show {new.id}`; to stop it, "
                f"`parkbench fail {new.id} --reason ...`",
                status=new_status.value,
                new_run_id=new.id,
            )
        cancel = find(HUMAN, UNDO, new_status)
        assert cancel is not None  # queued: the table's companion move
        canceled = conn.execute(
            runs.update()
            .where(
                runs.c.id == new.id,
                runs.c.status == new.status,
                runs.c.version == new.version,
                runs.c.claimed_at.is_(None),
            )
            .values(
                status=cancel.target.value,
                version=runs.c.version + 1,
                finished_at=now,
                status_changed_at=now,
            )
        )
        if canceled.rowcount != 1:
            raise _changed(source_id, new.id, conn)
        reopened = conn.execute(
            runs.update()
            .where(
                runs.c.id == source_id,
                runs.c.status == source.status,
                runs.c.version == source.version,
            )
            .values(
                status=restore.target.value,
                version=runs.c.version + 1,
                finished_at=None,
                # Parked again, keyed as every park is (the reason kept, so the same cause).
                cause_key=run_cause_key(
                    source.block_reason, source.task_metadata_json, source.metadata_json
                ),
                # Back where it was in the parked list: its blocked time is the original.
                status_changed_at=source.blocked_at if source.blocked_at is not None else now,
            )
        )
        if reopened.rowcount != 1:
            raise _changed(source_id, new.id, conn)
        self._event(
            conn,
            run_id=new.id,
            task_id=new.task_id,
            actor_kind=HUMAN,
            actor=who,
            action=UNDO,
            from_status=new_status,
            to_status=cancel.target,
            now=now,
            reason=why,
            details={"source_run_id": source_id},
        )
        self._event(
            conn,
            run_id=source_id,
            task_id=source.task_id,
            actor_kind=HUMAN,
            actor=who,
            action=UNDO,
            from_status=status,
            to_status=restore.target,
            now=now,
            reason=why,
            details={"canceled_run_id": new.id},
        )
        return RequeueUndone(source_id, new.id)


def _refusal(new: sa.Row[Any], status: RunStatus, seen: Expectation | None) -> str | None:
    """Why the successor ``new`` cannot be canceled, or None when it can."""
    if status is RunStatus.QUEUED and new.claimed_at is not None:
        return "was claimed already (and given back): its worker has read the answer"
    if status is not RunStatus.QUEUED:
        by = f" by {new.worker}" if new.worker else ""
        if status is RunStatus.CLAIMED:
            return f"was claimed already{by}"
        return f"is {status.value} already"
    if seen is not None and (
        seen.status is not status or (seen.version is not None and seen.version != new.version)
    ):
        return "changed since you looked"
    return None


def _changed(source_id: int, new_id: int, conn: sa.Connection) -> ConflictError:
    return ConflictError(
        f"cannot undo the requeue of run {source_id}: it changed while you acted "
        f"({detail.last_change_summary(conn, new_id)})",
        hint=f"inspect it with `parkbench show {source_id}`",
    )
