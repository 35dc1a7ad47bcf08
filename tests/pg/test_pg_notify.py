"""The PostgreSQL change feed: LISTEN/NOTIFY delivers changed run ids, survives the server
ending its session and the server disappearing for a while, and never leaves a consumer
frozen: a wait returns on its deadline, and the state says "reconnecting".
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from parkbench.core.db.notify import (
    CHANNEL,
    POLL_SLICE_S,
    Changes,
    FeedState,
    PostgresChangeFeed,
    change_feed_for,
    libpq_conninfo,
)
from parkbench.core.db.schema import MIGRATIONS_DIR
from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import NewTask, Store
from pg.pgtest_support import Relay, terminate_backend

# Generous bounds for a loaded CI machine; every wait returns as soon as its event arrives.
DELIVERY_S = 10.0


def _next_ids(feed, timeout: float = DELIVERY_S) -> frozenset[int]:
    """The run ids of the next non-resync batch (a resync first is allowed and skipped)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        changes = feed.wait(left)
        if changes is None:
            break
        if not changes.resync:
            return changes.run_ids
    raise AssertionError(f"no change delivered within {timeout} s (state {feed.state})")


def _expect_resync(feed, timeout: float = DELIVERY_S) -> None:
    changes = feed.wait(timeout)
    assert changes is not None and changes.resync, changes


@pytest.fixture
def feed_states() -> list[FeedState]:
    return []


def test_the_trigger_notifies_the_channel_core_listens_on(pg_store: Store) -> None:
    for name in ("0003_notify_run_changes", "0005_notify_per_statement"):
        path = MIGRATIONS_DIR / "versions" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"parkbench_migration_{name}", path)
        assert spec is not None and spec.loader is not None
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        assert migration.CHANNEL == CHANNEL
    with pg_store.engine.connect() as conn:
        triggers = conn.execute(
            sa.text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass")
        ).scalars()
        assert "parkbench_events_notify" in set(triggers)


def test_a_block_by_another_process_reaches_the_feed(
    pg_url: str, pg_store: Store, workspace: Path, feed_states: list[FeedState]
) -> None:
    feed = change_feed_for(pg_store, on_state=feed_states.append)
    assert isinstance(feed, PostgresChangeFeed)
    with feed:
        assert feed.state is FeedState.CONNECTED
        _expect_resync(feed)  # the first batch always says "load everything"
        with Store.open(pg_url) as worker_side:  # its own engine and connections
            run = worker_side.enqueue("write the report", workspace).run_id
            assert _next_ids(feed) == {run}
            claim = worker_side.claim_next("agent-7")
            assert claim is not None
            assert _next_ids(feed) == {run}
            worker_side.heartbeat(run, claim.claim_token)  # no status change: no notification
            worker_side.block(run, claim.claim_token, reason="needs a human")
            assert _next_ids(feed) == {run}  # the block, and nothing from the heartbeat
        assert pg_store.get_run(run, check_disk=False).run.status is RunStatus.NEEDS_ATTENTION
    assert feed_states == [FeedState.CONNECTED, FeedState.CLOSED]


def test_one_transaction_touching_many_runs_arrives_as_one_batch(
    pg_store: Store, workspace: Path
) -> None:
    runs = [pg_store.enqueue(f"task {i}", workspace).run_id for i in range(20)]
    claims = [pg_store.claim_next("agent", lease_s=1) for _ in runs]
    with change_feed_for(pg_store) as feed:
        _expect_resync(feed)
        later = pg_store.clock() + 5_000
        recovered = pg_store.recover_expired(now=later)  # one sweep, one transaction
        assert len(recovered.requeued) == len(claims)
        assert _next_ids(feed) == set(runs)


def test_reconnects_after_the_server_ends_the_listening_session(
    pg_admin: str, pg_store: Store, workspace: Path, feed_states: list[FeedState]
) -> None:
    with change_feed_for(pg_store, on_state=feed_states.append) as feed:
        _expect_resync(feed)
        first_pid = feed.backend_pid
        assert first_pid is not None
        assert terminate_backend(pg_admin, first_pid)  # what a server restart does to it
        _expect_resync(feed)  # back, and says that it may have missed something
        assert feed.state is FeedState.CONNECTED
        assert feed.backend_pid not in (None, first_pid)
        run = pg_store.enqueue("after the restart", workspace).run_id
        assert _next_ids(feed) == {run}  # and keeps delivering
    assert feed_states == [
        FeedState.CONNECTED,
        FeedState.RECONNECTING,
        FeedState.CONNECTED,
        FeedState.CLOSED,
    ]


def test_a_vanished_server_means_reconnecting_not_a_frozen_consumer(
    pg_url: str, pg_store: Store, workspace: Path, feed_states: list[FeedState]
) -> None:
    parsed = sa.engine.make_url(pg_url)
    relay = Relay(parsed.host or "127.0.0.1", parsed.port or 5432)
    try:
        via_relay = parsed.set(host="127.0.0.1", port=relay.port)
        feed = PostgresChangeFeed(
            via_relay.render_as_string(False), on_state=feed_states.append, backoff_cap_s=0.2
        )
        with feed:
            _expect_resync(feed)
            relay.cut()  # the server is gone: connections drop, new ones are refused
            started = time.monotonic()
            assert feed.wait(1.0) is None  # returns on its deadline: nothing to deliver
            assert time.monotonic() - started < 1.0 + 5 * POLL_SLICE_S
            assert feed.state is FeedState.RECONNECTING
            assert feed.last_error and "PostgreSQL server" in feed.last_error
            # Changes made while it is away are not lost to the consumer: it resyncs.
            missed = pg_store.enqueue("while the feed was away", workspace).run_id
            relay.restore()
            _expect_resync(feed)
            assert feed.state is FeedState.CONNECTED
            assert feed.last_error is None
            run = pg_store.enqueue("after the outage", workspace).run_id
            assert _next_ids(feed) == {run}
            assert missed != run
    finally:
        relay.close()
    assert feed_states[:3] == [FeedState.CONNECTED, FeedState.RECONNECTING, FeedState.CONNECTED]


