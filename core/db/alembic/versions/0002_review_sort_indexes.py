"""Indexes for the reviewer's other sort orders (priority, task) on any status.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_index(
        "ix_runs_status_priority",
        "runs",
        ["status", sa.text("priority DESC"), "status_changed_at", "id"],
    )
    op.create_index("ix_runs_status_task", "runs", ["status", "task_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_runs_status_task", "runs")
    op.drop_index("ix_runs_status_priority", "runs")
