"""Change feeds: which runs changed, pushed by PostgreSQL or polled from SQLite.

One interface for both backends, so the TUI's live refresh and the receipt watcher never
ask which database is underneath::

    feed = change_feed_for(store, on_state=show_state)  # show_state(FeedState) -> None
    for changes in feed:     # blocks; also feed.wait(timeout) and `async for ... in feed`
        if changes.resync:   # first batch, and after any gap: (re)load what you show
            rows = load_everything()
        else:
            refresh(changes.run_ids)
    feed.close()             # from any thread: a blocked wait returns within POLL_SLICE_S

The first batch is always ``resync=True``, delivered as soon as the feed is listening, so a
change made between a consumer's initial load and the feed's start is never missed.

On PostgreSQL the feed LISTENs on :data:`CHANNEL`, fed by the trigger on ``events``
(migration 0005: one notification per statement, naming the changed runs, up to 500 ids
comma-separated, sent when its transaction commits).
When the connection drops (server restart, ``pg_terminate_backend``, network) the state
goes ``reconnecting``, attempts back off from 0.1 s to 5 s, and the first batch after the
connection is back has ``resync=True`` too: notifications sent in the gap are lost, so the
consumer reloads. On SQLite the feed polls the cheap ``max(events.id)`` marker and reads the
run ids of the new events.

The feed is meant for one consumer thread. ``on_state`` is called from that thread (the one
in ``wait``), so a Textual app wraps it in ``call_from_thread``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self

import sqlalchemy as sa

from parkbench.core.db.engine import PG_KEEPALIVES, is_sqlite, require_psycopg, translate
from parkbench.core.errors import ParkbenchError
from parkbench.core.models import events

if TYPE_CHECKING:
    from parkbench.core.store import Store

#: The channel the trigger on ``events`` notifies (migrations 0003 and 0005); payload: run
#: ids, comma-separated.
CHANNEL = "parkbench_runs"
#: A blocked wait wakes at least this often to notice close() and its deadline.
POLL_SLICE_S = 0.2
DEFAULT_POLL_INTERVAL_S = 0.5
#: More distinct runs than this in one batch: say "resync" instead of listing them.
MAX_BATCH_IDS = 10_000


class FeedState(StrEnum):
    STARTING = "starting"  # created, start() not called yet
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"  # the database is unreachable; retrying with backoff
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Changes:
    """One batch: the runs that changed, or ``resync`` when changes may have been missed."""

    run_ids: frozenset[int] = frozenset()
    resync: bool = False


StateListener = Callable[[FeedState], None]


class Backoff:
    """Exponential delays with jitter: 0.1 s, 0.2 s, 0.4 s ... capped."""

    def __init__(self, first_s: float = 0.1, cap_s: float = 5.0) -> None:
        self.first_s = first_s
        self.cap_s = cap_s
        self._attempt = 0

    def next_delay(self) -> float:
        delay = min(self.cap_s, self.first_s * 2**self._attempt)
        self._attempt += 1
        return delay * random.uniform(0.8, 1.0)  # many TUIs must not reconnect in lockstep

    def reset(self) -> None:
        self._attempt = 0


class ChangeFeed(ABC):
    """Blocking and async iteration over :class:`Changes`, plus a connection state."""

    def __init__(self, *, on_state: StateListener | None = None, backoff_cap_s: float = 5.0):
        self._on_state = on_state
        self._state = FeedState.STARTING
        self._closed = threading.Event()
        # Held by the consuming thread while it waits; close() takes it to release the
        # connection, so a connection is never closed under a thread that is reading it.
        self._busy = threading.RLock()
        self._backoff = Backoff(cap_s=backoff_cap_s)
        self._next_attempt = 0.0
        self._started = False
        self._resync_due = False
        #: Why the feed is reconnecting (one line), or None.
        self.last_error: str | None = None

    @property
    def state(self) -> FeedState:
        return self._state

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _set_state(self, state: FeedState) -> None:
        if state is self._state or (self._state is FeedState.CLOSED):
            return
        self._state = state
        if self._on_state is not None:
            self._on_state(state)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Connect (never raises: a failure means ``reconnecting``). Idempotent."""
        with self._busy:
            if not self._started and not self.closed:
                self._started = True
                if self._establish():
                    self._resync_due = True
                    self._set_state(FeedState.CONNECTED)
                else:
                    self._reconnect_later()
        return self

    def close(self) -> None:
        """Stop the feed; safe from any thread. A blocked ``wait`` returns None within
        :data:`POLL_SLICE_S`. close() never blocks longer than twice that: a consumer busy
        in a connection attempt releases the connection itself when it returns."""
        self._closed.set()
        self._set_state(FeedState.CLOSED)
        if self._busy.acquire(timeout=2 * POLL_SLICE_S):
            try:
                self._release()
            finally:
                self._busy.release()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- consuming ------------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> Changes | None:
        """The next batch, or None when ``timeout`` passes first or the feed is closed."""
        with self._busy:
            try:
                return self._wait(timeout)
            finally:
                if self.closed:
                    self._release()

    def _wait(self, timeout: float | None) -> Changes | None:
        self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.closed:
            if self._resync_due and self._state is FeedState.CONNECTED:
                self._resync_due = False
                return Changes(resync=True)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            slice_s = POLL_SLICE_S if remaining is None else min(remaining, POLL_SLICE_S)
            if self._state is FeedState.RECONNECTING:
                pause = self._next_attempt - time.monotonic()
                if pause > 0:
                    self._closed.wait(min(pause, slice_s))
                    continue
                if not self._establish():
                    self._reconnect_later()
                    continue
                self._backoff.reset()
                self.last_error = None
                self._set_state(FeedState.CONNECTED)
                return Changes(resync=True)
            try:
                changes = self._receive(slice_s)
            except _Lost as lost:
                self.last_error = str(lost)
                self._release()
                self._next_attempt = time.monotonic()  # first retry at once, then back off
                self._set_state(FeedState.RECONNECTING)
                continue
            if changes is not None:
                return changes
        return None

    def __iter__(self) -> Iterator[Changes]:
        while (changes := self.wait()) is not None:
            yield changes

    async def wait_async(self, timeout: float | None = None) -> Changes | None:
        """:meth:`wait` in a worker thread, for asyncio consumers."""
        return await asyncio.to_thread(self.wait, timeout)

    async def __aiter__(self) -> AsyncIterator[Changes]:
        while (changes := await self.wait_async()) is not None:
            yield changes

    # -- backend hooks --------------------------------------------------------------------

    def _reconnect_later(self) -> None:
        self._next_attempt = time.monotonic() + self._backoff.next_delay()
        self._set_state(FeedState.RECONNECTING)

    @abstractmethod
    def _establish(self) -> bool:
        """(Re)connect and take a baseline; False (with ``last_error`` set) on failure."""

    @abstractmethod
    def _receive(self, timeout: float) -> Changes | None:
        """Changes seen within ``timeout`` seconds; raise :class:`_Lost` when disconnected."""

    @abstractmethod
    def _release(self) -> None:
        """Drop the connection, if any."""


