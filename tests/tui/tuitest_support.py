"""Helpers shared by the TUI tests: parked runs made through the real store, the app with a
fixed clock, and ways to await it (workers, conditions) instead of sleeping.

Not a test module (no ``test_`` prefix); imported by name like tests/core/coretest_support.
Only Textual's public API is used (App.run_test, Pilot.press/pause, App.is_running,
App.return_code, App.export_screenshot, MessagePump.call_later/wait_for_refresh): the
private attributes the helpers once read (``app._exit``, ``app._driver``,
``screen._compositor``, ``app._background_screens``) timed out on Python 3.12 and 3.13.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from textual.app import App
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot

from parkbench.core.store import Store
from parkbench.tui.app import ParkbenchApp
from parkbench.tui.screens.main_workers import BACKGROUND_GROUPS

SIZE = (120, 40)
#: The fake clock's start (tests/conftest.py T0_MS, 2026-09-01T00:00:00Z) ...
T0_MS = 1_788_220_800_000
#: ... and the app's fixed "now", one hour later.
NOW_MS = T0_MS + 3_600_000


def park(
    store: Store,
    workspace: Path,
    title: str,
    reason: str,
    *,
    worker: str = "agent-1",
    required: Sequence[str] = (),
    priority: int = 0,
    clock: Any = None,
) -> int:
    """Enqueue, claim and block one run (the real worker path); returns its id."""
    metadata = {"completion_contract": {"required_paths": list(required)}} if required else None
    enqueued = store.enqueue(title, workspace, priority=priority, metadata=metadata, actor="ci")
    claim = store.claim_next(worker)
    assert claim is not None and claim.run_id == enqueued.run_id
    store.block(claim.run_id, claim.claim_token, reason=reason)
    if clock is not None:
        clock.advance(60)
    return enqueued.run_id


def make_app(store: Store, **options: Any) -> ParkbenchApp:
    options.setdefault("now", lambda: NOW_MS)
    options.setdefault("actor", "alice")
    options.setdefault("live", False)
    options.setdefault("keymap", {})
    return ParkbenchApp(store, **options)


async def refreshed(app: App[Any]) -> None:
    """Wait for the screen's next refresh (not at all once the app is closing: exit()
    sets the return code)."""
    if app.is_running and app.return_code is None:
        await asyncio.wait_for(app.screen.wait_for_refresh(), 10)


async def drain(app: App[Any]) -> None:
    """Wait until every message already queued for the app and its screen is handled."""
    if not app.is_running:
        return
    nodes = [app, *app.screen.walk_children(with_self=True)]
    pending = asyncio.get_running_loop().create_future()
    left = 0

    def done() -> None:
        nonlocal left
        left -= 1
        if left == 0 and not pending.done():
            pending.set_result(None)

    for node in nodes:
        if node.call_later(done):
            left += 1
    if left:
        await asyncio.wait_for(pending, 10)


async def settle(pilot: Pilot, timeout: float = 10.0) -> None:
    """Wait until the main screen has loaded everything it asked for and repainted."""
    app = pilot.app
    assert isinstance(app, ParkbenchApp)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    quiet = 0
    while quiet < 2:
        if loop.time() > deadline:
            raise AssertionError("the app did not settle in time")
        await drain(app)
        running = [w for w in app.workers if w.group not in BACKGROUND_GROUPS and w.is_running]
        if running:
            quiet = 0
            waits = [asyncio.ensure_future(worker.wait()) for worker in running]
            await asyncio.wait(waits, timeout=timeout)
            for waited in waits:  # a cancelled worker (superseded search) is fine here
                if waited.done() and not waited.cancelled():
                    waited.exception()
        elif app.main.busy:
            quiet = 0
            await asyncio.sleep(0.01)  # a short debounce timer (detail pane) is pending
        else:
            quiet += 1
    await refreshed(app)


async def wait_until(
    pilot: Pilot, condition: Callable[[], bool], timeout: float = 5.0, what: str = ""
) -> None:
    """Await ``condition`` while the app processes messages (bounded, not a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)


async def wait_for_exit(app: ParkbenchApp, timeout: float = 10.0) -> None:
    """Await the app's exit. Not through ``pilot.pause``: that waits for every widget of
    the screen to process a message, and a screen being torn down never does (it timed
    out now and then, 1 run in 4)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while app.is_running:
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app to quit")
        await asyncio.sleep(0.02)


#: One <text> element of Rich's SVG export: its x, its line (clip path) and its text.
_SVG_TEXT = re.compile(
    r'<text [^>]*?x="([0-9.]+)"[^>]*?clip-path="url\(#[^)]*-line-(\d+)\)">([^<]*)</text>'
)
_SVG_LINE_WIDTH = re.compile(r'<clipPath id="[^"]*-line-0">\s*<rect [^>]*?width="([0-9.]+)"')


def screen_text(app: App[Any]) -> str:
    """The screen as plain text: what App.export_screenshot draws, minus the styling.

    Rich's SVG puts each run of text at ``x = column * char_width`` on a clip path named
    after its line (blank runs are left out), so the text is put back in its cells.
    """
    svg = app.export_screenshot()
    width, height = app.size
    found = _SVG_LINE_WIDTH.search(svg)
    assert found, "export_screenshot's SVG has no line clip paths"
    char_width = float(found.group(1)) / width
    lines: list[str] = [""] * height
    for x, line, chunk in _SVG_TEXT.findall(svg):
        column, row = round(float(x) / char_width), int(line)
        text = html.unescape(chunk).replace("\u00a0", " ").rstrip("\n")
        lines[row] += " " * max(0, column - cell_len(lines[row])) + text
    return "".join(line + " " * max(0, width - cell_len(line)) + "\n" for line in lines)


@asynccontextmanager
async def running(
    app: ParkbenchApp, size: tuple[int, int] = SIZE
) -> AsyncIterator[tuple[Pilot, list[Notification]]]:
    """``app.run_test`` that also records every notification the app raised, settled."""
    notices: list[Notification] = []

    def hook(message: Message) -> None:
        if isinstance(message, Notify):
            notices.append(message.notification)

    async with app.run_test(size=size, message_hook=hook) as pilot:
        await settle(pilot)
        yield pilot, notices


async def press(pilot: Pilot, *keys: str) -> None:
    """Press ``keys`` with Pilot.press, as a terminal delivers them, then wait until they
    are handled, a screen they pushed is mounted and painted, and what they scheduled
    after that paint has run."""
    app = pilot.app
    for key in keys:
        await pilot.press(key)
        await drain(app)
        await drain(app)  # a screen pushed by the key is mounted by now
        await refreshed(app)  # ... and laid out and painted
        await drain(app)  # what the key scheduled after that refresh has run


async def type_text(pilot: Pilot, text: str) -> None:
    """Type ``text`` key by key (Pilot.press maps " " to space, "/" to slash, ...)."""
    app = pilot.app
    await pilot.press(*text)
    await drain(app)
    await refreshed(app)
