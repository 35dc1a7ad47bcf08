"""Change sources: how the app learns that another process changed the store.

This is the seam for live updates. The app runs :meth:`ChangeSource.wait` in a thread
worker, in a loop, and refreshes what it shows each time it returns a new marker. Anything
that can block until "something changed" fits:

* :class:`PollingChangeSource` (the default, and what SQLite uses) reads
  ``Store.change_marker()`` (the newest audit event id; every transition writes one) every
  ``interval`` seconds. One indexed ``MAX(id)`` per poll: cheap enough for 2 Hz.
* A PostgreSQL source can ``LISTEN`` on a channel the store ``NOTIFY``s and return as soon
  as a notification arrives. Plug it in by returning it from :func:`change_source_for`
  (or pass ``change_source=`` to :class:`tui.app.ParkbenchApp`).

Contract: ``wait`` blocks the calling (worker) thread, returns the new marker when it moved
past ``after``, and returns ``None`` promptly once ``stop`` is set. ``close`` releases any
connection. No Textual here: sources are plain objects, testable without an app.
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

from core.errors import ParkbenchError
from core.store import Store

#: Seconds between polls: a change shows within this plus one refresh (target: < 1 s).
POLL_INTERVAL_S = 0.5


@runtime_checkable
class ChangeSource(Protocol):
    def current(self) -> int:
        """The marker now (taken once at start, so the first wait has a baseline)."""
        ...

    def wait(self, after: int, stop: threading.Event) -> int | None:
        """Block until the marker moves past ``after`` (return it) or ``stop`` is set."""
        ...

    def close(self) -> None: ...


class PollingChangeSource:
    """Polls ``store.change_marker()``; works on every backend."""

    def __init__(self, store: Store, interval: float = POLL_INTERVAL_S) -> None:
        self.store = store
        self.interval = interval

    def current(self) -> int:
        return self.store.change_marker()

    def wait(self, after: int, stop: threading.Event) -> int | None:
        while not stop.wait(self.interval):
            try:
                marker = self.store.change_marker()
            except ParkbenchError:
                continue  # a locked or briefly unreachable database: try again next tick
            if marker != after:
                return marker
        return None

    def close(self) -> None:
        """Nothing to release: the store owns its connections."""


def change_source_for(store: Store) -> ChangeSource:
    """The best change source for ``store``'s backend (polling until LISTEN/NOTIFY lands)."""
    return PollingChangeSource(store)
