"""Fixtures for the TUI tests (helpers live in tuitest_support)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tuitest_support import park

from parkbench.core.store import Store


@pytest.fixture
def parked(store: Store, workspace: Path, clock) -> list[int]:  # type: ignore[no-untyped-def]
    """Three parked runs, in blocked-time order: one with 1 of 2 receipts present, one
    without a contract (priority 5), one with its only receipt present."""
    (workspace / "out").mkdir()
    (workspace / "out" / "a.txt").write_text("ok")
    return [
        park(
            store,
            workspace,
            "Summarise the logs",
            "need an API key\nsee ticket 12",
            worker="agent-1",
            required=["out/a.txt", "out/b.txt"],
            clock=clock,
        ),
        park(
            store,
            workspace,
            "Rebuild the index",
            "disk full",
            worker="agent-2",
            priority=5,
            clock=clock,
        ),
        park(
            store,
            workspace,
            "Translate docs",
            "which locale?",
            worker="agent-3",
            required=["out/a.txt"],
            clock=clock,
        ),
    ]
