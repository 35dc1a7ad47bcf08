"""The same Alembic revisions on PostgreSQL: an older database upgrades with its data, the
NOTIFY trigger of revision 0003 comes and goes with the revision (0005 makes it fire once per
statement, and its downgrade brings 0003's back), SQLite gets no trigger.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from parkbench.core.db import schema
from parkbench.core.db.engine import HEAD_REVISION, make_engine
from parkbench.core.db.notify import change_feed_for
from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store

TRIGGER = "parkbench_events_notify"


def _triggers(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass")
            ).scalars()
        )


def test_a_database_at_0002_upgrades_in_place_and_starts_notifying(
    pg_url: str, workspace: Path
) -> None:
    engine = make_engine(pg_url)
    try:
        schema.upgrade(engine, "0002")
        assert schema.current_revision(engine) == "0002"
        assert TRIGGER not in _triggers(engine)
    finally:
        engine.dispose()
    # Written by the previous Parkbench: a parked run waiting for a reviewer.
    with Store.open(pg_url, create=False) as store:  # opening upgrades it to HEAD
        assert schema.current_revision(store.engine) == HEAD_REVISION
        assert TRIGGER in _triggers(store.engine)
        run = store.enqueue("from before the upgrade", workspace).run_id
        claim = store.claim_next("agent")
        assert claim is not None and claim.run_id == run
        with change_feed_for(store) as feed:
            assert feed.wait(10) is not None  # the opening resync
            store.block(run, claim.claim_token, reason="after the upgrade")
            changes = feed.wait(10)
            assert changes is not None and changes.run_ids == {run}
        assert store.get_run(run, check_disk=False).run.status is RunStatus.NEEDS_ATTENTION


def test_downgrading_0003_removes_the_trigger_and_upgrading_restores_it(pg_url: str) -> None:
    with Store.open(pg_url) as store:
        engine = store.engine
        assert TRIGGER in _triggers(engine)
        from alembic import command

        with engine.begin() as conn:
            command.downgrade(schema.alembic_config(conn), "0002")
        assert TRIGGER not in _triggers(engine)
        with engine.connect() as conn:
            functions = conn.execute(
                sa.text("SELECT count(*) FROM pg_proc WHERE proname = :name"),
                {"name": "parkbench_notify_run_change"},
            ).scalar()
        assert functions == 0
        schema.upgrade(engine)
        assert TRIGGER in _triggers(engine)
        assert schema.current_revision(engine) == HEAD_REVISION


def test_sqlite_gets_the_revision_but_no_trigger(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'p.db'}") as store:
        assert schema.current_revision(store.engine) == HEAD_REVISION
        with store.engine.connect() as conn:
            triggers = conn.execute(
                sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            ).all()
        assert triggers == []


def _trigger_level(engine: sa.Engine) -> str:
    """'row' or 'statement': how the notify trigger on events fires (pg_trigger.tgtype bit 0)."""
    with engine.connect() as conn:
        tgtype = conn.execute(
            sa.text("SELECT tgtype FROM pg_trigger WHERE tgname = :name"), {"name": TRIGGER}
        ).scalar_one()
    return "row" if tgtype & 1 else "statement"


def test_0005_notifies_per_statement_and_downgrading_restores_the_row_trigger(
    pg_url: str, workspace: Path
) -> None:
    with Store.open(pg_url) as store:
        engine = store.engine
        assert _trigger_level(engine) == "statement"
        from alembic import command

        with engine.begin() as conn:
            command.downgrade(schema.alembic_config(conn), "0004")
        assert _trigger_level(engine) == "row"  # 0003's, as it was
        with engine.connect() as conn:
            names = set(
                conn.execute(
                    sa.text("SELECT proname FROM pg_proc WHERE proname LIKE 'parkbench_notify%'")
                ).scalars()
            )
        assert names == {"parkbench_notify_run_change"}
        # The row trigger still feeds the feed after the downgrade...
        with change_feed_for(store) as feed:
            assert feed.wait(10) is not None  # the opening resync
            run = store.enqueue("under 0004", workspace).run_id
            changes = feed.wait(10)
            assert changes is not None and changes.run_ids == {run}
        schema.upgrade(engine)
        assert _trigger_level(engine) == "statement"
        assert schema.current_revision(engine) == HEAD_REVISION
        # ... and so does the statement trigger after the upgrade.
        with change_feed_for(store) as feed:
            assert feed.wait(10) is not None
            run = store.enqueue("under 0005", workspace).run_id
            changes = feed.wait(10)
            assert changes is not None and changes.run_ids == {run}
