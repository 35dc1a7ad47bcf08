"""SQLite's worker hot path: statements compiled once, run straight on the DBAPI cursor.

SQLAlchemy's per-call machinery (connection facade, execution context, events, result
objects) costs tens of microseconds a statement, several times what SQLite itself spends on
these indexed single-row statements: a claim+complete cycle (five statements in two
IMMEDIATE transactions) spent most of its time there. The statements stay SQLAlchemy Core
constructs (:mod:`core.worker_sql`), each compiled once; only the per-call machinery is
skipped. :class:`DirectConnection` implements just the part of ``sa.Connection`` that the
worker bodies use, and driver errors still surface as SQLAlchemy's ``DBAPIError`` so the
store translates them exactly as before.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, Engine

T = TypeVar("T")

#: Statements are cached by identity (the hot path's are module constants), holding a
#: strong reference so an id is never reused. Bounded, so a caller that builds statements
#: per call costs a compile each time but never leaks.
_CACHE_LIMIT = 64
_cache: dict[tuple[int, tuple[str, ...]], tuple[sa.Executable, _Prepared]] = {}


class _Prepared:
    """One statement compiled for SQLite: its SQL, parameter order and fixed values."""

    __slots__ = ("defaults", "names", "row_type", "sql")

    def __init__(self, statement: sa.Executable, dialect: Dialect, keys: tuple[str, ...]):
        compiled = statement.compile(dialect=dialect, column_keys=list(keys) or None)
        for bind in compiled.binds.values():
            # The hot path binds ints, text and None, which sqlite3 takes as they are; a type
            # needing conversion must go through SQLAlchemy's own execute instead.
            if bind.type.bind_processor(dialect) is not None:
                raise TypeError(f"{bind.key!r} needs a bind processor: not for the direct path")
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.defaults = {n: b.value for n, b in compiled.binds.items() if not b.required}
        self.row_type: type | None = None  # named from the cursor's columns on first use

    def parameters(self, given: Mapping[str, Any]) -> list[Any]:
        defaults = self.defaults
        return [given[n] if n in given else defaults[n] for n in self.names]


def compile_text(
    statement: sa.Executable, dialect: Dialect, keys: tuple[str, ...] = ()
) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """``(sql, parameter names in order, fixed values)`` of ``statement`` on SQLite, as the
    direct path runs it (``keys``: the columns an INSERT is given)."""
    prepared = _Prepared(statement, dialect, keys)
    return prepared.sql, prepared.names, prepared.defaults


def _prepared(statement: sa.Executable, dialect: Dialect, given: Mapping[str, Any]) -> _Prepared:
    # An INSERT compiles to the columns it is given; everything else has fixed parameters.
    keys = tuple(sorted(given)) if isinstance(statement, sa.Insert) else ()
    entry = _cache.get((id(statement), keys))
    if entry is not None and entry[0] is statement:
        return entry[1]
    prepared = _Prepared(statement, dialect, keys)
    if len(_cache) < _CACHE_LIMIT:
        _cache[(id(statement), keys)] = (statement, prepared)
    return prepared


def _wrapped(error: sqlite3.Error, sql: str | None) -> sa.exc.DBAPIError:
    return sa.exc.DBAPIError.instance(sql, None, error, sqlite3.Error)


class DirectResult:
    """The rows of one statement: ``first()`` and ``rowcount``, as the hot path uses them."""

    __slots__ = ("_cursor", "_prepared", "rowcount")

    def __init__(self, cursor: sqlite3.Cursor, prepared: _Prepared) -> None:
        self._cursor = cursor
        self._prepared = prepared
        self.rowcount = cursor.rowcount

    def first(self) -> Any:
        # fetchall runs the statement to its end, so it is reset before the next one and
        # the COMMIT never meets a statement in progress.
        try:
            rows = self._cursor.fetchall()
        except sqlite3.Error as error:
            raise _wrapped(error, self._prepared.sql) from error
        if not rows:
            return None
        prepared = self._prepared
        if prepared.row_type is None:
            names = [column[0] for column in self._cursor.description]
            prepared.row_type = namedtuple("Row", names)  # type: ignore[misc]
        return prepared.row_type(*rows[0])


class DirectConnection:
    """``execute(statement, parameters)`` on a sqlite3 cursor inside an open transaction."""

    __slots__ = ("_cursor", "_dialect")

    def __init__(self, cursor: sqlite3.Cursor, dialect: Dialect) -> None:
        self._cursor = cursor
        self._dialect = dialect

    def execute(
        self, statement: sa.Executable, parameters: Mapping[str, Any] | None = None
    ) -> DirectResult:
        given = parameters or {}
        prepared = _prepared(statement, self._dialect, given)
        try:
            self._cursor.execute(prepared.sql, prepared.parameters(given))
        except sqlite3.Error as error:
            raise _wrapped(error, prepared.sql) from error
        return DirectResult(self._cursor, prepared)


def observed(engine: Engine) -> bool:
    """Whether something listens to the engine's statements (tracing, fault injection in
    tests): those writes take SQLAlchemy's own path, which fires the listeners."""
    dispatch = engine.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def write(engine: Engine, body: Callable[[DirectConnection], T]) -> T:
    """Run ``body`` in one IMMEDIATE transaction on a pooled connection; commit or roll back."""
    pooled = engine.raw_connection()
    try:
        driver: sqlite3.Connection = pooled.driver_connection  # type: ignore[assignment]
        cursor = driver.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            result = body(DirectConnection(cursor, engine.dialect))
            driver.commit()
            return result
        except BaseException:
            try:
                driver.rollback()
            except sqlite3.Error:
                pooled.invalidate()  # never hand out a connection in an unknown state
            raise
        finally:
            cursor.close()
    except sqlite3.Error as error:
        raise _wrapped(error, None) from error
    finally:
        pooled.close()
