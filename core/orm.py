"""The schema as SQLModel classes, for code that wants typed objects rather than rows.

They describe exactly the tables in :mod:`parkbench.core.models` (tests/cli/test_schema_mirror.py
compares the DDL both produce on SQLite and PostgreSQL), but live here so that importing the
lease core does not import SQLModel, pydantic and the SQLAlchemy ORM: that costs ~0.3 s,
which every short-lived `parkbench lease claim` in a worker loop would pay. The store itself
works on the Core tables. ``from parkbench.core.models import Run`` still works (imported on demand).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, Text
from sqlmodel import Field, SQLModel

metadata = SQLModel.metadata


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
    run_id: int = Field(sa_column=Column(Integer, nullable=False))
    task_id: int = Field(sa_column=Column(Integer, nullable=False))
    actor_kind: str = Field(sa_type=Text)
    actor: str = Field(sa_type=Text)
    action: str = Field(sa_type=Text)
    from_status: str | None = Field(default=None, sa_type=Text)
    to_status: str = Field(sa_type=Text)
    reason: str | None = Field(default=None, sa_type=Text)
    token_hash_prefix: str | None = Field(default=None, sa_type=Text)
    details_json: str | None = Field(default=None, sa_type=Text)
    created_at: int = Field(sa_type=BigInteger)
