"""The expiry sweep: expired leases go back to the queue or park, as the spec says.

Each step is one conditional UPDATE on leases still past ``p_now``, built once at import
(:data:`SWEEP_STEPS`): a call only binds values.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from parkbench.core import lifecycle
from parkbench.core.causes import cause_key
from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.models import runs
from parkbench.core.records import Recovered
from parkbench.core.store.audit import insert_events, sweep_event
from parkbench.core.store.base import CLEAR_LEASE, SYSTEM, StoreBase

_AT = sa.bindparam("p_now", type_=sa.BigInteger)
#: Which rows a step takes, as a condition on a ``runs`` table (or an alias of it).
Condition = Callable[[sa.FromClause], sa.ColumnElement[bool]]


def _expired(t: sa.FromClause) -> sa.ColumnElement[bool]:
    return sa.and_(t.c.status == RunStatus.CLAIMED.value, t.c.lease_until <= _AT)


def _locked_in_id_order(condition: Condition) -> sa.ColumnElement[bool]:
    """The rows matching ``condition``, which this step locks in id order, skipping rows
    other transactions hold.

    PostgreSQL: two sweepers (or a sweeper and a worker) could otherwise lock overlapping
    rows in different orders across the steps of their transactions and deadlock. In one
    order and with SKIP LOCKED, a sweep never waits on a row at all: one held elsewhere is
    left for the next sweep. The condition is checked again on the locked row itself (a
    heartbeat that committed meanwhile keeps its lease). SQLite ignores the locking clause;
    its write lock already serialises sweeps.
    """
    candidate = runs.alias("candidate")  # its own FROM, not correlated to the UPDATE's row
    ids = (
        sa.select(candidate.c.id)
        .where(condition(candidate))
        .order_by(candidate.c.id)
        .with_for_update(skip_locked=True)
    )
    return sa.and_(runs.c.id.in_(ids.scalar_subquery()), condition(runs))


def _to(action: Action) -> RunStatus:
    return lifecycle.target(SYSTEM, action, RunStatus.CLAIMED)


#: A piece of a sweep's reason: literal text, or a non-negative whole number from the row.
Piece = str | sa.ColumnElement[int]
#: The reasons the sweep parks with, computed per row.
RUNTIME_REASON: tuple[Piece, ...] = (
    "exceeded max runtime (",
    # `//`: whole seconds on both backends (`/` is true division in SQLAlchemy 2, which
    # printed "900.0" on SQLite and "900.0000000000000000" on PostgreSQL)
    runs.c.max_runtime_ms // 1000,
    " s); the worker was still heartbeating when it ran out",
)
EXPIRE_REASON: tuple[Piece, ...] = (
    "lease expired on the last attempt (",
    runs.c.attempt,
    " of ",
    runs.c.max_attempts,
    "); no attempts left to retry",
)


def reason_key(pieces: tuple[Piece, ...]) -> str | None:
    """The cause key of every text a sweep reason produces
    (:func:`~parkbench.core.causes.cause_key`): each number is masked whatever its value
    (``<n>``), so the key of the text with 0 for each is every row's
    (tests/core/test_cause_key.py checks it over random values)."""
    return cause_key("".join(piece if isinstance(piece, str) else "0" for piece in pieces))


def _reason_sql(pieces: tuple[Piece, ...]) -> sa.ColumnElement[str]:
    parts: list[sa.ColumnElement[str]] = [
        sa.literal(p) if isinstance(p, str) else sa.cast(p, sa.Text) for p in pieces
    ]
    text = parts[0]
    for part in parts[1:]:
        text = text + part
    return text


def _park(condition: Condition, reason: tuple[Piece, ...], action: Action) -> sa.Update:
    """Park the claimed runs matching ``condition`` with ``reason`` (its text computed per
    row) and its cause key."""
    return (
        runs.update()
        .where(_locked_in_id_order(condition))
        .values(
            status=_to(action).value,
            block_reason=_reason_sql(reason),
            cause_key=reason_key(reason),
            blocked_at=_AT,
            status_changed_at=_AT,
            version=runs.c.version + 1,
            **CLEAR_LEASE,
        )
        .returning(runs.c.id, runs.c.task_id, runs.c.block_reason)
    )


#: Parks for the max runtime only a run that was still going when it hit the limit: its
#: lease reaches the deadline (claim and heartbeat cap it there, so never beyond) and a
#: heartbeat after the claim set it so (``heartbeat_at`` moves past ``claimed_at``) — the
#: worker was alive and asked for a lease past the limit. A claim capped at the deadline
#: proves nothing (the worker may die at once); a lease that ends before the deadline ran
#: out by itself. Those follow the expiry rules below: retried while attempts remain.
OVER_RUNTIME = _park(
    lambda t: sa.and_(
        t.c.status == RunStatus.CLAIMED.value,
        t.c.runtime_deadline.is_not(None),
        t.c.runtime_deadline <= _AT,
        t.c.lease_until >= t.c.runtime_deadline,
        t.c.heartbeat_at > t.c.claimed_at,
    ),
    RUNTIME_REASON,
    Action.RUNTIME_PARK,
)
EXPIRE_RETRY = (
    runs.update()
    .where(_locked_in_id_order(lambda t: sa.and_(_expired(t), t.c.attempt < t.c.max_attempts)))
    .values(
        status=_to(Action.EXPIRE_RETRY).value,
        attempt=runs.c.attempt + 1,
        worker=None,
        failure_reason="lease expired: the worker stopped heartbeating",
        queued_at=_AT,
        status_changed_at=_AT,
        version=runs.c.version + 1,
        **CLEAR_LEASE,
    )
    .returning(runs.c.id, runs.c.task_id, runs.c.failure_reason)
)
EXPIRE_PARK = _park(
    lambda t: sa.and_(_expired(t), t.c.attempt >= t.c.max_attempts),
    EXPIRE_REASON,
    Action.EXPIRE_PARK,
)
#: In order: (statement, action, status it moves runs to). Each returns (id, task_id, reason).
SWEEP_STEPS: tuple[tuple[sa.Update, Action, RunStatus], ...] = tuple(
    (statement, action, _to(action))
    for statement, action in (
        (OVER_RUNTIME, Action.RUNTIME_PARK),
        (EXPIRE_RETRY, Action.EXPIRE_RETRY),
        (EXPIRE_PARK, Action.EXPIRE_PARK),
    )
)


class SweepOps(StoreBase):
    def recover_expired(self, *, now: int | None = None) -> Recovered:
        """The expiry sweep: each step a conditional UPDATE on leases still past *now*."""

        def body(conn: sa.Connection) -> Recovered:
            at = self.clock() if now is None else now
            moved: dict[Action, list[sa.Row]] = {}
            for statement, action, to_status in SWEEP_STEPS:
                moved[action] = list(conn.execute(statement, {"p_now": at}).all())
                # The step's events in one statement, whatever the number of runs it moved.
                insert_events(
                    conn,
                    (
                        sweep_event(
                            run_id=run_id,
                            task_id=task_id,
                            action=action,
                            to_status=to_status,
                            now=at,
                            reason=reason,
                        )
                        for run_id, task_id, reason in moved[action]
                    ),
                )
            return Recovered(
                requeued=tuple(r[0] for r in moved[Action.EXPIRE_RETRY]),
                parked=tuple(r[0] for r in moved[Action.EXPIRE_PARK]),
                runtime_parked=tuple(r[0] for r in moved[Action.RUNTIME_PARK]),
            )

        recovered = self._write(body)
        # The throttle mark of claim_next's automatic sweep. A sweep as of a future instant
        # (`recover --now ... --force`) has still only run now: marking the future would
        # turn the automatic sweep off until then. A past instant is marked as it is.
        self._last_sweep_ms = self.clock() if now is None else min(now, self.clock())
        return recovered
