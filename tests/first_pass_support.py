"""A pace for the receipt watcher's first pass: tests let it read one page at a time."""

from __future__ import annotations

import asyncio

TIMEOUT_S = 10.0


class Pages:
    """``ReceiptWatcher(pace=pages.pace)``: page ``n`` of the first pass is read only once
    ``open(n)`` was called; :meth:`reach` waits until the pass asks for page ``n``."""

    def __init__(self) -> None:
        self._gates: dict[int, asyncio.Event] = {}
        self._asked = asyncio.Event()
        self.at = -1  # the page the pass asked for last

    def _gate(self, page: int) -> asyncio.Event:
        return self._gates.setdefault(page, asyncio.Event())

    async def pace(self, page: int) -> None:
        self.at = page
        self._asked.set()
        await self._gate(page).wait()

    def open(self, *pages: int) -> None:
        for page in pages:
            self._gate(page).set()

    async def reach(self, page: int) -> None:
        """Wait until every page before ``page`` is checked and published."""

        async def asked() -> None:
            while self.at < page:
                self._asked.clear()
                await self._asked.wait()

        await asyncio.wait_for(asked(), TIMEOUT_S)
