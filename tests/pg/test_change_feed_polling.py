"""The polling change feed (SQLite's, and a fallback anywhere): the same interface as the
NOTIFY feed. Runs on both backends through the shared ``store`` fixture.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from parkbench.core.db.notify import (
    MAX_BATCH_IDS,
    Changes,
    FeedState,
    PollingChangeFeed,
    PostgresChangeFeed,
    change_feed_for,
)
from parkbench.core.store import Store

# Polls every 10 ms so the tests wait for events, not for a timer.
FAST = 0.01
WAIT_S = 10.0


def _next(feed: PollingChangeFeed) -> Changes:
    changes = feed.wait(WAIT_S)
    assert changes is not None, f"nothing within {WAIT_S} s (state {feed.state})"
    return changes


def test_the_factory_picks_the_backend_s_feed(store: Store) -> None:
    feed = change_feed_for(store)
    expected = PollingChangeFeed if store.engine.dialect.name == "sqlite" else PostgresChangeFeed
    assert type(feed) is expected
    feed.close()


def test_polling_reports_exactly_the_runs_that_changed(store: Store, workspace: Path) -> None:
    states: list[FeedState] = []
    first = store.enqueue("one", workspace).run_id
    feed = PollingChangeFeed(store, interval_s=FAST, on_state=states.append)
    with feed:
        assert _next(feed) == Changes(resync=True)
        second = store.enqueue("two", workspace).run_id
        assert _next(feed).run_ids == {second}
        claim = store.claim_next("agent")
        assert claim is not None and claim.run_id == first
        store.block(first, claim.claim_token, reason="stuck")
        store.force_fail([second], reason="not needed", actor="alice")
        seen: set[int] = set()
        while seen != {first, second}:  # one or more batches, never a foreign id
            batch = _next(feed)
            assert not batch.resync and batch.run_ids <= {first, second}
            seen |= batch.run_ids
        assert feed.wait(3 * FAST) is None  # quiet when nothing changes
    assert states == [FeedState.CONNECTED, FeedState.CLOSED]


def test_a_burst_larger_than_a_batch_becomes_a_resync(
    store: Store, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("parkbench.core.db.notify.MAX_BATCH_IDS", 3)
    feed = PollingChangeFeed(store, interval_s=FAST).start()
    try:
        assert _next(feed).resync
        for i in range(5):
            store.enqueue(f"task {i}", workspace)
        assert _next(feed) == Changes(resync=True)
    finally:
        feed.close()
    assert MAX_BATCH_IDS > 3  # the real limit is untouched


def test_a_database_that_went_away_means_reconnecting_then_a_resync(
    tmp_path: Path, workspace: Path
) -> None:
    path = tmp_path / "moving.db"
    states: list[FeedState] = []
    with Store.open(f"sqlite:///{path}") as store:
        feed = PollingChangeFeed(store, interval_s=FAST, on_state=states.append, backoff_cap_s=FAST)
        with feed:
            assert _next(feed).resync
            store.enqueue("before", workspace)
            assert _next(feed).run_ids
            with store.engine.begin() as conn:  # the events table vanishes (damage, restore)
                conn.execute(sa.text("ALTER TABLE events RENAME TO events_away"))
            assert feed.wait(20 * FAST) is None
            assert feed.state is FeedState.RECONNECTING and feed.last_error
            with store.engine.begin() as conn:
                conn.execute(sa.text("ALTER TABLE events_away RENAME TO events"))
            assert _next(feed) == Changes(resync=True)
            assert feed.state is FeedState.CONNECTED
    assert states == [
        FeedState.CONNECTED,
        FeedState.RECONNECTING,
        FeedState.CONNECTED,
        FeedState.CLOSED,
    ]


def test_close_wakes_a_waiting_consumer(store: Store) -> None:
    feed = PollingChangeFeed(store, interval_s=FAST).start()
    assert _next(feed).resync
    done = threading.Event()

    def consume() -> None:
        for _ in feed:
            pass
        done.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    feed.close()
    assert done.wait(WAIT_S)
    consumer.join(WAIT_S)
