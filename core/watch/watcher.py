"""ReceiptWatcher: live receipt states for every parked run, from file-system events.

Shape: one engine task owns all state and runs in steps. Watch tasks (``watchfiles.awatch``,
see :mod:`parkbench.core.watch.roots`) hand it raw event batches; a ticker makes it poll the
store for parked-set moves (:mod:`parkbench.core.watch.parked`) and probe the workspace
roots; everything that blocks (``check_path``, database reads, the auto-requeue) runs in
worker threads, so the event loop it shares with a TUI never stalls. Each step maps changed
paths to the required paths they may affect (:mod:`parkbench.core.watch.index`), re-checks
only those, and publishes the records that result as one batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from parkbench.core.contracts import ArtifactCheck
from parkbench.core.errors import ParkbenchError
from parkbench.core.store import Store
from parkbench.core.watch import disk
from parkbench.core.watch.first_pass import FirstPass
from parkbench.core.watch.index import ParkedRun, PathKey, ReceiptIndex
from parkbench.core.watch.listen import FeedListener, joined, listener_for
from parkbench.core.watch.parked import ParkedFeed
from parkbench.core.watch.records import (
    ReadinessChange,
    RunDropped,
    RunWatched,
    WatchRecord,
    WorkspaceState,
)
from parkbench.core.watch.roots import MAX_WATCHES, RawChanges, RootWatches, Watch

log = logging.getLogger(__name__)

AUTO_ACTOR = "receipt-watcher"
#: Paths checked per worker-thread call; records are published after each chunk.
CHECK_CHUNK = 1000

_Batch = tuple[WatchRecord, ...]


class ReceiptWatcher(FirstPass):
    """Watch the receipts of every parked run; use as ``async with ReceiptWatcher(store) as w``.

    Consume :meth:`changes` (one record at a time) or :meth:`batches` (one tuple per processed
    step, for UIs); query the snapshot (:meth:`receipts`, :meth:`ready_run_ids`, ...) from the
    event loop's thread at any time.
    """

    def __init__(
        self,
        store: Store,
        *,
        auto_requeue: bool = False,
        actor: str = AUTO_ACTOR,
        debounce_ms: int = 50,
        step_ms: int = 20,
        poll_interval_s: float = 0.5,
        probe_interval_s: float = 2.0,
        reconcile_interval_s: float = 30.0,
        roots_per_watch: int = 25,
        max_watches: int = MAX_WATCHES,
        page_size: int = 1000,
        announce_initial: bool = False,
        listen: bool = True,
        first_pass_in_background: bool = False,
        pace: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.auto_requeue = auto_requeue
        self.actor = actor
        self.debounce_ms = debounce_ms
        # Each watch wakes every step with the GIL: 20 ms instead of 10 halves its idle cost
        # for ~20 ms more latency (median ~31 ms at 1,000 roots; the target is 100 ms).
        self.step_ms = step_ms
        self.poll_interval_s = poll_interval_s
        self.probe_interval_s = probe_interval_s
        self.reconcile_interval_s = reconcile_interval_s
        self.roots_per_watch = roots_per_watch
        self.announce_initial = announce_initial
        # On PostgreSQL, also wake on LISTEN/NOTIFY (parkbench.core.watch.listen); polling stays on.
        self.listen = listen
        # Off: start() returns once every receipt is checked. On: once the roots are
        # watched; the first pass then runs in the engine, publishing as it goes (a UI
        # shows counts as they arrive; see first_pass_done, checking).
        self.first_pass_in_background = first_pass_in_background
        #: Awaited with the page number before each page of the first pass is read (a
        #: test drives the pass with it); None: no pause.
        self.pace = pace
        self._first_pass_done = asyncio.Event()
        self._loading_roots: frozenset[str] = frozenset()  # watched for runs still loading
        self._expected = self._read = 0  # parked runs at the start; read so far
        self._listener: FeedListener | None = None
        self._index = ReceiptIndex()
        # Shared by the checks of the first pass, then of one step (see disk.DiskView).
        self._disk = disk.DiskView()
        self._feed = ParkedFeed(store, page_size=page_size)
        self._roots = RootWatches(
            self._deliver,
            debounce_ms=debounce_ms,
            step_ms=step_ms,
            roots_per_watch=roots_per_watch,
            max_watches=max_watches,
        )
        self._roots.on_wake = self._kick
        self._fs_inbox: list[tuple[Watch, RawChanges]] = []
        self._pending: dict[PathKey, None] = {}  # paths to re-check, in arrival order
        self._candidates: set[int] = set()  # ready runs to consider for auto-requeue
        self._attempted: set[tuple[int, int]] = set()  # (run, version) auto-requeued once
        self._nudged = False
        self._dirty: set[int] = set()  # runs reported changed from outside
        self._reconcile_soon = False
        self._out: asyncio.Queue[_Batch | BaseException | None] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._engine: asyncio.Task[None] | None = None
        self._stopped = False
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> ReceiptWatcher:
        try:
            await self.start()
        except BaseException:
            await self.stop()  # release any watch already started
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Watch the parked set's roots, then load it and check every receipt (the first
        pass: here, or in the engine with ``first_pass_in_background``); then follow changes."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self.listen:  # connects on its own thread, while the parked set loads
            self._listener = listener_for(self.store, self.runs_changed)
        roots = await asyncio.to_thread(self._feed.begin)
        self._expected, self._loading_roots = sum(roots.values()), frozenset(roots)
        # Every root is watched before its first receipt is checked: a file that appears
        # after its check is then reported by a watch, and checked again.
        records: list[WatchRecord] = []
        await self._sync_roots(records, sweep=True, probe_unhealthy=True)
        self._publish(records)
        if not self.first_pass_in_background:
            await self._first_pass()
        self._engine = asyncio.create_task(self._run(), name="receipt-watcher")

    async def stop(self) -> None:
        """Stop following changes; returns once the listener thread (if any) has ended."""
        if self._stopped:
            return
        self._stopped = True
        # Close the listener before anything here can be cancelled (an exiting TUI cancels
        # its workers, then its loop cancels them again): its thread ends regardless.
        closing: asyncio.Future[None] | None = None
        if self._listener is not None:
            closing = asyncio.get_running_loop().run_in_executor(None, self._listener.close)
        try:
            if self._engine is not None:
                self._kick()  # (the engine also ends on _stopped at its next wake)
                self._engine.cancel()
                await asyncio.gather(self._engine, return_exceptions=True)
            await self._roots.close()
        finally:
            if closing is not None:
                await joined(closing)
            self._out.put_nowait(None)
        self._closed = True  # reached only when nothing above was cut short

    @property
    def closed(self) -> bool:
        """:meth:`stop` ran to its end: every file watch retired, the listener thread ended."""
        return self._closed

    # -- the consumer's side -----------------------------------------------------------

    async def batches(self) -> AsyncIterator[_Batch]:
        """Records grouped as processed (one UI update per group); ends when stopped."""
        while True:
            item = await self._out.get()
            if item is None or isinstance(item, BaseException):
                self._out.put_nowait(item)  # let any other iterator end too
                if item is None:
                    return
                raise item
            yield item

    async def changes(self) -> AsyncIterator[WatchRecord]:
        async for batch in self.batches():
            for record in batch:
                yield record

    def nudge(self) -> None:
        """The parked set may have changed (e.g. a PostgreSQL NOTIFY): refresh it now.
        Safe to call from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._set_nudged)

    def runs_changed(self, run_ids: Iterable[int] | None = None) -> None:
        """These runs changed (e.g. a batch from :mod:`parkbench.core.db.notify`'s change
        feed): fetch them now. ``None`` means changes may have been missed: reconcile the
        whole parked set. Safe to call from any thread."""
        if self._loop is not None:
            ids = None if run_ids is None else frozenset(run_ids)
            self._loop.call_soon_threadsafe(self._mark_dirty, ids)

    def resync(self) -> None:
        """Re-check every watched path from disk (thread-safe)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._resync_now)

    # -- snapshot (call from the event loop's thread) --------------------------------

    def run_ids(self) -> frozenset[int]:
        return self._index.run_ids()

    def checked_run_ids(self) -> frozenset[int]:
        """The watched runs whose receipts have all been checked once (the rest are loading)."""
        return self._index.settled_ids()

    def receipts(self, run_id: int) -> tuple[ArtifactCheck, ...] | None:
        """The last known state of each required path of ``run_id`` (``None``: not watched)."""
        return self._index.checks_for(run_id)

    def is_ready(self, run_id: int) -> bool:
        return self._index.is_ready(run_id)

    def ready_run_ids(self) -> frozenset[int]:
        """Parked runs whose receipts are now all present: ready to requeue."""
        return self._index.ready_run_ids()

    def workspaces(self) -> dict[str, WorkspaceState]:
        """The state of every workspace root that has parked runs."""
        return self._roots.states()

    # -- the engine ------------------------------------------------------------------

    def _set_nudged(self) -> None:
        self._nudged = True
        self._kick()

    def _mark_dirty(self, run_ids: frozenset[int] | None) -> None:
        if run_ids is None:
            self._reconcile_soon = True
        else:
            self._dirty |= run_ids
        self._kick()

    def _resync_now(self) -> None:
        self._disk = disk.DiskView()
        for root in self._index.roots():
            self._queue([(root, rel) for rel in self._index.paths_of(root)])
        self._kick()

    def _kick(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None and self._loop is not None
        loop = self._loop
        try:
            if not self._first_pass_done.is_set():
                await self._first_pass()
            next_tick = last_reconcile = last_probe = loop.time()
            # (Not "while True" with asyncio.wait_for: on Python 3.11 a wait_for whose wait
            # ends as the task is cancelled can swallow the cancel, and stop() would then
            # wait for this loop forever. asyncio.timeout does not; the flag backs it up.)
            while not self._stopped:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, next_tick - loop.time())):
                        await self._wake.wait()
                self._wake.clear()
                now = loop.time()
                tick = now >= next_tick
                if tick:
                    next_tick = now + self.poll_interval_s
                reconcile = tick and now - last_reconcile >= self.reconcile_interval_s
                if reconcile:
                    last_reconcile = now
                ancestors = tick and now - last_probe >= self.probe_interval_s
                if ancestors:
                    last_probe = now
                records: list[WatchRecord] = []
                try:
                    await self._step(records, tick=tick, ancestors=ancestors, reconcile=reconcile)
                except ParkbenchError as error:  # the database is away: retry next tick
                    if error.code != "database":
                        raise
                    log.warning("receipt watcher: %s", error)
                self._publish(records)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self._out.put_nowait(error)
            raise

    async def _step(
        self, records: list[WatchRecord], *, tick: bool, ancestors: bool, reconcile: bool
    ) -> None:
        self._disk = disk.DiskView()
        # File-system batches first: they are what the latency target is about.
        batches, self._fs_inbox = self._fs_inbox, []
        for watch, raw in batches:
            self._map_changes(watch, raw)
        if tick or self._nudged or self._dirty or self._reconcile_soon:
            reconcile = reconcile or self._reconcile_soon
            self._nudged = self._reconcile_soon = False
            await self._refresh_parked(records, reconcile=reconcile)
        # Every root is probed at the reconcile too: a backstop for a change that sends no
        # event and shows in no directory above the root (a mount over the root itself).
        await self._sync_roots(
            records, probe_ancestors=ancestors, sweep=reconcile, probe_unhealthy=tick
        )
        await self._flush(records, announce=True)
        await self._requeue_ready(records)

    def _deliver(self, watch: Watch, raw: RawChanges) -> None:
        self._fs_inbox.append((watch, raw))
        self._kick()

    def _map_changes(self, watch: Watch, raw: RawChanges) -> None:
        """Map changed file-system paths to the required paths they may affect."""
        for _, path in raw:
            for root, prefix in watch.prefixes:
                if path == root:
                    self._disk.forget(root)
                    self._roots.probe_soon(root)
                elif path.startswith(prefix):
                    self._disk.forget(root)
                    key = path[len(prefix) :]
                    self._queue([(root, rel) for rel in self._index.affected(root, key)])

    def _queue(self, keys: list[PathKey]) -> None:
        self._pending.update(dict.fromkeys(keys))

    async def _flush(self, records: list[WatchRecord], *, announce: bool) -> None:
        """Check every pending path in worker threads; record what changed."""
        while self._pending:
            chunk = list(itertools.islice(self._pending, CHECK_CHUNK))
            for key in chunk:
                del self._pending[key]
            for root, rel, check, alias in await asyncio.to_thread(self._disk.check_paths, chunk):
                self._index.set_alias(root, rel, alias)
                for record in self._index.apply(root, rel, check):
                    records.append(record)
                    if isinstance(record, ReadinessChange) and record.ready:
                        self._candidates.add(record.run_id)
            self._publish(records)
        for run_id in self._index.settle():
            ready = self._index.is_ready(run_id)
            if ready:
                self._candidates.add(run_id)
            if announce:
                run = self._index.get(run_id)
                receipts = self._index.checks_for(run_id)
                assert run is not None and receipts is not None
                records.append(RunWatched(run_id, run.workspace, receipts, ready))

    def _publish(self, records: list[WatchRecord], *, always: bool = False) -> None:
        if records or always:
            self._out.put_nowait(tuple(records))
            records.clear()

    # -- the parked set ----------------------------------------------------------------

    async def _refresh_parked(self, records: list[WatchRecord], *, reconcile: bool) -> None:
        watched = (
            {r: run.version for r in self._index.run_ids() if (run := self._index.get(r))}
            if reconcile
            else None
        )

        dirty, self._dirty = self._dirty, set()

        def work() -> dict[int, ParkedRun | None]:
            moved = [*dirty, *self._feed.moved_run_ids()]
            if watched is not None:
                moved += self._feed.stale(watched)
            return self._feed.fetch(moved) if moved else {}

        for run_id, run in (await asyncio.to_thread(work)).items():
            if run is not None:
                self._queue(self._index.add(run))
                self._candidates.add(run_id)  # re-parked at a new version: may be due again
            elif (gone := self._index.remove(run_id)) is not None:
                records.append(RunDropped(run_id, gone.workspace))
        self._candidates &= self._index.run_ids()
        self._attempted = {a for a in self._attempted if a[0] in self._index}

    # -- workspace roots ---------------------------------------------------------------

    async def _sync_roots(
        self,
        records: list[WatchRecord],
        *,
        probe_ancestors: bool = False,
        sweep: bool = False,
        probe_unhealthy: bool = False,
    ) -> None:
        """Fit the watches to the roots (the probes: see :meth:`RootWatches.sync`)."""
        wanted = self._index.roots() | self._loading_roots
        synced = await self._roots.sync(
            wanted, probe_ancestors=probe_ancestors, sweep=sweep, probe_unhealthy=probe_unhealthy
        )
        records.extend(synced.records)
        for root in synced.recheck | synced.handed_over:
            self._disk.forget(root)
            self._queue([(root, rel) for rel in self._index.paths_of(root)])
