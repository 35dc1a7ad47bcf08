"""Wake the receipt watcher from the database's change feed (PostgreSQL LISTEN/NOTIFY).

Polling the store's change marker (every ``poll_interval_s``) is what keeps the watcher
correct on both backends, and it keeps running. On PostgreSQL a notification also arrives
within milliseconds of each commit, so a run parked, requeued or failed elsewhere is picked
up at once rather than on the next poll. On SQLite :mod:`parkbench.core.db.notify`'s feed
would poll the very marker the watcher already polls, so no listener is started there.

The feed blocks, so it runs on a daemon thread of its own and hands batches to the watcher's
thread-safe :meth:`~parkbench.core.watch.watcher.ReceiptWatcher.runs_changed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

from parkbench.core.db.engine import is_sqlite
from parkbench.core.db.notify import ChangeFeed, FeedState, change_feed_for
from parkbench.core.store import Store

log = logging.getLogger(__name__)

#: Receives the ids of runs that changed, or ``None`` after a gap (reconcile everything).
RunsChanged = Callable[[frozenset[int] | None], None]
_JOIN_S = 10.0


class FeedListener:
    """One change feed on a background thread, forwarding every batch to ``on_runs``."""

    def __init__(self, feed: ChangeFeed, on_runs: RunsChanged) -> None:
        self.feed = feed
        self.on_runs = on_runs
        self._thread = threading.Thread(
            target=self._pump, name="receipt-watcher-listen", daemon=True
        )

    def start(self) -> FeedListener:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening and join the thread (blocking: up to the feed's poll slice, or a
        connect timeout; at most ``_JOIN_S``). The thread closes the LISTEN connection itself
        as its wait returns."""
        self.feed.close()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(_JOIN_S)
            if self._thread.is_alive():
                log.warning("receipt watcher: the change feed did not stop in %s s", _JOIN_S)

    def _pump(self) -> None:
        first = True
        try:
            for changes in self.feed:
                if changes.resync:
                    # The first batch only says "listening now": the watcher's own load and
                    # marker already cover that moment. Later ones follow a lost connection,
                    # whose notifications are gone: reconcile the whole parked set.
                    if not first:
                        self._forward(None)
                elif changes.run_ids:
                    self._forward(changes.run_ids)
                first = False
        except Exception:  # never take the watcher down: polling still covers everything
            log.exception("receipt watcher: the change feed failed; polling only")

    def _forward(self, run_ids: frozenset[int] | None) -> None:
        with contextlib.suppress(RuntimeError):  # the watcher's loop closed meanwhile
            self.on_runs(run_ids)


async def joined(closing: asyncio.Future[None]) -> None:
    """Await a :meth:`FeedListener.close` running in an executor, even if cancelled
    meanwhile (bounded by its join timeout): a cancel is passed on once the thread ended."""
    try:
        await asyncio.shield(closing)
    except asyncio.CancelledError:
        await asyncio.shield(closing)
        raise


def _log_state(state: FeedState) -> None:
    log.debug("receipt watcher: change feed %s", state.value)


def listener_for(store: Store, on_runs: RunsChanged) -> FeedListener | None:
    """A started listener on PostgreSQL; ``None`` on SQLite (polling is the feed there)."""
    if is_sqlite(store.engine):
        return None
    return FeedListener(change_feed_for(store, on_state=_log_state), on_runs).start()
