"""Many rows as ONE bound parameter: a JSON array of arrays, unpacked by the database.

Binding thousands of values one parameter at a time costs the client more than the database
spends on them: SQLAlchemy renders an expanding ``IN`` anew for every length, psycopg parses
a statement that long anew every time (its cache keeps short statements only), and the server
parses and plans a thousand placeholders. One JSON text parameter keeps the statement the
same whatever the number of rows — short, cached, and prepared by psycopg after a few runs —
and the database unpacks it: SQLite with ``json_each``, PostgreSQL with
``jsonb_array_elements`` (binary JSON: each element is parsed once, not once per field).

The statements are the same on both backends; only the row source differs, by dialect, so a
caller builds a statement for ``conn.dialect.name``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

Fields = Sequence[tuple[str, sa.types.TypeEngine[Any]]]


@dataclass(frozen=True, slots=True)
class JsonRows:
    """The row source of one JSON parameter: each element, and its position (to order by;
    on SQLite it is the element's index from 0, on PostgreSQL its ordinal from 1)."""

    elements: sa.TableValuedAlias
    order: sa.ColumnElement[Any]
    dialect: str

    def field(self, index: int, type_: sa.types.TypeEngine[Any]) -> sa.ColumnElement[Any]:
        """Field ``index`` of each element (a JSON null is SQL NULL), as ``type_``."""
        value: sa.ColumnElement[Any]
        if self.dialect == "postgresql":
            value = self.elements.c.value.op("->>")(sa.literal_column(str(index)))
        else:
            value = sa.func.json_extract(self.elements.c.value, f"$[{index}]")
        return sa.cast(value, type_)

    def columns(self, fields: Fields) -> list[sa.Label[Any]]:
        """Each of ``fields`` (name, type), in element order, labelled with its name."""
        return [self.field(i, type_).label(name) for i, (name, type_) in enumerate(fields)]


def json_rows(name: str, dialect: str) -> JsonRows:
    """The elements of the JSON array bound as parameter ``name`` (see :func:`payload`)."""
    param = sa.bindparam(name, type_=sa.Text())
    if dialect == "postgresql":
        elements = (
            sa.func.jsonb_array_elements(sa.cast(param, postgresql.JSONB))
            .table_valued("value", with_ordinality="ord")
            .render_derived()
        )
        return JsonRows(elements, elements.c.ord, dialect)
    elements = sa.func.json_each(param).table_valued("key", "value")
    return JsonRows(elements, elements.c.key, dialect)


def rows_select(name: str, fields: Fields, dialect: str) -> sa.Select[Any]:
    """``SELECT <fields> FROM`` the JSON array bound as ``name``: for ``IN (...)`` and
    ``INSERT ... SELECT``."""
    source = json_rows(name, dialect)
    return sa.select(*source.columns(fields)).select_from(source.elements)


#: One integer per element: an id list.
ID_FIELD: Fields = (("id", sa.Integer()),)


def ids_select(name: str, dialect: str) -> sa.Select[Any]:
    """The ids bound as ``name`` (:func:`id_payload`): ``column.in_(ids_select(...))``."""
    return rows_select(name, ID_FIELD, dialect)


def payload(rows: Iterable[Sequence[object]]) -> str:
    """Rows (each a sequence of JSON-able values, in field order) as the parameter's text."""
    return json.dumps(list(rows), ensure_ascii=False, separators=(",", ":"))


def id_payload(ids: Iterable[int]) -> str:
    """Ids as the parameter of :func:`ids_select`."""
    return payload([i] for i in ids)
