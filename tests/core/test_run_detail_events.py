"""A run's detail loads a bounded tail of its audit trail plus the trail's length."""

from __future__ import annotations

from pathlib import Path

import pytest

from parkbench.core.errors import ValidationError
from parkbench.core.store import Store


def _run_with_events(store: Store, workspace: Path, cycles: int) -> int:
    """A run whose trail is enqueue plus ``cycles`` claim/release pairs."""
    run_id = store.enqueue("busy", workspace).run_id
    for _ in range(cycles):
        claim = store.claim_next("w")
        assert claim is not None and claim.run_id == run_id
        store.release(run_id, claim.claim_token)
    return run_id


def test_detail_loads_the_last_events_and_counts_them_all(store: Store, workspace: Path) -> None:
    run_id = _run_with_events(store, workspace, 30)
    every = store.get_run(run_id, check_disk=False, events_limit=None)
    assert every.events_total == len(every.events) == 61
    ids = [e.id for e in every.events]
    assert ids == sorted(ids)
    tail = store.get_run(run_id, check_disk=False, events_limit=10)
    assert tail.events_total == 61
    assert [e.id for e in tail.events] == ids[-10:]  # the newest ten, oldest first
    counted = store.get_run(run_id, check_disk=False, events_limit=0)
    assert (counted.events, counted.events_total) == ((), 61)
    assert store.get_run(run_id, check_disk=False, events_limit=1000).events == every.events
    assert tail.to_dict()["events_total"] == 61


def test_detail_bounds_its_events_by_default(store: Store, workspace: Path) -> None:
    from parkbench.core.store.detail import DETAIL_EVENTS

    run_id = _run_with_events(store, workspace, DETAIL_EVENTS // 2 + 1)
    detail = store.get_run(run_id, check_disk=False)
    assert len(detail.events) == DETAIL_EVENTS < detail.events_total


def test_a_negative_event_limit_is_refused(store: Store, workspace: Path) -> None:
    run_id = store.enqueue("t", workspace).run_id
    with pytest.raises(ValidationError):
        store.get_run(run_id, events_limit=-1)
