"""The blocking facade the CLI uses: iterate, stop by leaving the loop or by Ctrl-C."""

from __future__ import annotations

import signal
import threading

import pytest
from watchtest_support import park_missing, write

from parkbench.core.contracts import ArtifactState
from parkbench.core.watch import ReceiptChange, RunWatched, iter_changes


def watcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "receipt-watcher"]


def test_iterate_then_break(store, workspace):
    run = park_missing(store, workspace, ["ok.txt"])
    seen = []
    for record in iter_changes(store, announce_initial=True, poll_interval_s=0.05):
        seen.append(record.to_dict())
        if isinstance(record, RunWatched):
            write(workspace / "ok.txt")
        if isinstance(record, ReceiptChange) and record.new_state is ArtifactState.PRESENT:
            break
    assert seen[0]["kind"] == "watched" and seen[0]["run_id"] == run
    assert seen[-1] == {
        "kind": "receipt",
        "run_id": run,
        "workspace": str(workspace.resolve()),
        "path": "ok.txt",
        "old_state": "missing",
        "new_state": "present",
        "detail": None,
    }
    assert watcher_threads() == []


def test_ctrl_c_stops_the_watcher_cleanly(store, workspace):
    park_missing(store, workspace, ["ok.txt"])
    with pytest.raises(KeyboardInterrupt):  # the CLI catches it and exits 0
        for _ in iter_changes(store, announce_initial=True):
            signal.raise_signal(signal.SIGINT)
    assert watcher_threads() == []
