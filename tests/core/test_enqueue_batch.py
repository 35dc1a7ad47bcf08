"""Batch enqueue: one transaction, all or nothing, the same rows a single enqueue writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from parkbench.core.errors import ValidationError
from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import events, runs, tasks, workspaces
from parkbench.core.records import RunFilter
from parkbench.core.store import NewTask, Store


def _count(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_batch_writes_every_task_run_and_event_in_order(store: Store, workspace: Path) -> None:
    other = workspace / "other"
    other.mkdir()
    batch = [
        NewTask("first", workspace, priority=2),
        NewTask("second", other, max_attempts=5, run_metadata={"shard": 1}),
        NewTask("third", workspace, metadata={"completion_contract": {"required_paths": ["r"]}}),
    ]
    done = store.enqueue_many(batch, actor="loader")
    assert [e.run_id for e in done] == sorted(e.run_id for e in done)
    assert len({e.task_id for e in done}) == 3
    for new, enqueued in zip(batch, done, strict=True):
        detail = store.get_run(enqueued.run_id, check_disk=False)
        assert (detail.run.title, detail.run.status) == (new.title, RunStatus.QUEUED)
        assert detail.run.task_id == enqueued.task_id
        assert [(e.action, e.actor) for e in detail.events] == [("enqueue", "loader")]
    assert store.get_run(done[1].run_id).run.max_attempts == 5
    assert store.get_run(done[1].run_id).run_metadata == {"shard": 1}
    assert store.get_run(done[2].run_id).run.contract.required == ("r",)
    assert _count(store, workspaces) == 2  # one row per root, however many tasks share it


def test_one_bad_task_writes_nothing_and_names_every_bad_one(store: Store, workspace: Path) -> None:
    batch = [
        NewTask("fine", workspace),
        NewTask("   ", workspace),
        NewTask("escapes", workspace, metadata={"completion_contract": {"required_paths": [".."]}}),
        NewTask("nowhere", workspace / "missing"),
    ]
    with pytest.raises(ValidationError) as raised:
        store.enqueue_many(batch)
    errors = raised.value.details["errors"]
    assert [e["index"] for e in errors] == [1, 2, 3]  # type: ignore[index, union-attr]
    assert "3 of 4 tasks are invalid" in raised.value.message
    assert (_count(store, tasks), _count(store, runs), _count(store, events)) == (0, 0, 0)


def test_a_single_enqueue_is_a_batch_of_one_with_its_own_error(
    store: Store, workspace: Path
) -> None:
    with pytest.raises(ValidationError) as raised:
        store.enqueue("t", workspace / "missing")
    assert raised.value.message.startswith("workspace ")
    assert "details" not in raised.value.to_dict()


def test_an_empty_batch_is_nothing(store: Store) -> None:
    assert store.enqueue_many([]) == []


def test_a_large_batch_is_claimable_in_priority_order(store: Store, workspace: Path) -> None:
    done = store.enqueue_many(NewTask(f"t{i}", workspace, priority=i % 3) for i in range(4_500))
    assert len(done) == 4_500 and len({e.run_id for e in done}) == 4_500
    assert store.count_runs(RunFilter(status=RunStatus.QUEUED)) == 4_500
    claimed = store.claim_next("w")
    assert claimed is not None and claimed.task.priority == 2
    assert _count(store, events) == 4_501