def test_close_from_another_thread_ends_a_blocked_wait(pg_store: Store) -> None:
    feed = change_feed_for(pg_store).start()
    _expect_resync(feed)
    outcome: list[Changes | None] = []
    waiter = threading.Thread(target=lambda: outcome.append(feed.wait()))
    waiter.start()
    started = time.monotonic()
    feed.close()
    waiter.join(timeout=DELIVERY_S)
    assert not waiter.is_alive()
    assert outcome == [None]
    assert time.monotonic() - started < 1.0 + 5 * POLL_SLICE_S
    assert feed.state is FeedState.CLOSED
    assert list(feed) == []  # a closed feed yields nothing


def test_async_iteration(pg_store: Store, workspace: Path) -> None:
    async def follow() -> list[Changes]:
        seen: list[Changes] = []
        feed = change_feed_for(pg_store).start()
        try:
            async for changes in feed:
                seen.append(changes)
                if changes.resync:
                    await asyncio.to_thread(pg_store.enqueue, "async", workspace)
                else:
                    break
        finally:
            feed.close()
        return seen

    seen = asyncio.run(asyncio.wait_for(follow(), DELIVERY_S))
    assert [c.resync for c in seen] == [True, False]
    assert len(seen[1].run_ids) == 1


def test_the_listener_and_the_store_name_themselves_to_the_server(
    pg_admin: str, pg_store: Store
) -> None:
    with change_feed_for(pg_store) as feed:
        engine = sa.create_engine(pg_admin)
        try:
            with engine.connect() as conn:
                name = conn.execute(
                    sa.text("SELECT application_name FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": feed.backend_pid},
                ).scalar()
        finally:
            engine.dispose()
        assert name == "parkbench-listen"
    with pg_store.engine.connect() as conn:
        assert conn.execute(sa.text("SHOW application_name")).scalar() == "parkbench"


def _payloads_until_sentinel(listener, engine: sa.Engine, sentinel: str = "end") -> list[str]:
    """Every notification on the channel before ``sentinel``, which this sends in a later
    transaction (notifications arrive in commit order)."""
    with engine.connect() as conn:
        conn.execute(sa.text(f"NOTIFY {CHANNEL}, '{sentinel}'"))
        conn.commit()
    payloads: list[str] = []
    for notify in listener.notifies(timeout=DELIVERY_S):
        if notify.payload == sentinel:
            return payloads
        payloads.append(notify.payload)
    raise AssertionError(f"no sentinel within {DELIVERY_S} s; got {len(payloads)} payloads")


def _listen(pg_url: str):
    import psycopg

    listener = psycopg.connect(libpq_conninfo(pg_url), autocommit=True)
    listener.execute(f"LISTEN {CHANNEL}")
    return listener


def test_one_statement_notifies_its_runs_500_to_a_payload(
    pg_url: str, pg_store: Store, workspace: Path
) -> None:
    listener = _listen(pg_url)
    try:
        # One enqueue_many of 1,200 tasks: one statement, 1,200 enqueue events.
        done = pg_store.enqueue_many([NewTask(f"task {i}", workspace) for i in range(1200)])
        payloads = _payloads_until_sentinel(listener, pg_store.engine)
    finally:
        listener.close()
    ids = [int(part) for payload in payloads for part in payload.split(",")]
    assert sorted(ids) == sorted(e.run_id for e in done)  # every run, each once
    assert len(payloads) == 3  # 500 + 500 + 200, not 1,200 notifications


def test_payloads_of_ten_digit_ids_stay_under_the_limit(pg_url: str, pg_store: Store) -> None:
    """The largest run ids (2**31 - 1 is ten digits) still fit: pg_notify refuses a payload
    of 8,000 bytes or more, which would roll back the write that sent it."""
    top = 2**31 - 1
    listener = _listen(pg_url)
    try:
        with pg_store.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO events (run_id, task_id, actor_kind, actor, action, to_status,"
                    " created_at) SELECT g, 1, 'human', 'x', 'note', 'queued', 0"
                    " FROM generate_series(:low, :top) AS g"
                ),
                {"low": top - 1199, "top": top},
            )
            # Heartbeats change no status: never notified, in a statement of their own or not.
            conn.execute(
                sa.text(
                    "INSERT INTO events (run_id, task_id, actor_kind, actor, action, to_status,"
                    " created_at) VALUES (7, 1, 'worker', 'w', 'heartbeat', 'claimed', 0)"
                )
            )
        payloads = _payloads_until_sentinel(listener, pg_store.engine)
    finally:
        listener.close()
    assert all(len(p.encode()) < 8000 for p in payloads)
    ids = sorted(int(part) for payload in payloads for part in payload.split(","))
    assert ids == list(range(top - 1199, top + 1))
    assert len(payloads) == 3
