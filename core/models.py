"""The schema: workspaces, tasks, runs and their audit events, as SQLAlchemy Core tables.

Times are stored as integer epoch milliseconds (UTC) so both backends compare, index and
do arithmetic on them identically (lease_until = now + lease is plain SQL on either).
Free text is stored exactly as given; sanitising for display is the renderer's job.
A few task fields are copied onto each run (priority, max_attempts, workspace_id,
max_runtime_ms) because they are immutable after enqueue and the hot queries — claim-next,
the parked list, the expiry sweep — then need one indexed table, not a join.

The same tables as SQLModel classes (``Workspace``, ``Task``, ``Run``, ``Event``) are in
:mod:`parkbench.core.orm`, loaded only when first asked for (``from parkbench.core.models import Run`` works):
SQLModel, pydantic and the ORM cost ~0.3 s of import that the CLI's worker commands must
not pay on every call. tests/core/test_migrations.py checks these tables against the
migrations; tests/cli/test_schema_mirror.py checks the SQLModel classes against these tables.
"""

from __future__ import annotations

from parkbench.core.lifecycle import OPEN_STATUSES
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)

metadata = MetaData()

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("root", Text, nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", Text, nullable=False),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False, index=True),
    Column("priority", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False, default=3),
    Column("max_runtime_ms", BigInteger),
    Column("metadata_json", Text, nullable=False, default="{}"),
    Column("created_at", BigInteger, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", Integer, ForeignKey("tasks.id"), nullable=False),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("attempt", Integer, nullable=False, default=1),
    Column("max_attempts", Integer, nullable=False, default=3),
    Column("priority", Integer, nullable=False, default=0),
    Column("status", Text, nullable=False),
    Column("previous_run_id", Integer, ForeignKey("runs.id")),
    Column("root_run_id", Integer),
    Column("lineage_depth", Integer, nullable=False, default=0),
    Column("worker", Text),
    Column("claim_token_hash", Text),
    Column("lease_until", BigInteger),
    Column("heartbeat_at", BigInteger),
    Column("max_runtime_ms", BigInteger),
    Column("runtime_deadline", BigInteger),
    Column("block_reason", Text),
    Column("failure_reason", Text),
    Column("result_json", Text),
    Column("metadata_json", Text, nullable=False, default="{}"),
    Column("attempt_limit_overridden", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False, default=1),
    Column("queued_at", BigInteger, nullable=False),
    Column("claimed_at", BigInteger),
    Column("blocked_at", BigInteger),
    Column("finished_at", BigInteger),
    Column("status_changed_at", BigInteger, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, nullable=False),
    Column("task_id", Integer, nullable=False),
    Column("actor_kind", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("from_status", Text),
    Column("to_status", Text, nullable=False),
    Column("reason", Text),
    Column("token_hash_prefix", Text),
    Column("details_json", Text),
    Column("created_at", BigInteger, nullable=False),
)

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


_ORM_CLASSES = ("Workspace", "Task", "Run", "Event")


def __getattr__(name: str) -> object:
    """``Workspace``, ``Task``, ``Run``, ``Event``: the SQLModel classes, loaded on demand."""
    if name in _ORM_CLASSES:
        from parkbench.core import orm

        return getattr(orm, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
