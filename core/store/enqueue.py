"""Enqueue: new tasks and their first queued runs, one at a time or a whole batch.

One path for both: :meth:`EnqueueOps.enqueue` is a batch of one. A batch is all or nothing:
every task is validated before anything is written (a bad one is reported with its index),
then one transaction writes the workspaces it needs, and the tasks, runs and audit events
in chunks of up to CHUNK tasks, each chunk's rows sent as one JSON parameter to three
``INSERT ... SELECT`` statements (:mod:`parkbench.core.store.enqueue_sql`). On PostgreSQL a
chunk is one statement, and a batch of one chunk whose workspaces exist runs in autocommit:
a single enqueue is one round trip.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypedDict

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from parkbench.core import contracts, inputs
from parkbench.core.errors import InvalidTransitionError, NotFoundError, ValidationError
from parkbench.core.lifecycle import Action, ActorKind, RunStatus
from parkbench.core.models import events, runs, tasks, workspaces
from parkbench.core.records import Enqueued
from parkbench.core.store import enqueue_sql as sql
from parkbench.core.store import queries
from parkbench.core.store.audit import event_row
from parkbench.core.store.base import WORKER, StoreBase, default_actor, insert_run
from parkbench.core.store.json_rows import payload

INT32_MAX = 2**31 - 1
#: A year: far beyond any real task, and small enough to stay exact in epoch milliseconds.
MAX_RUNTIME_S = 366 * 24 * 3600
#: Rows per multi-row statement: bounds one statement's size in a big batch.
CHUNK = 2_000
#: ... and at most this many characters of titles and metadata (~tens of MB of JSON).
CHUNK_JSON = 16 * 1024 * 1024
NOT_NULL_VIOLATION = "23502"


@dataclass(frozen=True, slots=True)
class NewTask:
    """One task to enqueue: the fields of ``parkbench enqueue`` (and of a ``--from`` line)."""

    title: str
    workspace: str | os.PathLike[str]
    priority: int = 0
    max_attempts: int = 3
    metadata: Mapping[str, object] | str | None = None
    run_metadata: Mapping[str, object] | str | None = None
    max_runtime_s: float | None = None


@dataclass(frozen=True, slots=True)
class _Checked:
    """A :class:`NewTask` that passed validation, in the form it is stored."""

    title: str
    root: str
    priority: int
    max_attempts: int
    max_runtime_ms: int | None
    metadata_json: str
    run_metadata_json: str


def _check(task: NewTask, roots: dict[str, str], dirs: dict[str, set[str]]) -> _Checked:
    clean_title = inputs.title(task.title)
    # Resolved once per distinct workspace of a batch: most tasks share a few.
    given = os.fspath(task.workspace)
    root = roots.get(given)
    if root is None:
        root = roots[given] = workspace_root(given)
    task_md, task_md_json = inputs.json_object_text("metadata", task.metadata)
    run_md, run_md_json = inputs.json_object_text("run metadata", task.run_metadata)
    contract = contracts.parse_contract(task_md, run_md)
    if contract.required:
        contracts.validate_for_enqueue(root, contract, dirs=dirs.setdefault(root, set()))
    # Both are 32-bit columns on PostgreSQL: refuse the same range on every backend.
    if not 1 <= task.max_attempts <= INT32_MAX:
        raise ValidationError(
            f"max attempts must be between 1 and {INT32_MAX:,}, got {task.max_attempts}",
            hint="pass --max-attempts 1 or more",
        )
    inputs.priority(task.priority)
    runtime = task.max_runtime_s
    if runtime is not None and not 0 < runtime <= MAX_RUNTIME_S:
        raise ValidationError(
            f"max runtime must be between 0 and {MAX_RUNTIME_S:,} seconds, got {runtime:g}",
            hint="pass a positive number of seconds",
        )
    return _Checked(
        title=clean_title,
        root=root,
        priority=task.priority,
        max_attempts=task.max_attempts,
        max_runtime_ms=None if runtime is None else int(runtime * 1000),
        metadata_json=task_md_json,
        run_metadata_json=run_md_json,
    )


def _check_all(new_tasks: Iterable[NewTask]) -> tuple[list[_Checked], list[dict[str, object]]]:
    checked: list[_Checked] = []
    errors: list[dict[str, object]] = []
    roots: dict[str, str] = {}
    # Each root's resolved directories, for this batch: see contracts.check_path.
    dirs: dict[str, set[str]] = {}
    for index, task in enumerate(new_tasks):
        try:
            checked.append(_check(task, roots, dirs))
        except ValidationError as error:
            errors.append({"index": index, "message": error.message, "hint": error.hint})
    return checked, errors


def invalid_tasks(new_tasks: Iterable[NewTask]) -> list[dict[str, object]]:
    """What :meth:`EnqueueOps.enqueue_many` would refuse, without writing anything: one
    ``{"index", "message", "hint"}`` per invalid task."""
    return _check_all(new_tasks)[1]


class EnqueueOps(StoreBase):
    def enqueue(
        self,
        title: str,
        workspace: str | os.PathLike[str],
        *,
        priority: int = 0,
        max_attempts: int = 3,
        metadata: Mapping[str, object] | str | None = None,
        run_metadata: Mapping[str, object] | str | None = None,
        max_runtime_s: float | None = None,
        actor: str | None = None,
    ) -> Enqueued:
        """Create a task and its first queued run."""
        new = NewTask(
            title, workspace, priority, max_attempts, metadata, run_metadata, max_runtime_s
        )
        try:
            return self.enqueue_many([new], actor=actor)[0]
        except ValidationError as error:
            raise _first(error) from None

    def enqueue_many(
        self, new_tasks: Iterable[NewTask], *, actor: str | None = None
    ) -> list[Enqueued]:
        """Create every task and its first queued run in one transaction, or none of them.

        Raises :class:`ValidationError` listing each invalid task (``details["errors"]``:
        ``{"index", "message", "hint"}``, index from 0) before anything is written.
        """
        who = inputs.name("actor", actor or default_actor())
        checked, errors = _check_all(new_tasks)
        if errors:
            first = errors[0]
            raise ValidationError(
                f"{len(errors)} of {len(checked) + len(errors)} tasks are invalid, nothing was "
                f"enqueued; task {first['index']}: {first['message']}",
                hint=str(first["hint"]),
                errors=errors,
            )
        if not checked:
            return []

        roots = sorted({c.root for c in checked})

        def body(conn: sa.Connection) -> list[Enqueued]:
            now = self.clock()
            _ensure_workspaces(conn, roots, now)
            done: list[Enqueued] = []
            for chunk in _chunks(checked):
                done += _insert_chunk(conn, chunk, who, now)
            return done

        if self.one_statement_writes and len(checked) <= CHUNK:
            # PostgreSQL, one chunk: its INSERTs are one atomic statement, run in autocommit
            # (no BEGIN / COMMIT round trips): a single enqueue is one round trip. None: a
            # workspace does not exist yet, nothing was written; it is created in a
            # transaction with the tasks.
            done = self._write_statements(
                lambda conn: _insert_known(conn, checked, who, self.clock())
            )
            if done is not None:
                return done
        return self._write(body)

    def enqueue_again(self, task_id: int, *, actor: str | None = None) -> Enqueued:
        """A fresh first run for an existing task; refused while it has an open run."""
        who = inputs.name("actor", actor or default_actor())

        def body(conn: sa.Connection) -> Enqueued:
            now = self.clock()
            task = conn.execute(sa.select(tasks).where(tasks.c.id == task_id)).first()
            if task is None:
                raise NotFoundError(f"task {task_id} does not exist")
            try:
                with conn.begin_nested():
                    run_id = insert_run(
                        conn,
                        task_id=task_id,
                        workspace_id=task.workspace_id,
                        attempt=1,
                        max_attempts=task.max_attempts,
                        priority=task.priority,
                        max_runtime_ms=task.max_runtime_ms,
                        metadata_json="{}",
                        now=now,
                    )
            except IntegrityError:
                open_run = queries.open_run_id(conn, task_id)
                raise InvalidTransitionError(
                    f"task {task_id} already has an open run ({open_run})",
                    hint=f"inspect it with `parkbench show {open_run}`",
                ) from None
            self._event(conn, **_enqueue_event(run_id, task_id, who, now))
            return Enqueued(task_id=task_id, run_id=run_id)

        return self._write(body)


def _first(error: ValidationError) -> ValidationError:
    """A batch of one reports its task's own error, not the batch's summary."""
    errors = error.details.get("errors")
    if isinstance(errors, list) and len(errors) == 1:
        return ValidationError(str(errors[0]["message"]), hint=str(errors[0]["hint"]))
    return error


class _EnqueueEvent(TypedDict):
    """The keyword arguments of :func:`event_row` for an enqueue."""

    run_id: int
    task_id: int
    actor_kind: ActorKind
    actor: str
    action: Action
    from_status: None
    to_status: RunStatus
    now: int


def _enqueue_event(run_id: int, task_id: int, who: str, now: int) -> _EnqueueEvent:
    return {
        "run_id": run_id,
        "task_id": task_id,
        "actor_kind": WORKER,
        "actor": who,
        "action": Action.ENQUEUE,
        "from_status": None,
        "to_status": RunStatus.QUEUED,
        "now": now,
    }


def _chunks(checked: list[_Checked]) -> Iterator[list[_Checked]]:
    """Up to CHUNK tasks at a time, and at most CHUNK_JSON characters of metadata: bounds
    one statement's parameter whatever the batch."""
    chunk: list[_Checked] = []
    size = 0
    for c in checked:
        size += len(c.title) + len(c.metadata_json) + len(c.run_metadata_json)
        if chunk and (len(chunk) == CHUNK or size > CHUNK_JSON):
            yield chunk
            chunk, size = [], len(c.title) + len(c.metadata_json) + len(c.run_metadata_json)
        chunk.append(c)
    if chunk:
        yield chunk


