"""PostgreSQL: NOTIFY the ids of changed runs on channel ``parkbench_runs``.

Every transition writes exactly one audit event in its own transaction, so a trigger on
``events`` sees every change, whichever code path (or Parkbench version) wrote it, and costs
no extra round trip. PostgreSQL delivers a notification only when its transaction commits,
drops duplicates within one transaction, and only to listeners in the same database.
Heartbeats change no status and are left out: a busy fleet would otherwise wake every TUI
several times a second for nothing.

SQLite has no NOTIFY; there the change feed polls ``max(events.id)``. This revision only
stamps the version there.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"

# Frozen here on purpose (a migration must not change when the code does);
# parkbench.core.db.notify's CHANNEL must match, and a test checks that it does.
CHANNEL = "parkbench_runs"

CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION parkbench_notify_run_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', NEW.run_id::text);
    RETURN NULL;
END
$$
"""

CREATE_TRIGGER = """
CREATE TRIGGER parkbench_events_notify
AFTER INSERT ON events
FOR EACH ROW WHEN (NEW.action <> 'heartbeat')
EXECUTE FUNCTION parkbench_notify_run_change()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(CREATE_FUNCTION)
    op.execute(CREATE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS parkbench_events_notify ON events")
    op.execute("DROP FUNCTION IF EXISTS parkbench_notify_run_change()")
