"""Live updates: changes made through another connection appear without a key press."""

from __future__ import annotations

from tuitest_support import make_app, park, press, running, screen_text, settle, wait_until

from parkbench.core.db.notify import PollingChangeFeed, change_feed_for
from parkbench.core.store import Store


async def test_another_process_blocking_a_run_shows_up(store, db_url, workspace, clock, parked):
    # A second Store is a second engine and connection pool: another process, as far as
    # the database can tell. The app's feed is the real one for the backend (LISTEN/NOTIFY
    # on PostgreSQL, the polled marker on SQLite, here polled fast to keep the test short).
    app = make_app(store, live=True, change_feed=_fast_feed(store))
    async with running(app) as (pilot, _notices):
        runs = app.main.runs
        await press(pilot, "down", "space", "up")  # cursor and a mark on the second run
        await settle(pilot)
        assert runs.highlighted.id == parked[1]
        with Store.open(db_url, clock=clock) as other:
            new_id = park(other, workspace, "Arrived later", "blocked elsewhere", clock=clock)
            await wait_until(
                pilot, lambda: runs.window.total == 4, what="the new parked run to be listed"
            )
            await settle(pilot)
            assert "Arrived later" in screen_text(app)
            assert "parked 4" in screen_text(app)
            # cursor and marks survived the refresh
            assert runs.highlighted.id == parked[1]
            assert set(runs.marks) == {parked[1]}

            # another reviewer requeues the highlighted run: it leaves the list, the cursor
            # stays in place (now on the next run) and the detail pane follows
            other.requeue([parked[1]], reason="someone else did it", actor="bob")
            await wait_until(
                pilot,
                lambda: parked[1] not in {r.id for r in runs.window.rows},
                what="the requeued run to leave the list",
            )
            await settle(pilot)
            assert runs.highlighted.id == parked[2]
            assert app.main.detail.detail.run.id == parked[2]
            assert new_id in {r.id for r in runs.window.rows}


async def test_default_feed_follows_the_backend(store):
    feed = change_feed_for(store)
    try:
        kind = "sqlite" if store.engine.dialect.name == "sqlite" else "postgresql"
        assert isinstance(feed, PollingChangeFeed) == (kind == "sqlite")
    finally:
        feed.close()


async def test_live_app_starts_and_quits_cleanly(store, parked):
    app = make_app(store, live=True)
    async with running(app) as (pilot, _notices):
        await wait_until(pilot, lambda: app.change_feed is not None, what="the feed")
        await press(pilot, "q")
    assert app.return_value == 0
    assert app.change_feed.closed


def _fast_feed(store: Store):
    if store.engine.dialect.name == "sqlite":
        return PollingChangeFeed(store, interval_s=0.05)
    return change_feed_for(store)


class _BrokenFeed(PollingChangeFeed):
    def wait(self, timeout=None):  # type: ignore[no-untyped-def, override]
        raise RuntimeError("feed broke")


async def test_a_broken_feed_is_reported(store, parked):
    app = make_app(store, live=True, change_feed=_BrokenFeed(store))
    async with running(app) as (pilot, notices):
        await wait_until(
            pilot,
            lambda: any("live updates stopped" in n.message for n in notices),
            what="the feed failure notice",
        )
        assert "live updates stopped" in screen_text(app)
        assert app.is_running
