"""The SQLModel models are the schema: alembic's autogenerate finds nothing to change between
them and a database migrated to head, on SQLite and PostgreSQL — so a model changed without
a migration (or a migration without the model) fails here, and a new revision can start
from what autogenerate writes. The NOTIFY trigger of revision 0003 is not metadata and is
checked by tests/pg/test_pg_schema.py."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from parkbench.core.db import schema
from parkbench.core.db.engine import HEAD_REVISION, make_engine
from parkbench.core.models import Event, Run, Task, Workspace, metadata, runs

COMPARE = {"compare_type": True, "compare_server_default": True}


@pytest.fixture
def migrated(db_url: str):  # -> Iterator[sa.Engine]
    engine = make_engine(db_url)
    try:
        assert schema.ensure_schema(engine) == HEAD_REVISION
        yield engine
    finally:
        engine.dispose()


def _differences(engine: sa.Engine, target: sa.MetaData) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts=COMPARE), target))


def test_the_models_are_sqlmodel_tables_on_one_metadata() -> None:
    assert metadata is SQLModel.metadata
    assert {m.__tablename__ for m in (Workspace, Task, Run, Event)} == set(metadata.tables)
    assert runs is Run.__table__ and metadata.tables["runs"] is runs


def test_autogenerate_compares_clean_against_a_database_at_head(migrated: sa.Engine) -> None:
    assert _differences(migrated, metadata) == []


def test_alembic_check_through_env_py_finds_nothing_to_generate(migrated: sa.Engine) -> None:
    # env.py's own target_metadata and options: what `alembic revision --autogenerate` uses.
    with migrated.connect() as conn:
        command.check(schema.alembic_config(conn))


def test_a_model_the_migrations_do_not_create_is_reported(migrated: sa.Engine) -> None:
    """The comparison can fail: a changed copy of the models shows each kind of drift."""
    changed = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["runs"].append_column(sa.Column("note", sa.Text))
    changed.tables["events"].c.reason.type = sa.String(40)
    sa.Index("ix_tasks_title", changed.tables["tasks"].c.title)
    found = {
        (d[0], getattr(d[-1], "name", None)) if isinstance(d, tuple) else ("modify", None)
        for d in _differences(migrated, changed)
    }
    assert ("add_column", "note") in found and ("add_index", "ix_tasks_title") in found
    assert ("modify", None) in found  # the type change (alembic reports it as a list)
