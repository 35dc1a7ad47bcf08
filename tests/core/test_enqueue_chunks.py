"""Batch enqueue in chunks: the rows a single enqueue writes, all or nothing across chunks,
the contract checks of a whole batch, and the round trips a single enqueue costs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from parkbench.core import contracts
from parkbench.core.errors import DatabaseError, ValidationError
from parkbench.core.models import events, runs, tasks, workspaces
from parkbench.core.store import NewTask, Store
from parkbench.core.store import enqueue as enqueue_module

#: Columns that differ between two otherwise equal enqueues.
_IDS = {"id", "task_id", "run_id", "workspace_id"}


def _rows(store: Store, table: sa.Table) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        found = conn.execute(sa.select(table).order_by(table.c.id)).mappings().all()
    return [{k: v for k, v in row.items() if k not in _IDS} for row in found]


def _count(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _mixed(workspace: Path, other: Path) -> list[NewTask]:
    """Every kind of task: contracts on the task, on the run, on both, none; limits; two
    workspaces; text that JSON escapes."""
    receipt = {"completion_contract": {"required_paths": ["out/r.md"]}}
    return [
        NewTask("plain", workspace),
        NewTask('quote " back \\ slash\ttab', other, priority=-7, max_attempts=9),
        NewTask("task contract", workspace, metadata=receipt, max_runtime_s=2.5),
        NewTask("run contract", other, run_metadata={**receipt, "shard": 3}),
        NewTask(
            "both, park",
            workspace,
            metadata={"completion_contract": {"required_paths": ["a.txt"]}},
            run_metadata={"completion_contract": {"missing_policy": "park"}},
            priority=2**31 - 1,
        ),
        NewTask("ünïcödé ✓ 𝄞", workspace, metadata='{"k": [1, 2.5, null, true]}'),
        NewTask("year", other, max_runtime_s=366 * 24 * 3600, max_attempts=2**31 - 1),
    ]


@pytest.fixture
def tiny_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enqueue_module, "CHUNK", 2)


def test_a_chunked_batch_writes_the_rows_single_enqueues_write(
    db_url: str, tmp_path: Path, workspace: Path, tiny_chunks: None
) -> None:
    other = workspace / "other"
    other.mkdir()
    batch = _mixed(workspace, other)
    # Two stores on the same fixed clock: one enqueues one task at a time, one the batch.
    with Store.open(db_url, clock=lambda: 1_000) as single:
        one_by_one = [
            single.enqueue(
                t.title,
                t.workspace,
                priority=t.priority,
                max_attempts=t.max_attempts,
                metadata=t.metadata,
                run_metadata=t.run_metadata,
                max_runtime_s=t.max_runtime_s,
                actor="loader",
            )
            for t in batch
        ]
        expected = {table.name: _rows(single, table) for table in (tasks, runs, events)}
        with single.engine.begin() as conn:
            for table in (events, runs, tasks):
                conn.execute(table.delete())
    with Store.open(db_url, clock=lambda: 1_000) as batched:
        done = batched.enqueue_many(batch, actor="loader")
        assert {table.name: _rows(batched, table) for table in (tasks, runs, events)} == expected
        assert _count(batched, workspaces) == 2
        # Ids in input order, each run its task's, each event its run's.
        assert [e.run_id for e in done] == sorted(e.run_id for e in done)
        assert len(one_by_one) == len(done)
        for new, enqueued in zip(batch, done, strict=True):
            detail = batched.get_run(enqueued.run_id, check_disk=False)
            assert (detail.run.title, detail.run.task_id) == (new.title, enqueued.task_id)
            assert [(e.action, e.run_id) for e in detail.events] == [("enqueue", enqueued.run_id)]


def _refuse_title(store: Store, title: str) -> None:
    """A real database failure on one row: a trigger that refuses the title."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON tasks "
                f"WHEN NEW.title = '{title}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.title = '{title}' THEN RAISE EXCEPTION 'refused'; END IF; "
                "RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON tasks"
                " FOR EACH ROW EXECUTE FUNCTION refuse()"
            )


def test_a_failure_in_a_later_chunk_writes_nothing(
    store: Store, workspace: Path, tiny_chunks: None
) -> None:
    _refuse_title(store, "boom")
    batch = [NewTask(f"t{i}", workspace / f"w{i % 2}") for i in range(5)]
    for i in range(2):
        (workspace / f"w{i}").mkdir()
    with pytest.raises(DatabaseError):
        store.enqueue_many([*batch, NewTask("boom", workspace)])
    with pytest.raises(DatabaseError):  # a single enqueue, and into a new workspace
        store.enqueue("boom", workspace / "w0")
    (workspace / "new").mkdir()
    with pytest.raises(DatabaseError):
        store.enqueue("boom", workspace / "new")
    for table in (tasks, runs, events, workspaces):
        assert _count(store, table) == 0, table.name
    assert len(store.enqueue_many(batch)) == 5