def _insert_known(
    conn: sa.Connection, chunk: list[_Checked], who: str, now: int
) -> list[Enqueued] | None:
    """:func:`_insert_chunk` if every workspace exists; None (nothing written) otherwise."""
    try:
        return _insert_chunk(conn, chunk, who, now)
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) == NOT_NULL_VIOLATION:  # no workspace_id
            return None
        raise


def _insert_chunk(conn: sa.Connection, chunk: list[_Checked], who: str, now: int) -> list[Enqueued]:
    """The chunk's tasks, first runs and enqueue events: see :mod:`enqueue_sql`."""
    rows = [
        [
            c.title,
            c.root,
            c.priority,
            c.max_attempts,
            c.max_runtime_ms,
            c.metadata_json,
            c.run_metadata_json,
        ]
        for c in chunk
    ]
    params: dict[str, object] = {"p_rows": payload(rows)}
    # The constant columns, from the shape functions every insert of a run or event uses.
    params |= sql.constant_params(tasks, {"created_at": now})
    params |= sql.constant_params(runs, sql.first_run(now))
    params |= sql.constant_params(events, event_row(**_enqueue_event(0, 0, who, now)))
    if conn.dialect.name == "postgresql":
        ids = conn.execute(sql.PG_INSERT, params).all()
        return [Enqueued(task_id=task_id, run_id=run_id) for task_id, run_id in ids]
    task_base, run_base = conn.execute(sql.MAX_IDS).one()
    params |= {"p_task_base": task_base, "p_run_base": run_base}
    for statement in sql.SQLITE_INSERTS:
        conn.execute(statement, params)
    return [Enqueued(task_id=task_base + i, run_id=run_base + i) for i in range(1, len(chunk) + 1)]


