"""The worker hot path's SQL: claim-next and the token-fenced move, built once at import.

Building a statement per call (SQLAlchemy constructs it, then derives its cache key) cost the
client more CPU than the database spent running it, about 0.6 ms a statement; built once with
bound parameters, a call only binds values. Each is a single conditional UPDATE.

On PostgreSQL the UPDATE and its audit event are one statement (a data-modifying CTE), run in
autocommit: atomic on its own, and one round trip instead of BEGIN, UPDATE, INSERT, COMMIT.
SQLite runs the plain UPDATE and the event INSERT inside its IMMEDIATE transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import events, runs, tasks, workspaces

NOW = sa.bindparam("p_now", type_=sa.BigInteger)
LEASE_MS = sa.bindparam("p_lease_ms", type_=sa.BigInteger)


def _claim_statement() -> sa.Update:
    candidate = (
        sa.select(runs.c.id)
        .where(runs.c.status == RunStatus.QUEUED.value)
        .order_by(runs.c.priority.desc(), runs.c.queued_at, runs.c.id)
        .limit(1)
        # PostgreSQL: concurrent claimers skip each other's candidate instead of queueing
        # behind it. SQLite ignores this; its IMMEDIATE write lock already serialises them.
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    bounded = sa.and_(runs.c.max_runtime_ms.is_not(None), runs.c.max_runtime_ms < LEASE_MS)
    return (
        runs.update()
        .where(runs.c.id == candidate, runs.c.status == RunStatus.QUEUED.value)
        .values(
            status=RunStatus.CLAIMED.value,
            worker=sa.bindparam("p_worker"),
            claim_token_hash=sa.bindparam("p_token_hash"),
            claimed_at=NOW,
            heartbeat_at=NOW,
            # A claimed run has no reason: the last block or failure is in its events.
            block_reason=None,
            cause_key=None,
            failure_reason=None,
            status_changed_at=NOW,
            runtime_deadline=NOW + runs.c.max_runtime_ms,
            lease_until=sa.case((bounded, NOW + runs.c.max_runtime_ms), else_=NOW + LEASE_MS),
            version=runs.c.version + 1,
        )
        .returning(runs.c.id, runs.c.task_id, runs.c.attempt, runs.c.lease_until)
    )


CLAIM = _claim_statement()
#: The audit event's INSERT, built once like the rest (SQLite writes it as its own statement).
EVENT_INSERT = events.insert()
#: The audit event's columns after run_id and task_id, as bound parameters ``e_<column>``.
_EVENT_FIELDS = [c for c in events.c if c.name not in ("id", "run_id", "task_id")]
_EVENT_COLUMNS = ["run_id", "task_id", *(c.name for c in _EVENT_FIELDS)]


def event_params(audit: Mapping[str, object]) -> dict[str, object]:
    return {f"e_{c.name}": audit[c.name] for c in _EVENT_FIELDS}


def _audited(moved: sa.CTE, task_id: sa.ColumnElement[Any]) -> sa.CTE:
    """INSERT the audit event for the row ``moved`` returned, in the same statement."""
    fields = [sa.bindparam(f"e_{c.name}", type_=c.type) for c in _EVENT_FIELDS]
    select = sa.select(moved.c.id, task_id, *fields)
    return events.insert().from_select(_EVENT_COLUMNS, select).returning(events.c.id).cte("audit")


def _claim_audited_statement() -> sa.Select[Any]:
    """PostgreSQL: claim and its audit event as one statement (one round trip, atomic)."""
    claimed = CLAIM.cte("claimed")
    audit = _audited(claimed, claimed.c.task_id)
    return sa.select(
        claimed.c.id, claimed.c.task_id, claimed.c.attempt, claimed.c.lease_until
    ).add_cte(audit)


CLAIM_AUDITED = _claim_audited_statement()
ANY_QUEUED = sa.select(runs.c.id).where(runs.c.status == RunStatus.QUEUED.value).limit(1)
#: claim_next re-runs its UPDATE at most this many times when every queued run it saw was
#: locked by other claimers but queued runs remain (PostgreSQL; see claim_next).
CLAIM_RETRIES = 3
#: What the fence and the decisions read: only these columns (every column fetched costs
#: the client a column description to build, on every call).
FENCED_ROW = (
    sa.select(
        runs.c.id,
        runs.c.task_id,
        runs.c.status,
        runs.c.worker,
        runs.c.claim_token_hash,
        runs.c.lease_until,
        runs.c.attempt,
        runs.c.max_attempts,
        runs.c.runtime_deadline,
        runs.c.version,
        runs.c.metadata_json,
        tasks.c.metadata_json.label("task_metadata_json"),
        workspaces.c.root.label("workspace_root"),
    )
    .select_from(
        runs.join(tasks, tasks.c.id == runs.c.task_id).join(
            workspaces, workspaces.c.id == runs.c.workspace_id
        )
    )
    .where(runs.c.id == sa.bindparam("p_run_id"))
)
_FENCED_UPDATES: dict[tuple[tuple[str, ...], bool], sa.Update] = {}
_FENCED_MOVES: dict[tuple[str, ...], sa.Select[Any]] = {}


def fenced_update(columns: tuple[str, ...], *, moves: bool = True) -> sa.Update:
    """The fenced UPDATE setting ``columns``; one statement per column set, then reused.

    ``moves``: a state change, which bumps the version. A heartbeat (``moves=False``) only
    extends the lease: the spec makes it no audit event and no version bump, so a reviewer
    who saw the run a beat ago still acts on what they saw.
    """
    statement = _FENCED_UPDATES.get((columns, moves))
    if statement is None:
        bump = {"version": runs.c.version + 1} if moves else {}
        statement = (
            runs.update()
            .where(
                runs.c.id == sa.bindparam("p_id"),
                runs.c.status == RunStatus.CLAIMED.value,
                runs.c.claim_token_hash == sa.bindparam("p_fence_hash"),
                runs.c.lease_until > NOW,
                # The version the decision was made on (complete() decides on receipts
                # checked before its write transaction began).
                runs.c.version == sa.bindparam("p_version"),
            )
            .values(**bump, **{column: sa.bindparam(f"v_{column}") for column in columns})
        )
        _FENCED_UPDATES[(columns, moves)] = statement
    return statement


def fenced_move(columns: tuple[str, ...]) -> sa.Select[Any]:
    """PostgreSQL: the fenced UPDATE and its audit event as one statement; a row back
    means the fence held and both were written."""
    statement = _FENCED_MOVES.get(columns)
    if statement is None:
        moved = fenced_update(columns).returning(runs.c.id).cte("moved")
        audit = _audited(moved, sa.bindparam("e_task_id", type_=events.c.task_id.type))
        statement = sa.select(audit.c.id)
        _FENCED_MOVES[columns] = statement
    return statement
