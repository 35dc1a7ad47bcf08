"""runs.cause_key: the cause a block reason folds into, computed when the run is parked.

The Causes view (issue 20) grouped every parked run by masking each distinct reason text in
Python at read time; at 100,000 parked runs that pass took most of a second. The key is now
computed once, by the write that parks a run (in the same UPDATE), and the parked runs group
by this column with a plain ``GROUP BY`` read from ``ix_runs_status_cause`` alone.

Every row that already has a block reason gets its key here, in batches of
:data:`BATCH` rows in id order, from the SAME function the parking writes call
(:func:`parkbench.core.causes.run_cause_key`): a frozen copy here would store keys the code
never writes, and a cause would split into the runs parked before and after the upgrade.
(So this revision is not frozen like the others: if that function ever changes what it
returns for a stored reason, a new revision must recompute the column — its docstring says
so.) The index is built after the backfill, in one pass over the filled column.

Revision ID: 0004
Revises: 0003
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from parkbench.core.causes import MISSING_PREFIX, run_cause_key

revision = "0004"
down_revision = "0003"

#: Rows read (and keyed) per batch.
BATCH = 5000
INDEX = "ix_runs_status_cause"
INDEX_COLUMNS = ["status", "cause_key", "worker", "blocked_at", "status_changed_at"]

_runs = sa.table(
    "runs",
    sa.column("id", sa.Integer),
    sa.column("task_id", sa.Integer),
    sa.column("block_reason", sa.Text),
    sa.column("metadata_json", sa.Text),
    sa.column("cause_key", sa.Text),
)
_tasks = sa.table("tasks", sa.column("id", sa.Integer), sa.column("metadata_json", sa.Text))


def _backfill(conn: sa.Connection) -> None:
    # The contract (both metadata columns) is only read for a missing-receipts reason.
    missing = sa.func.substr(_runs.c.block_reason, 1, len(MISSING_PREFIX)) == MISSING_PREFIX
    read = (
        sa.select(
            _runs.c.id,
            _runs.c.block_reason,
            sa.case((missing, _tasks.c.metadata_json), else_=None),
            sa.case((missing, _runs.c.metadata_json), else_=None),
        )
        .select_from(_runs.join(_tasks, _tasks.c.id == _runs.c.task_id))
        .where(_runs.c.block_reason.is_not(None), _runs.c.id > sa.bindparam("after"))
        .order_by(_runs.c.id)
        .limit(BATCH)
    )
    write = (
        _runs.update()
        .where(_runs.c.id.in_(sa.bindparam("ids", expanding=True)))
        .values(cause_key=sa.bindparam("key"))
    )
    after = 0
    while True:
        rows = conn.execute(read, {"after": after}).all()
        if not rows:
            return
        by_key: defaultdict[str | None, list[int]] = defaultdict(list)
        for run_id, reason, task_md, run_md in rows:
            by_key[run_cause_key(reason, task_md, run_md)].append(run_id)
        for key, ids in by_key.items():  # a batch holds few causes: few statements
            conn.execute(write, {"key": key, "ids": ids})
        after = rows[-1][0]


def upgrade() -> None:
    op.add_column("runs", sa.Column("cause_key", sa.Text))
    _backfill(op.get_bind())
    op.create_index(INDEX, "runs", INDEX_COLUMNS)


def downgrade() -> None:
    op.drop_index(INDEX, "runs")
    op.drop_column("runs", "cause_key")