def workspace_root(workspace: str | os.PathLike[str]) -> str:
    """The workspace's root as stored: absolute, symlinks resolved; it must be a directory."""
    text = os.fspath(workspace)
    if not text.strip():
        raise ValidationError("workspace is required", hint="pass --workspace DIR")
    inputs._check_encodable("workspace", text)
    root = os.path.realpath(os.path.expanduser(text))
    if not os.path.isdir(root):
        raise ValidationError(
            f"workspace {text!r} is not a directory",
            hint=f"create it first (`mkdir -p {text}`) or pass an existing --workspace",
        )
    return root


def _ensure_workspaces(conn: sa.Connection, roots: list[str], now: int) -> None:
    """Create the workspaces of ``roots`` that do not exist yet (one read for all)."""
    known = set(conn.execute(sql.KNOWN_ROOTS, {"p_roots": roots}).scalars())
    for root in roots:
        if root not in known:
            _ensure_workspace(conn, root, now)


def _ensure_workspace(conn: sa.Connection, root: str, now: int) -> int:
    query = sa.select(workspaces.c.id).where(workspaces.c.root == root)
    existing = conn.execute(query).scalar()
    if existing is not None:
        return existing
    try:
        with conn.begin_nested():
            return conn.execute(
                workspaces.insert().returning(workspaces.c.id),
                {"name": os.path.basename(root) or root, "root": root, "created_at": now},
            ).scalar_one()
    except IntegrityError:  # another process created it first (PostgreSQL)
        return conn.execute(query).scalar_one()
