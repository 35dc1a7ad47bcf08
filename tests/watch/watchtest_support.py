"""Helpers for the receipt-watcher tests: park runs, watch them, await records."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store
from parkbench.core.watch import ReceiptWatcher, WatchRecord

#: Generous: an event normally arrives in tens of milliseconds; CI machines are slow.
TIMEOUT_S = 10.0
#: Tests poll the store every 50 ms instead of 500 ms so parked-set changes land quickly.
FAST = {"poll_interval_s": 0.05}


def contract(paths: Sequence[str], policy: str = "park") -> dict[str, object]:
    return {"completion_contract": {"required_paths": list(paths), "missing_policy": policy}}


def park_missing(
    store: Store, workspace: Path | str, paths: Sequence[str], title: str = "t"
) -> int:
    """Enqueue, claim and complete with receipts missing: parked by ``park_missing``."""
    store.enqueue(title, workspace, metadata=contract(paths))
    claim = store.claim_next("agent")
    assert claim is not None
    completion = store.complete(claim.run_id, claim.claim_token)
    assert completion.status is RunStatus.NEEDS_ATTENTION, completion
    return claim.run_id


def park_blocked(
    store: Store, workspace: Path | str, paths: Sequence[str], title: str = "t"
) -> int:
    """Enqueue and claim, then block by hand: parked by ``block``."""
    store.enqueue(title, workspace, metadata=contract(paths, policy="reject"))
    claim = store.claim_next("agent")
    assert claim is not None
    store.block(claim.run_id, claim.claim_token, reason="need a human")
    return claim.run_id


def write(path: Path, text: str = "ok") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class Recorder:
    """Collects every record a watcher yields; tests await the ones they expect."""

    def __init__(self, watcher: ReceiptWatcher) -> None:
        self.watcher = watcher
        self.records: list[WatchRecord] = []
        self._arrived = asyncio.Event()
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        async for record in self.watcher.changes():
            self.records.append(record)
            self._arrived.set()

    def mark(self) -> int:
        return len(self.records)

    async def wait_for(
        self, match: Callable[[WatchRecord], bool], *, since: int = 0, timeout: float = TIMEOUT_S
    ) -> WatchRecord:
        """The first record from ``since`` on that matches; fails after ``timeout``."""
        seen = since

        async def scan() -> WatchRecord:
            nonlocal seen
            while True:
                for record in self.records[seen:]:
                    seen += 1
                    if match(record):
                        return record
                self._arrived.clear()
                await self._arrived.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            pytest.fail(f"no matching record in {timeout} s; got {self.records[since:]!r}")

    def of(self, kind: type, **fields: Any) -> Callable[[WatchRecord], bool]:
        def match(record: WatchRecord) -> bool:
            return isinstance(record, kind) and all(
                getattr(record, k) == v for k, v in fields.items()
            )

        return match

    async def expect(self, kind: type, *, since: int = 0, **fields: Any) -> Any:
        return await self.wait_for(self.of(kind, **fields), since=since)

    def matching(self, kind: type, **fields: Any) -> list[WatchRecord]:
        return [r for r in self.records if self.of(kind, **fields)(r)]


@asynccontextmanager
async def watching(store: Store, **options: Any) -> AsyncIterator[Recorder]:
    async with ReceiptWatcher(store, **{**FAST, **options}) as watcher:
        recorder = Recorder(watcher)
        yield recorder
    await asyncio.wait_for(recorder._task, TIMEOUT_S)  # the stream ends when stopped


def as_root(path: Path) -> str:
    return os.path.realpath(path)