class _Lost(Exception):
    """The feed's connection is gone; the message says why."""


def _parse_ids(payload: str, into: set[int]) -> None:
    for part in payload.split(","):
        if part.strip().isdigit():  # anything else on the channel is not ours: ignore it
            into.add(int(part))


class PostgresChangeFeed(ChangeFeed):
    """LISTEN on :data:`CHANNEL` over a dedicated autocommit psycopg connection."""

    def __init__(
        self,
        url: str,
        *,
        channel: str = CHANNEL,
        on_state: StateListener | None = None,
        backoff_cap_s: float = 5.0,
        coalesce_s: float = 0.02,
        health_check_s: float = 30.0,
        connect_timeout_s: int = 5,
    ) -> None:
        super().__init__(on_state=on_state, backoff_cap_s=backoff_cap_s)
        self._url = url
        self._conninfo = libpq_conninfo(url)
        self.channel = channel
        self.coalesce_s = coalesce_s
        self.health_check_s = health_check_s
        self.connect_timeout_s = connect_timeout_s
        self._conn: Any = None  # psycopg.Connection, imported lazily
        self._quiet_since = time.monotonic()
        #: The server process id of the listening connection (None while disconnected).
        self.backend_pid: int | None = None

    def _establish(self) -> bool:
        import psycopg
        from psycopg import sql

        try:
            conn = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=self.connect_timeout_s,
                application_name="parkbench-listen",
                **PG_KEEPALIVES,
            )
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except psycopg.Error as error:
            self.last_error = translate(error, self._url).message
            return False
        self._conn = conn
        self.backend_pid = conn.info.backend_pid
        self._quiet_since = time.monotonic()
        return True

    def _receive(self, timeout: float) -> Changes | None:
        import psycopg

        conn = self._conn
        ids: set[int] = set()
        try:
            for notify in conn.notifies(timeout=timeout, stop_after=1):
                _parse_ids(notify.payload, ids)
            if ids:
                # A burst (a sweep, a bulk review) arrives as one batch, not hundreds.
                until = time.monotonic() + 5 * self.coalesce_s
                for notify in conn.notifies(timeout=self.coalesce_s):
                    _parse_ids(notify.payload, ids)
                    if len(ids) > MAX_BATCH_IDS or time.monotonic() > until:
                        break
            elif time.monotonic() - self._quiet_since > self.health_check_s:
                # Nothing heard for a while: make sure the connection is still alive.
                conn.execute("SELECT 1")
                self._quiet_since = time.monotonic()
        except psycopg.Error as error:
            raise _Lost(translate(error, self._url).message) from None
        if not ids:
            return None
        self._quiet_since = time.monotonic()
        if len(ids) > MAX_BATCH_IDS:
            return Changes(resync=True)
        return Changes(frozenset(ids))

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        self.backend_pid = None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to release
                conn.close()


