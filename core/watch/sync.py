"""A blocking facade over :class:`ReceiptWatcher` for scripts and the CLI.

``for record in iter_changes(store): print(json.dumps(record.to_dict()))`` — the watcher runs
on its own event loop in a background thread; the caller's thread only waits on a queue, so
Ctrl-C raises ``KeyboardInterrupt`` in the caller as usual, and leaving the loop (by
``break``, an exception or Ctrl-C) stops the watcher and joins its thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any

from parkbench.core.store import Store
from parkbench.core.watch.records import WatchRecord
from parkbench.core.watch.watcher import ReceiptWatcher

_END = object()
#: How long a blocked caller waits per round: bounds how late Ctrl-C is seen on platforms
#: where a blocking queue wait is not interruptible.
_WAIT_S = 0.25
_JOIN_S = 10.0


def iter_changes(store: Store, **options: Any) -> Iterator[WatchRecord]:
    """Yield the watcher's records as they come; ``options`` go to :class:`ReceiptWatcher`.

    Errors while starting (e.g. the database cannot be opened) are raised here.
    """
    handoff: queue.Queue[object] = queue.Queue()
    control: dict[str, Any] = {}
    ready = threading.Event()

    async def main() -> None:
        stop = asyncio.Event()
        control["loop"], control["stop"] = asyncio.get_running_loop(), stop
        ready.set()
        try:
            async with ReceiptWatcher(store, **options) as watcher:

                async def pump() -> None:
                    async for record in watcher.changes():
                        handoff.put(record)

                pumping = asyncio.create_task(pump())
                done, _ = await asyncio.wait(
                    {pumping, asyncio.create_task(stop.wait())},
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if pumping in done:
                    pumping.result()  # the watcher failed: raise it
                pumping.cancel()
        except BaseException as error:
            handoff.put(error)
        finally:
            handoff.put(_END)

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="receipt-watcher")
    thread.start()
    try:
        while True:
            try:
                item = handoff.get(timeout=_WAIT_S)
            except queue.Empty:
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            # The queue carries records, errors and _END; the last two are handled above.
            yield item  # type: ignore[misc]
    finally:
        ready.wait(_JOIN_S)
        loop, stop = control.get("loop"), control.get("stop")
        if loop is not None and stop is not None and not loop.is_closed():
            # RuntimeError: the loop closed meanwhile, so it is stopping anyway.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        thread.join(_JOIN_S)
