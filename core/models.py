"""The schema: workspaces, tasks, runs and their audit events, as SQLModel models.

These classes are the one definition of the tables. The migrations in
``core/db/alembic/versions`` create exactly them (alembic's autogenerate compares clean:
tests/core/test_schema_autogenerate.py), and the store's statements are Core-style on
their tables, exported below as ``workspaces``, ``tasks``, ``runs`` and ``events``.

Times are stored as integer epoch milliseconds (UTC) so both backends compare, index and
do arithmetic on them identically (lease_until = now + lease is plain SQL on either).
Free text is stored exactly as given; sanitising for display is the renderer's job.
A few task fields are copied onto each run (priority, max_attempts, workspace_id,
max_runtime_ms) because they are immutable after enqueue and the hot queries — claim-next,
the parked list, the expiry sweep — then need one indexed table, not a join.
Every text column is ``TEXT`` (SQLModel's default for ``str`` is a VARCHAR) and every time
column ``BIGINT``; defaults are client-side, as the migrations create no server defaults.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, MetaData, Table, Text, text
from sqlmodel import Field, SQLModel

from parkbench.core.lifecycle import OPEN_STATUSES

metadata: MetaData = SQLModel.metadata


class Workspace(SQLModel, table=True):
    __tablename__ = "workspaces"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=Text)
    root: str = Field(sa_type=Text, unique=True)
    created_at: int = Field(sa_type=BigInteger)


class Task(SQLModel, table=True):
    __tablename__ = "tasks"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_type=Text)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True)
    priority: int = 0
    max_attempts: int = 3
    max_runtime_ms: int | None = Field(default=None, sa_type=BigInteger)
    metadata_json: str = Field(default="{}", sa_type=Text)
    created_at: int = Field(sa_type=BigInteger)


class Run(SQLModel, table=True):
    __tablename__ = "runs"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id")
    workspace_id: int = Field(foreign_key="workspaces.id")
    attempt: int = 1
    max_attempts: int = 3
    priority: int = 0
    status: str = Field(sa_type=Text)
    previous_run_id: int | None = Field(default=None, foreign_key="runs.id")
    root_run_id: int | None = None
    lineage_depth: int = 0
    worker: str | None = Field(default=None, sa_type=Text)
    claim_token_hash: str | None = Field(default=None, sa_type=Text)
    lease_until: int | None = Field(default=None, sa_type=BigInteger)
    heartbeat_at: int | None = Field(default=None, sa_type=BigInteger)
    max_runtime_ms: int | None = Field(default=None, sa_type=BigInteger)
    runtime_deadline: int | None = Field(default=None, sa_type=BigInteger)
    block_reason: str | None = Field(default=None, sa_type=Text)
    # The cause the block reason folds into (parkbench.core.causes.cause_key: its kind and
    # masked shape), written with block_reason by the same UPDATE, NULL when it is NULL.
    # Added by revision 0004.
    cause_key: str | None = Field(default=None, sa_type=Text)
    failure_reason: str | None = Field(default=None, sa_type=Text)
    result_json: str | None = Field(default=None, sa_type=Text)
    metadata_json: str = Field(default="{}", sa_type=Text)
    attempt_limit_overridden: bool = False
    version: int = 1
    queued_at: int = Field(sa_type=BigInteger)
    claimed_at: int | None = Field(default=None, sa_type=BigInteger)
    blocked_at: int | None = Field(default=None, sa_type=BigInteger)
    finished_at: int | None = Field(default=None, sa_type=BigInteger)
    status_changed_at: int = Field(sa_type=BigInteger)


class Event(SQLModel, table=True):
    __tablename__ = "events"

    id: int | None = Field(default=None, primary_key=True)
    # No foreign keys: the audit trail is append-only and outlives nothing it points at.
    run_id: int
    task_id: int
    actor_kind: str = Field(sa_type=Text)
    actor: str = Field(sa_type=Text)
    action: str = Field(sa_type=Text)
    from_status: str | None = Field(default=None, sa_type=Text)
    to_status: str = Field(sa_type=Text)
    reason: str | None = Field(default=None, sa_type=Text)
    token_hash_prefix: str | None = Field(default=None, sa_type=Text)
    details_json: str | None = Field(default=None, sa_type=Text)
    created_at: int = Field(sa_type=BigInteger)


# The tables themselves, for the store's Core-style statements. SQLModel's metaclass sets
# `__table__` on each table=True class at class creation; its stubs do not declare it.
workspaces: Table = Workspace.__table__  # type: ignore[attr-defined]
tasks: Table = Task.__table__  # type: ignore[attr-defined]
runs: Table = Run.__table__  # type: ignore[attr-defined]
events: Table = Event.__table__  # type: ignore[attr-defined]

_open = ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES))
_OPEN_WHERE = text(f"status IN ({_open})")

# The hot queries' indexes (see parkbench.core.store for the queries they serve).
Index("ix_runs_claim", runs.c.status, runs.c.priority.desc(), runs.c.queued_at, runs.c.id)
Index("ix_runs_status_changed", runs.c.status, runs.c.status_changed_at, runs.c.id)
Index("ix_runs_lease", runs.c.status, runs.c.lease_until)
Index("ix_runs_task", runs.c.task_id, runs.c.id)
Index("ix_events_run", events.c.run_id, events.c.id)
# At most one open run per task, enforced by the database itself.
Index(
    "ux_runs_one_open_per_task",
    runs.c.task_id,
    unique=True,
    sqlite_where=_OPEN_WHERE,
    postgresql_where=_OPEN_WHERE,
)
# Added by revision 0002: the reviewer's other sort orders.
Index(
    "ix_runs_status_priority",
    runs.c.status,
    runs.c.priority.desc(),
    runs.c.status_changed_at,
    runs.c.id,
)
Index("ix_runs_status_task", runs.c.status, runs.c.task_id, runs.c.id)
# Added by revision 0004: the parked runs grouped by cause (parkbench.core.store.causes), read
# from this index alone: (cause, worker) groups in index order, with their parked times.
Index(
    "ix_runs_status_cause",
    runs.c.status,
    runs.c.cause_key,
    runs.c.worker,
    runs.c.blocked_at,
    runs.c.status_changed_at,
)
