"""Live receipts: watch the workspaces of parked runs and re-check receipts as files change.

Async (TUI, services)::

    async with ReceiptWatcher(store, auto_requeue=False) as watcher:
        async for record in watcher.changes():   # or watcher.batches() for UI updates
            ...
        watcher.ready_run_ids(), watcher.receipts(run_id), watcher.workspaces()

Blocking (CLI, scripts)::

    for record in iter_changes(store):
        print(json.dumps(record.to_dict()))
"""

from parkbench.core.watch.index import ParkedRun
from parkbench.core.watch.records import (
    AutoRequeued,
    ReadinessChange,
    ReceiptChange,
    RunDropped,
    RunWatched,
    WatchRecord,
    WorkspaceChange,
    WorkspaceState,
)
from parkbench.core.watch.sync import iter_changes
from parkbench.core.watch.watcher import AUTO_ACTOR, ReceiptWatcher

__all__ = [
    "AUTO_ACTOR",
    "AutoRequeued",
    "ParkedRun",
    "ReadinessChange",
    "ReceiptChange",
    "ReceiptWatcher",
    "RunDropped",
    "RunWatched",
    "WatchRecord",
    "WorkspaceChange",
    "WorkspaceState",
    "iter_changes",
]
