"""Initial schema: workspaces, tasks, runs, events and the hot-path indexes.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

OPEN = sa.text("status IN ('claimed', 'needs_attention', 'queued')")


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("root", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("max_runtime_ms", sa.BigInteger),
        sa.Column("metadata_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_tasks_workspace_id", "tasks", ["workspace_id"])
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.id"), nullable=False),
        sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("previous_run_id", sa.Integer, sa.ForeignKey("runs.id")),
        sa.Column("root_run_id", sa.Integer),
        sa.Column("lineage_depth", sa.Integer, nullable=False),
        sa.Column("worker", sa.Text),
        sa.Column("claim_token_hash", sa.Text),
        sa.Column("lease_until", sa.BigInteger),
        sa.Column("heartbeat_at", sa.BigInteger),
        sa.Column("max_runtime_ms", sa.BigInteger),
        sa.Column("runtime_deadline", sa.BigInteger),
        sa.Column("block_reason", sa.Text),
        sa.Column("failure_reason", sa.Text),
        sa.Column("result_json", sa.Text),
        sa.Column("metadata_json", sa.Text, nullable=False),
        sa.Column("attempt_limit_overridden", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("queued_at", sa.BigInteger, nullable=False),
        sa.Column("claimed_at", sa.BigInteger),
        sa.Column("blocked_at", sa.BigInteger),
        sa.Column("finished_at", sa.BigInteger),
        sa.Column("status_changed_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_runs_claim", "runs", ["status", sa.text("priority DESC"), "queued_at", "id"]
    )
    op.create_index("ix_runs_status_changed", "runs", ["status", "status_changed_at", "id"])
    op.create_index("ix_runs_lease", "runs", ["status", "lease_until"])
    op.create_index("ix_runs_task", "runs", ["task_id", "id"])
    op.create_index(
        "ux_runs_one_open_per_task",
        "runs",
        ["task_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("actor_kind", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("from_status", sa.Text),
        sa.Column("to_status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("token_hash_prefix", sa.Text),
        sa.Column("details_json", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_events_run", "events", ["run_id", "id"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("runs")
    op.drop_table("tasks")
    op.drop_table("workspaces")
