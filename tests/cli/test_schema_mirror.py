"""The SQLModel classes (parkbench.core.orm) describe exactly the Core tables the store uses.

parkbench.core.models holds the schema as SQLAlchemy Core tables so that the lease core (and every
`parkbench lease claim`) loads without SQLModel, pydantic and the ORM; parkbench.core.orm keeps the
same schema as SQLModel classes. Compared as DDL on both dialects, so a column added to one
and not the other, or typed or constrained differently, fails here. The Core tables are in
turn checked against the migrations by tests/core/test_migrations.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from parkbench.core import models, orm
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex, CreateTable


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=str)
def test_sqlmodel_classes_match_the_core_tables(dialect) -> None:
    core_tables = {t.name: t for t in models.metadata.sorted_tables}
    orm_tables = {t.name: t for t in orm.metadata.sorted_tables}
    assert set(core_tables) == set(orm_tables) == {"workspaces", "tasks", "runs", "events"}
    for name, table in core_tables.items():
        mirror = orm_tables[name]
        assert str(CreateTable(mirror).compile(dialect=dialect)) == str(
            CreateTable(table).compile(dialect=dialect)
        ), name
        for column in table.columns:
            twin = mirror.columns[column.name]
            assert (column.default.arg if column.default else None) == (
                twin.default.arg if twin.default else None
            ), (name, column.name)
        orm_indexes = {i.name: str(CreateIndex(i).compile(dialect=dialect))
                       for i in mirror.indexes}
        core_indexes = {i.name: str(CreateIndex(i).compile(dialect=dialect))
                        for i in table.indexes}
        assert orm_indexes.items() <= core_indexes.items()


def test_the_orm_classes_are_still_importable_from_core_models() -> None:
    assert models.Run is orm.Run and models.Task.__tablename__ == "tasks"
    with pytest.raises(AttributeError):
        _ = models.NoSuchThing  # type: ignore[attr-defined]


def test_the_lease_core_loads_without_sqlmodel_or_pydantic() -> None:
    probe = "import parkbench.core.store, json, sys; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert not loaded & {"sqlmodel", "pydantic", "pydantic_core"}
