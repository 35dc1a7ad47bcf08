"""Schema versions: create at the first revision, upgrade with data intact, refuse newer or
foreign databases and leave them untouched, keep the code's HEAD in step with the scripts."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from parkbench.core.db import schema
from parkbench.core.db.engine import HEAD_REVISION, make_engine
from parkbench.core.errors import DatabaseError, NotFoundError
from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import events, metadata, runs, tasks, workspaces
from parkbench.core.store import Store

T0 = 1_788_220_800_000


def _script_directory() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(schema.MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config)


def test_head_revision_matches_the_alembic_scripts() -> None:
    scripts = _script_directory()
    assert scripts.get_current_head() == HEAD_REVISION
    # Revisions are numbered in order: that is how a newer database is recognised.
    chain = [r.revision for r in reversed(list(scripts.walk_revisions()))]
    assert chain == [f"{n:04d}" for n in range(1, len(chain) + 1)]
    assert chain[-1] == HEAD_REVISION


def _model_indexes() -> dict[str, set[str]]:
    return {t.name: {i.name for i in t.indexes if i.name} for t in metadata.sorted_tables}


def _db_indexes(engine: sa.Engine) -> dict[str, set[str]]:
    inspector = sa.inspect(engine)
    return {
        name: {i["name"] for i in inspector.get_indexes(name) if i["name"]}
        for name in _model_indexes()
    }


def _assert_model_indexes_present(engine: sa.Engine) -> None:
    # PostgreSQL also lists the index behind each unique constraint; the models' own
    # indexes must all be there (compare_metadata checks their definitions).
    found = _db_indexes(engine)
    for table, names in _model_indexes().items():
        assert names <= found[table], (table, names - found[table])


def _schema_differences(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def _seed_at_first_revision(engine: sa.Engine, root: str) -> int:
    """One parked run, as an old Parkbench wrote it (ids from the database); its id."""
    with engine.begin() as conn:
        workspace_id = conn.execute(
            workspaces.insert().returning(workspaces.c.id),
            {"name": "ws", "root": root, "created_at": T0},
        ).scalar_one()
        task_id = conn.execute(
            tasks.insert().returning(tasks.c.id),
            {
                "title": "old task \x1b[31m😀",
                "workspace_id": workspace_id,
                "priority": 2,
                "max_attempts": 3,
                "max_runtime_ms": None,
                "metadata_json": '{"k":"v"}',
                "created_at": T0,
            },
        ).scalar_one()
        common = {
            "task_id": task_id,
            "workspace_id": workspace_id,
            "attempt": 1,
            "max_attempts": 3,
            "priority": 2,
            "lineage_depth": 0,
            "metadata_json": "{}",
            "attempt_limit_overridden": False,
            "version": 1,
            "queued_at": T0,
            "status_changed_at": T0,
        }
        run_id = conn.execute(
            runs.insert().returning(runs.c.id),
            common | {"status": "needs_attention", "block_reason": "old reason"},
        ).scalar_one()
        conn.execute(
            events.insert(),
            {
                "run_id": run_id,
                "task_id": task_id,
                "actor_kind": "worker",
                "actor": "w",
                "action": "block",
                "from_status": "claimed",
                "to_status": "needs_attention",
                "reason": "old reason",
                "created_at": T0,
            },
        )
    return run_id


def test_create_at_the_first_revision_then_upgrade_keeps_the_data(
    db_url: str, workspace: Path
) -> None:
    engine = make_engine(db_url)
    try:
        schema.upgrade(engine, "0001")
        assert schema.current_revision(engine) == "0001"
        first = _db_indexes(engine)
        assert "ix_runs_claim" in first["runs"] and "ix_runs_status_priority" not in first["runs"]
        run_id = _seed_at_first_revision(engine, str(workspace.resolve()))
    finally:
        engine.dispose()

    with Store.open(db_url) as store:  # upgrades on open
        assert schema.current_revision(store.engine) == HEAD_REVISION
        _assert_model_indexes_present(store.engine)
        assert _schema_differences(store.engine) == []
        detail = store.get_run(run_id)
        assert detail.run.title == "old task \x1b[31m😀" and detail.run.priority == 2
        assert detail.run.status is RunStatus.NEEDS_ATTENTION
        assert detail.run.block_reason == "old reason"
        assert detail.task_metadata == {"k": "v"}
        assert [e.action for e in detail.events] == ["block"]
        # Revision 0004 keyed the old parked run as a park keys it now: it has its cause.
        (cause,) = store.causes().groups
        assert (cause.key, cause.count, cause.example) == ("old reason", 1, "old reason")
        assert store.cause_run_ids(cause.selector) == (run_id,)
        # The upgraded database is fully usable: new rows take fresh ids after the old ones.
        [result] = store.requeue([run_id], reason="after upgrade", actor="rita")
        assert result.ok and result.new_run_id is not None and result.new_run_id > run_id
        claim = store.claim_next("w")
        assert claim is not None and claim.run_id == result.new_run_id


def test_a_fresh_database_is_created_at_head_and_matches_the_models(db_url: str) -> None:
    with Store.open(db_url) as store:
        assert schema.current_revision(store.engine) == HEAD_REVISION
        _assert_model_indexes_present(store.engine)
        assert _schema_differences(store.engine) == []
    with Store.open(db_url) as store:  # reopening is a no-op
        assert schema.current_revision(store.engine) == HEAD_REVISION


def test_open_without_create_refuses_an_empty_database(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        path = Path(db_url.removeprefix("sqlite:///"))
        with pytest.raises(NotFoundError):  # no file: reported, and not created
            Store.open(db_url, create=False)
        assert not path.exists()
        path.touch()  # an empty file is a database without the schema
    with pytest.raises(DatabaseError):
        Store.open(db_url, create=False)


# -- newer and foreign databases are refused and left untouched ------------------------------


def _files(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def _stamp_sqlite(path: Path, revision: str, journal_mode: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    conn.commit()
    conn.close()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_a_newer_sqlite_database_is_refused_and_left_untouched(
    tmp_path: Path, workspace: Path, journal_mode: str
) -> None:
    directory = tmp_path / "db"
    directory.mkdir()
    path = directory / "newer.db"
    with Store.open(f"sqlite:///{path}") as store:
        store.enqueue("written by a newer parkbench", workspace)
    _stamp_sqlite(path, "0099", journal_mode)
    before = _files(directory)
    assert list(before) == ["newer.db"]
    for _ in range(2):
        with pytest.raises(DatabaseError) as refused:
            Store.open(f"sqlite:///{path}")
        assert "0099" in refused.value.message and HEAD_REVISION in refused.value.message
        assert refused.value.details == {
            "database_revision": "0099",
            "code_revision": HEAD_REVISION,
        }
        assert _files(directory) == before
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == journal_mode
    conn.close()


@pytest.mark.sqlite_only
def test_a_foreign_sqlite_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    directory = tmp_path / "db"
    directory.mkdir()
    foreign = directory / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
    conn.execute("INSERT INTO invoices (amount) VALUES (9.5)")
    conn.commit()
    conn.close()
    lookalike = directory / "lookalike.db"
    conn = sqlite3.connect(lookalike)
    conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    not_sqlite = directory / "notes.db"
    not_sqlite.write_text("just some text, not a database\n" * 200)
    before = _files(directory)
    for path in (foreign, lookalike, not_sqlite):
        with pytest.raises(DatabaseError):
            Store.open(f"sqlite:///{path}")
        assert _files(directory) == before, path.name


def _table_dump(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return {
            name: [tuple(r) for r in conn.execute(sa.text(f'SELECT * FROM "{name}" ORDER BY 1'))]
            for name in sorted(names)
        }


def test_a_newer_database_is_refused_on_either_backend(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        store.enqueue("newer", workspace)
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    engine = make_engine(db_url)
    try:
        before = _table_dump(engine)
        with pytest.raises(DatabaseError) as refused:
            Store.open(db_url)
        assert "0099" in refused.value.message and HEAD_REVISION in refused.value.message
        assert _table_dump(engine) == before
    finally:
        engine.dispose()


def test_a_foreign_database_is_refused_on_either_backend(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO invoices (id) VALUES (7)"))
        before = _table_dump(engine)
        with pytest.raises(DatabaseError) as refused:
            Store.open(db_url)
        assert "not a Parkbench database" in refused.value.message
        assert _table_dump(engine) == before
    finally:
        engine.dispose()
