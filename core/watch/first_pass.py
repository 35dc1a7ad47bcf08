"""The receipt watcher's first pass: load the parked set and check every receipt once.

Mixed into :class:`parkbench.core.watch.watcher.ReceiptWatcher`. The roots of the parked set
are watched before the pass begins (:meth:`ReceiptWatcher.start`), so a file that appears
after its check is reported by a watch and checked again. The pass reads the parked runs in
keyset pages (one query each: :func:`parkbench.core.store.parked_reads.watched_runs`), checks
each page's receipts as it arrives and publishes what they show, so a UI can show counts,
and the runs ready so far, long before the last page is in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from parkbench.core.watch.index import PathKey, ReceiptIndex
from parkbench.core.watch.parked import ParkedFeed
from parkbench.core.watch.records import WatchRecord
from parkbench.core.watch.requeue import AutoRequeue
from parkbench.core.watch.roots import RawChanges, Watch


class FirstPass(AutoRequeue):
    pace: Callable[[int], Awaitable[None]] | None
    announce_initial: bool
    _index: ReceiptIndex
    _feed: ParkedFeed
    _fs_inbox: list[tuple[Watch, RawChanges]]
    _first_pass_done: asyncio.Event
    _loading_roots: frozenset[str]  # watched for runs still loading
    _expected: int  # parked runs at the start
    _read: int  # ... read so far

    # Provided by ReceiptWatcher.
    _queue: Callable[[list[PathKey]], None]
    _map_changes: Callable[[Watch, RawChanges], None]
    _sync_roots: Callable[..., Awaitable[None]]
    _flush: Callable[..., Awaitable[None]]
    _publish: Callable[..., None]

    @property
    def first_pass_done(self) -> bool:
        """Every parked run loaded at the start has its receipts checked."""
        return self._first_pass_done.is_set()

    async def first_pass(self) -> None:
        """Wait until :attr:`first_pass_done`."""
        await self._first_pass_done.wait()

    @property
    def checking(self) -> tuple[int, int] | None:
        """While the first pass runs: ``(parked runs read, parked runs at the start)``."""
        if self._first_pass_done.is_set():
            return None
        return self._read, max(self._expected, self._read)

    async def _first_pass(self) -> None:
        """Load the parked set page by page (one keyset-paged query), checking each page's
        receipts as it arrives and publishing what they show."""
        records: list[WatchRecord] = []
        page = 0
        while self._feed.loading:
            if self.pace is not None:
                await self.pace(page)
            page += 1
            runs, read = await asyncio.to_thread(self._feed.next_page)
            self._read += read
            for run in runs:
                self._queue(self._index.add(run))
            if not self._index.roots() <= self._loading_roots:  # parked since begin()
                self._loading_roots |= self._index.roots()
                await self._sync_roots(records)
            # Changes seen meanwhile: re-check the paths already checked that they touch.
            batches, self._fs_inbox = self._fs_inbox, []
            for watch, raw in batches:
                self._map_changes(watch, raw)
            await self._flush(records, announce=self.announce_initial)
            self._publish(records, always=True)
        self._loading_roots = frozenset()  # roots with nothing to watch are dropped now
        await self._sync_roots(records)
        await self._requeue_ready(records)
        self._first_pass_done.set()
        self._publish(records, always=True)  # (an empty batch says the pass is done)
