"""A bulk command's progress on stderr, and Ctrl-C as "stop after this batch".

:class:`Progress` redraws one line (counts and rate) after each batch, only when stderr is a
terminal (a pipe or a log gets nothing). :func:`stop_on_interrupt` turns the first Ctrl-C into
a request the loop checks between batches — the batch being written finishes (it is one
transaction), what is done stays done and is reported; a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TextIO


class Progress:
    """``verb: 4,500 of 10,000 (4,400 ok, 100 skipped) 1,830 runs/s`` redrawn in place."""

    def __init__(self, verb: str, total: int, *, stream: TextIO | None = None) -> None:
        self.verb, self.total = verb, total
        self.stream = stream or sys.stderr
        self.shown = total > 0 and self.stream.isatty()
        self._started = time.monotonic()
        self._drawn = False

    def update(self, ok: int, failed: int, *, stopping: bool = False) -> None:
        if not self.shown:
            return
        reached = ok + failed
        rate = reached / max(time.monotonic() - self._started, 1e-6)
        line = (
            f"{self.verb}: {reached:,} of {self.total:,} ({ok:,} ok, {failed:,} skipped) "
            f"{rate:,.0f} runs/s"
        )
        if stopping:
            line += " — stopping after this batch (Ctrl-C again: now)"
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._drawn = False


@contextmanager
def stop_on_interrupt(on_first: object = None) -> Iterator[threading.Event]:
    """While inside, the first SIGINT sets the event it yields (and calls ``on_first()``,
    if given); the second raises :class:`KeyboardInterrupt` as usual. Outside the main
    thread nothing changes (signals go to the main thread only)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def interrupted(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        if callable(on_first):
            on_first()

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
