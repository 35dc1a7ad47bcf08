"""Reviewers' notes: a comment on a run, in any status, that changes nothing about it.

A note is an audit event of action ``note`` whose ``from_status`` and ``to_status`` are both
the status the run had when it was written (read under a share lock on PostgreSQL, inside
SQLite's write transaction, so no move can slip in between), with the reviewer's name and
text. It does not touch the run's row: no ``version`` bump, no ``status_changed_at``. The
version is the fence of every reviewer action (a mark remembers it), so a note that bumped
it would turn a colleague's pending requeue into a ``conflict`` although nothing about the
run changed — the same reason a heartbeat does not bump it. The event still advances the
change marker and fires the PostgreSQL change feed, so another reviewer's screen shows the
note at once ("looking at this").

Notes are passed on in the handoff (see :mod:`parkbench.core.store.handoff`): those written
since the previous attempt was claimed, on that run and on the new one while it waited.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

import sqlalchemy as sa

from parkbench.core import inputs
from parkbench.core.errors import NotFoundError
from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.models import events, runs
from parkbench.core.records import EventRow
from parkbench.core.store.audit import event_record, event_row
from parkbench.core.store.base import HUMAN, StoreBase, default_actor

#: Notes a run's detail lists (its newest), and notes a handoff carries (the newest).
DETAIL_NOTES = 50
HANDOFF_NOTES = 20


def notes_of(
    conn: sa.Connection, run_ids: Iterable[int], *, after_event_id: int = 0, limit: int
) -> tuple[EventRow, ...]:
    """The newest ``limit`` notes on ``run_ids`` written after event ``after_event_id``,
    oldest first (ix_events_run: a backwards walk over each run's events)."""
    query = (
        sa.select(events)
        .where(
            events.c.run_id.in_(sorted(set(run_ids))),
            events.c.id > after_event_id,
            events.c.action == Action.NOTE.value,
        )
        .order_by(events.c.id.desc())
        .limit(limit)
    )
    return tuple(event_record(row) for row in reversed(conn.execute(query).all()))


class NoteOps(StoreBase):
    def add_note(self, run_id: int, *, text: str, actor: str | None = None) -> EventRow:
        """Add a reviewer's note to run ``run_id`` (any status); the event written.

        The text is required, trimmed and at most :data:`parkbench.core.inputs.MAX_NOTE`
        characters (its lines kept); a run that does not exist is ``not_found``.
        """
        body = inputs.note(text)
        who = inputs.name("actor", actor or default_actor())
        return self._write(partial(self._note_one, run_id=run_id, body=body, who=who))

    def _note_one(self, conn: sa.Connection, run_id: int, body: str, who: str) -> EventRow:
        now = self.clock()
        # FOR SHARE (PostgreSQL): a move of this run waits until the note is committed, so
        # the status recorded is the run's status at that instant. SQLite ignores the
        # clause; its IMMEDIATE write transaction already keeps every other writer out.
        row = conn.execute(
            sa.select(runs.c.task_id, runs.c.status)
            .where(runs.c.id == run_id)
            .with_for_update(read=True)
        ).first()
        if row is None:
            raise NotFoundError(f"run {run_id} does not exist")
        status = RunStatus(row.status)
        written = conn.execute(
            events.insert().returning(*events.c),
            event_row(
                run_id=run_id,
                task_id=row.task_id,
                actor_kind=HUMAN,
                actor=who,
                action=Action.NOTE,
                from_status=status,
                to_status=status,
                now=now,
                reason=body,
            ),
        ).one()
        return event_record(written)