class PollingChangeFeed(ChangeFeed):
    """Polls :meth:`Store.change_marker` (``max(events.id)``); works on any backend."""

    def __init__(
        self,
        store: Store,
        *,
        interval_s: float = DEFAULT_POLL_INTERVAL_S,
        on_state: StateListener | None = None,
        backoff_cap_s: float = 5.0,
    ) -> None:
        super().__init__(on_state=on_state, backoff_cap_s=backoff_cap_s)
        self.store = store
        self.interval_s = interval_s
        self._marker = 0
        self._next_poll = 0.0

    def _establish(self) -> bool:
        try:
            self._marker = self.store.change_marker()
        except ParkbenchError as error:
            self.last_error = error.message
            return False
        self._next_poll = time.monotonic() + self.interval_s
        return True

    def _receive(self, timeout: float) -> Changes | None:
        pause = self._next_poll - time.monotonic()
        if pause > 0:
            self._closed.wait(min(pause, timeout))
            return None
        self._next_poll = time.monotonic() + self.interval_s
        try:
            marker = self.store.change_marker()
            if marker == self._marker:
                return None
            if marker < self._marker:  # the database was replaced or restored
                self._marker = marker
                return Changes(resync=True)
            ids = self.store.read(lambda conn: _run_ids_between(conn, self._marker, marker))
        except ParkbenchError as error:
            raise _Lost(error.message) from None
        self._marker = marker
        if len(ids) > MAX_BATCH_IDS:
            return Changes(resync=True)
        return Changes(frozenset(ids))

    def _release(self) -> None:
        pass  # the store's pool owns the connections


def _run_ids_between(conn: sa.Connection, after: int, upto: int) -> set[int]:
    query = (
        sa.select(events.c.run_id)
        .where(events.c.id > after, events.c.id <= upto)
        .distinct()
        .limit(MAX_BATCH_IDS + 1)
    )
    return set(conn.execute(query).scalars())


def libpq_conninfo(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as a libpq conninfo string, query options included.

    (Re-rendering the URL would not do: its query is form-encoded, which libpq misreads.)
    """
    require_psycopg()  # the missing-extra error, before psycopg.conninfo's ImportError
    from psycopg.conninfo import make_conninfo

    parsed = sa.engine.make_url(url)
    parts: dict[str, Any] = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        "dbname": parsed.database,
    }
    parts.update(parsed.query)
    return make_conninfo("", **{k: v for k, v in parts.items() if v is not None})


def change_feed_for(
    store: Store,
    *,
    on_state: StateListener | None = None,
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
) -> ChangeFeed:
    """LISTEN/NOTIFY on PostgreSQL, the polled change marker on SQLite; same interface."""
    if is_sqlite(store.engine):
        return PollingChangeFeed(store, interval_s=poll_interval_s, on_state=on_state)
    url = store.engine.url.render_as_string(hide_password=False)
    return PostgresChangeFeed(url, on_state=on_state)
