"""Plumbing shared by every store operation: connections, transactions, the audit event."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Self, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from parkbench.core import inputs
from parkbench.core.db.engine import (
    damaged_data,
    database_clock,
    make_engine,
    out_of_range,
    redact_url,
    resolve_url,
    translate,
)
from parkbench.core.db.schema import check_schema, ensure_schema
from parkbench.core.errors import (
    DatabaseError,
    ParkbenchError,
)
from parkbench.core.lifecycle import ActorKind, RunStatus
from parkbench.core.models import events, runs
from parkbench.core.store.audit import event_row

T = TypeVar("T")

DEFAULT_LEASE_S = inputs.DEFAULT_LEASE_S
MAX_LEASE_S = inputs.MAX_LEASE_S
MAX_LINEAGE_DEPTH = 10
#: claim_next sweeps expired leases itself at most this often per process.
SWEEP_INTERVAL_MS = 5_000

WORKER, HUMAN, SYSTEM = ActorKind.WORKER, ActorKind.HUMAN, ActorKind.SYSTEM
# The token hash outlives the lease on purpose: it authorises nothing (every fenced UPDATE
# also needs status = claimed and a live lease), but a worker presenting its old token then
# meets the spec's third check, invalid_transition naming the status, not invalid_token.
CLEAR_LEASE = {"lease_until": None, "runtime_deadline": None}
#: A move that drops the block reason drops the cause it was keyed by (runs.cause_key).
CLEAR_CAUSE = {"block_reason": None, "cause_key": None}


def default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): fall back to the environment
        return os.environ.get("USER") or "reviewer"


class StoreBase:
    """One database, many processes. Thread-safe: each call checks out its own connection."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], int] | None = None,
        default_lease_s: int = DEFAULT_LEASE_S,
        max_lease_s: int = MAX_LEASE_S,
        read_only: bool = False,
    ) -> None:
        self.engine = engine
        #: Opened with read_only=True: reads work, every change is refused with `database`.
        self.read_only = read_only
        self.url = str(engine.url)
        self.clock = clock or database_clock(engine)
        self.default_lease_s = default_lease_s
        self.max_lease_s = max_lease_s
        self._last_sweep_ms = 0
        #: PostgreSQL runs the worker hot path as single audited statements in autocommit
        #: (see _write_statements and parkbench.core.store.worker).
        self.one_statement_writes = engine.dialect.name == "postgresql"

    @classmethod
    def open(
        cls, url: str | None = None, *, create: bool = True, read_only: bool = False, **options: Any
    ) -> Self:
        """Open (creating or upgrading as needed) the database at ``url``.

        ``create=False`` opens only an existing Parkbench database: a SQLite file that is not
        there is ``not_found`` (and is not created, nor the default file's directory), an
        empty one ``database``. ``read_only=True`` never writes: no create, no upgrade, no WAL
        switch, and the connection itself refuses writes; it works on read-only files,
        directories and mounts.
        """
        may_create = create and not read_only
        resolved = resolve_url(url, make_default_dir=may_create)
        engine = make_engine(resolved, read_only=read_only, must_exist=not create and not read_only)
        try:
            if read_only:
                check_schema(engine)
            else:
                ensure_schema(engine, create=create)
            return cls(engine, read_only=read_only, **options)
        except ParkbenchError:
            engine.dispose()
            raise
        except DBAPIError as error:
            engine.dispose()
            raise translate(error, resolved) from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as error:
            orig = error.orig
            if orig is not None and getattr(orig, "sqlstate", None) == "22003":  # out of range
                raise out_of_range(orig) from None
            raise translate(error, self.url) from None
        except OverflowError as error:  # SQLite binds at most 64-bit integers
            raise out_of_range(error) from None
        except ValueError as error:
            damaged = damaged_data(error, self.url)
            if damaged is None:
                raise
            raise damaged from None

    def _write(self, body: Callable[[sa.Connection], T]) -> T:
        """Run ``body`` in one write transaction; driver failures become ``database``."""
        if self.read_only:
            raise DatabaseError(
                f"database {redact_url(self.url)} is open read-only: nothing was changed",
                hint="run the command again without --read-only (it needs write access)",
            )
        with self._translated(), self.engine.connect() as conn:
            conn = conn.execution_options(parkbench_write=True)
            with conn.begin():
                return body(conn)

    def _write_statements(self, body: Callable[[sa.Connection], T]) -> T:
        """Like :meth:`_write`, for bodies whose every change is ONE statement that also
        writes its audit event (a data-modifying CTE, see :mod:`parkbench.core.store.worker`).

        On PostgreSQL they run in autocommit: each statement is still atomic, reads see
        committed rows as they would inside a READ COMMITTED transaction, and the BEGIN and
        COMMIT round trips are saved. SQLite keeps its IMMEDIATE transaction, whose write
        lock is what serialises its writers.
        """
        if self.read_only or not self.one_statement_writes:
            return self._write(body)
        with self._translated(), self.engine.connect() as conn:
            # psycopg's own switch: SQLAlchemy's isolation_level option would re-apply
            # connection characteristics on every checkout, which costs more than the
            # round trips saved. Nothing is in progress here, so the switch is local.
            driver = conn.connection.driver_connection
            # Typed Optional (None once detached); a connection just checked out has one.
            driver.autocommit = True  # type: ignore[union-attr]
            try:
                return body(conn)
            finally:
                try:
                    driver.autocommit = False  # type: ignore[union-attr]  # as above
                except Exception:  # the connection broke mid-call: never reuse it
                    conn.invalidate()

    def read(self, body: Callable[[sa.Connection], T]) -> T:
        with self._translated(), self.engine.connect() as conn, conn.begin():
            return body(conn)

    def _lease_ms(self, lease_s: float | None) -> int:
        return inputs.lease_ms(lease_s, default_s=self.default_lease_s, max_s=self.max_lease_s)

    @staticmethod
    def _event(conn: sa.Connection, **fields: Any) -> None:
        """Write the audit event; ``fields`` as :func:`event_row` takes them."""
        conn.execute(events.insert(), event_row(**fields))


def run_values(
    *,
    task_id: int,
    workspace_id: int,
    attempt: int,
    max_attempts: int,
    priority: int,
    max_runtime_ms: int | None,
    metadata_json: str,
    now: int,
    previous_run_id: int | None = None,
    root_run_id: int | None = None,
    lineage_depth: int = 0,
    attempt_limit_overridden: bool = False,
) -> dict[str, object]:
    """The row of a fresh queued run: the only shape runs are created in."""
    return {
        "task_id": task_id,
        "workspace_id": workspace_id,
        "attempt": attempt,
        "max_attempts": max_attempts,
        "priority": priority,
        "status": RunStatus.QUEUED.value,
        "previous_run_id": previous_run_id,
        "root_run_id": root_run_id,
        "lineage_depth": lineage_depth,
        "max_runtime_ms": max_runtime_ms,
        "metadata_json": metadata_json,
        "attempt_limit_overridden": attempt_limit_overridden,
        "version": 1,
        "queued_at": now,
        "status_changed_at": now,
    }


def insert_run(conn: sa.Connection, **fields: Any) -> int:
    """Insert one fresh queued run (fields as :func:`run_values` takes them); its id."""
    return conn.execute(runs.insert().returning(runs.c.id), run_values(**fields)).scalar_one()
