"""PostgreSQL: one NOTIFY per statement on ``events``, its payload the changed run ids.

Revision 0003's trigger ran once per inserted event and sent one notification per run: a
bulk action on 10,000 runs ran it 20,000 times and queued 20,000 notifications, each read
by every listening TUI. This revision replaces it with a statement-level trigger that reads
the statement's new events from a transition table and sends their distinct run ids,
comma-separated, at most :data:`IDS_PER_NOTIFICATION` to a notification (ten digits and a
comma each stay far below the 8,000-byte payload limit). What a listener learns is the same
— every changed run's id, delivered when its transaction commits, heartbeats left out — in
one notification per 500 runs instead of one per run (the feed always read comma-separated
payloads). A transaction of several statements may name a run in more than one payload;
listeners collect ids into a set.

Downgrading restores 0003's row-level trigger and function exactly.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"

# Frozen here on purpose (a migration must not change when the code does);
# parkbench.core.db.notify's CHANNEL must match, and a test checks that it does.
CHANNEL = "parkbench_runs"
TRIGGER = "parkbench_events_notify"
#: Distinct run ids per notification: 500 x 11 characters < 8,000 bytes.
IDS_PER_NOTIFICATION = 500

CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION parkbench_notify_run_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', part.ids)
    FROM (
        SELECT string_agg(numbered.run_id::text, ',') AS ids
        FROM (
            SELECT moved.run_id,
                   (row_number() OVER (ORDER BY moved.run_id) - 1) / {IDS_PER_NOTIFICATION} AS n
            FROM (
                SELECT DISTINCT run_id FROM parkbench_new_events WHERE action <> 'heartbeat'
            ) AS moved
        ) AS numbered
        GROUP BY numbered.n
    ) AS part;
    RETURN NULL;
END
$$
"""

CREATE_TRIGGER = f"""
CREATE TRIGGER {TRIGGER}
AFTER INSERT ON events
REFERENCING NEW TABLE AS parkbench_new_events
FOR EACH STATEMENT
EXECUTE FUNCTION parkbench_notify_run_changes()
"""

# Revision 0003's, as it wrote them.
ROW_FUNCTION = f"""
CREATE OR REPLACE FUNCTION parkbench_notify_run_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', NEW.run_id::text);
    RETURN NULL;
END
$$
"""

ROW_TRIGGER = f"""
CREATE TRIGGER {TRIGGER}
AFTER INSERT ON events
FOR EACH ROW WHEN (NEW.action <> 'heartbeat')
EXECUTE FUNCTION parkbench_notify_run_change()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON events")
    op.execute("DROP FUNCTION IF EXISTS parkbench_notify_run_change()")
    op.execute(CREATE_FUNCTION)
    op.execute(CREATE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON events")
    op.execute("DROP FUNCTION IF EXISTS parkbench_notify_run_changes()")
    op.execute(ROW_FUNCTION)
    op.execute(ROW_TRIGGER)