def test_big_metadata_splits_chunks_by_size(
    store: Store, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(enqueue_module, "CHUNK_JSON", 3_000)
    big = {"blob": "x" * 1_000}
    chunks = list(
        enqueue_module._chunks(
            enqueue_module._check_all(
                [NewTask(f"t{i}", workspace, metadata=big) for i in range(7)]
            )[0]
        )
    )
    assert [len(c) for c in chunks] == [2, 2, 2, 1]
    done = store.enqueue_many(NewTask(f"t{i}", workspace, metadata=big) for i in range(7))
    assert [store.get_run(e.run_id).run.title for e in done] == [f"t{i}" for i in range(7)]


def _tree(workspace: Path, outside: Path) -> list[str]:
    """Paths under parent directories that are real, symlinked inside, symlinked outside,
    dangling, files, or missing: each checked after others under the same parent."""
    (workspace / "real" / "sub").mkdir(parents=True)
    (workspace / "real" / "file.txt").write_text("x")
    (outside / "secret.txt").write_text("s")
    os.symlink(workspace / "real", workspace / "inner")
    os.symlink(outside, workspace / "escape")
    os.symlink("real/sub", workspace / "relative")
    os.symlink(outside / "secret.txt", workspace / "real" / "leaf-out.txt")
    os.symlink("file.txt", workspace / "real" / "leaf-in.txt")
    os.symlink(workspace / "nowhere", workspace / "dangling")
    names = ["a.txt", "file.txt", "leaf-out.txt", "leaf-in.txt", "sub", "secret.txt"]
    parents = ["", "real", "real/sub", "inner", "escape", "relative", "dangling", "missing/deep"]
    parents += ["real/file.txt", "inner/sub", "escape/deeper"]
    return [f"{p}/{n}" if p else n for p in parents for n in names]


def test_a_batchs_directory_cache_changes_no_verdict(tmp_path: Path, workspace: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    paths = _tree(workspace, outside)
    root = str(workspace)
    alone = [contracts.check_path(root, p) for p in paths]
    seen: set[str] = set()
    batch = contracts.check_artifacts(root, paths + paths, dirs=seen)
    assert batch == alone + alone
    assert {c.state for c in alone} >= {
        contracts.ArtifactState.UNSAFE,
        contracts.ArtifactState.PRESENT,
        contracts.ArtifactState.MISSING,
    }


def test_a_batch_refuses_exactly_the_tasks_whose_paths_escape(
    store: Store, tmp_path: Path, workspace: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    paths = _tree(workspace, outside)
    unsafe = {
        i
        for i, p in enumerate(paths)
        if contracts.check_path(str(workspace), p).state is contracts.ArtifactState.UNSAFE
    }
    assert 0 < len(unsafe) < len(paths)
    batch = [
        NewTask(f"t{i}", workspace, metadata={"completion_contract": {"required_paths": [p]}})
        for i, p in enumerate(paths)
    ]
    with pytest.raises(ValidationError) as refused:
        store.enqueue_many(batch)
    errors = refused.value.details["errors"]
    assert {e["index"] for e in errors} == unsafe  # type: ignore[index, union-attr]
    assert _count(store, tasks) == 0
    fine = [t for i, t in enumerate(batch) if i not in unsafe]
    assert len(store.enqueue_many(fine)) == len(fine)


@pytest.fixture
def statements(store: Store) -> Iterator[list[str]]:
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        sent.append(statement.split(None, 1)[0].upper())

    sa.event.listen(store.engine, "before_cursor_execute", record)
    yield sent
    sa.event.remove(store.engine, "before_cursor_execute", record)


def test_a_single_enqueue_is_one_statement_on_postgresql(
    store: Store, workspace: Path, statements: list[str]
) -> None:
    store.enqueue("first", workspace)  # creates the workspace
    statements.clear()
    store.enqueue("second", workspace)
    if store.engine.dialect.name == "postgresql":
        # Autocommit: the workspace (by its root), task, run and event in one statement.
        assert statements == ["WITH"]
    else:
        # Inside BEGIN IMMEDIATE: the known roots, the next ids, one INSERT per table.
        assert statements == ["BEGIN", "SELECT", "SELECT", "WITH", "WITH", "WITH"]
    assert _count(store, events) == 2
