"""The review app's screens rendered without a terminal: SVG and plain text, reproducible.

:func:`render_screens` runs the real :class:`~parkbench.tui.app.ParkbenchApp` headless
(``App.run_test``), waits until the main screen has loaded everything it asked for
(``MainScreen.busy``), then shows each requested screen the way a reviewer would reach it
and exports it. ``parkbench snapshot`` (:mod:`parkbench.tui.cli.snapshot`) and the tests use it.

Byte-identical output for the same database, clock and size:

- the app gets a fixed ``now``, no live change feed and an empty keymap (a reviewer's own
  keymap file must not change a CI artifact); headless, it has no animation and no
  blinking cursor;
- the export is Textual's own (the compositor's full render, as ``export_screenshot``
  does) with segments simplified and a fixed SVG id prefix per screen (Rich otherwise
  derives it from a hash of the content);
- screens are visited in one fixed order and each is closed again, so a screen's files do
  not depend on which other screens were asked for.

It has to be quick (``parkbench snapshot`` with 100,000 parked runs: 2 s for everything),
so nothing is done that no file shows, and nothing waits longer than it must:

- headless, Textual still renders every frame of the main screen and throws it away, and
  rebuilds the footer's keys at each bindings change; :class:`_Frames` renders the screen
  only when it is exported and rebuilds the footer once, just before, from the bindings as
  they are then (the same files: the snapshot tests compare them);
- :func:`_settle` waits for the app by condition (messages handled, workers done, the main
  screen not busy), never by ``Pilot.pause()``'s 20 ms sleeps until the process looks idle.

Untrusted text: the app already shows it escaped (:mod:`parkbench.tui.textsafe`); as a last line of
defence every exported segment is passed through the same escaping, so no control, bidi or
XML-illegal character reaches a file, and Rich's SVG export escapes ``<``, ``&`` and quotes.

Regenerate the README screenshots (demo data, fixed seed and clock) with::

    python -m parkbench.tui.snapshot.screenshots
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parkbench.core.errors import ParkbenchError
from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.store import Store
from parkbench.tui.app import ParkbenchApp
from parkbench.tui.messages import CoreFailed, DetailLoaded
from parkbench.tui.screens.main import MainScreen
from parkbench.tui.snapshot.options import SCREEN_DESCRIPTIONS, SCREENS, View
from parkbench.tui.textsafe import UNSAFE_CHARS, escape_char
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment
from textual import events
from textual.dom import DOMNode
from textual.message import Message
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerCancelled, WorkerState

#: Seconds to wait for the screens to load before giving up.
SETTLE_TIMEOUT_S = 60.0
#: Actions tried, in order, for the action modal.
MODAL_ACTIONS = (Action.REQUEUE, Action.FAIL, Action.RELEASE)

__all__ = [
    "SCREENS", "SCREEN_DESCRIPTIONS", "Capture", "View", "capture_screens", "export",
    "render_screens", "write_captures",
]

# What never reaches a file: the terminal-unsafe set, plus what XML 1.0 forbids.
_UNSAFE = re.compile(f"[{UNSAFE_CHARS}\ufffe\uffff]")


class SnapshotError(ParkbenchError):
    """The screens could not be rendered (they did not finish loading)."""

    code = "internal"
    default_hint = "run again with PARKBENCH_DEBUG=1 and report it"


@dataclass(frozen=True, slots=True)
class Capture:
    """One screen: its SVG and plain text, or why it could not be shown."""

    name: str
    svg: str = ""
    text: str = ""
    skipped: str | None = None


@dataclass
class _Watch:
    """Failures seen while the app ran (store errors, crashed workers), and how many
    messages were posted (callbacks aside: the pilot's own waits are callbacks)."""

    errors: list[BaseException] = field(default_factory=list)
    posted: int = 0

    def __call__(self, message: Message) -> None:
        if not isinstance(message, events.Callback):
            self.posted += 1
        if isinstance(message, CoreFailed | DetailLoaded) and message.error is not None:
            self.errors.append(message.error)
        elif isinstance(message, Worker.StateChanged) and message.state is WorkerState.ERROR:
            error = message.worker.error
            if error is not None:
                self.errors.append(error)


def render_screens(store: Store, view: View) -> list[Capture]:
    """Render ``view.screens`` of the app on ``store`` (blocking; runs its own event loop)."""
    return asyncio.run(capture_screens(store, view))


async def capture_screens(store: Store, view: View) -> list[Capture]:
    wanted = [name for name in SCREENS if name in view.screens]
    # The files are colour documents: NO_COLOR governs terminals, and Textual's monochrome
    # filter (which it installs when NO_COLOR is set at construction) breaks the export.
    no_color = os.environ.pop("NO_COLOR", None)
    try:
        app = ParkbenchApp(
            store, now=lambda: view.now_ms, live=False, keymap={}, actor="parkbench-snapshot"
        )
    finally:
        if no_color is not None:
            os.environ["NO_COLOR"] = no_color
    watch = _Watch()
    captures: list[Capture] = []
    frames = _Frames(app.main)
    async with app.run_test(size=view.size, message_hook=watch) as pilot:
        session = _Session(pilot, app, app.main, watch, frames)
        main = app.main
        await session.settle()
        if view.status is not RunStatus.NEEDS_ATTENTION or view.search.strip():
            if view.status is not RunStatus.NEEDS_ATTENTION:
                main.show_status(view.status)
            if view.search.strip():
                main.action_filter()
                main.filter_bar.value = view.search  # as typed: the list follows it
                main.runs.focus()  # as after Enter: the filter stays shown, the list focused
            await session.settle()
        for name in wanted:
            # Each screen is closed again for the next one; the last one need not be.
            restore = name != wanted[-1]
            captures.append(await _SHOW[name](session, restore))
    return captures


class _Frames:
    """Skips the main screen's frames and footer rebuilds that no file shows.

    Textual renders each frame of the top screen even headless, where the frame is thrown
    away; :func:`export` renders the screen itself. And the footer rebuilds its keys (new
    widgets, styled anew) at every bindings change; here it hears of them only from
    :meth:`ready`, once, just before a screen is exported (its own handler, as the screen's
    ``bindings_updated_signal`` would call it).
    """

    def __init__(self, main: MainScreen) -> None:
        self.main = main
        self.footer: Footer | None = None
        self.stale = False
        if not (hasattr(main, "_compositor_refresh") and hasattr(main, "_dirty_widgets")):
            return  # Textual's internals moved: render every frame, as Textual would (slower)
        render = main._compositor_refresh

        def compositor_refresh() -> None:
            if main.app.screen is main and not main.app.is_inline:
                main._dirty_widgets.clear()  # nothing to show: the export renders it all
            else:
                render()  # under a modal: the modal's frame needs it

        main._compositor_refresh = compositor_refresh  # type: ignore[method-assign]
        signal = main.bindings_updated_signal
        subscribe = signal.subscribe

        def subscribe_footer(
            node: DOMNode, callback: Callable[[Screen[Any]], object], immediate: bool = False
        ) -> None:
            if isinstance(node, Footer):  # the footer subscribes when it is mounted
                self.footer, self.stale, callback = node, True, self._bindings_changed
            subscribe(node, callback, immediate)

        signal.subscribe = subscribe_footer  # type: ignore[method-assign]

    def _bindings_changed(self, _screen: Screen[Any]) -> None:
        self.stale = True

    def ready(self) -> bool:
        """Tell the footer the bindings changed, if they did; True if it was told."""
        footer = self.footer
        if footer is None or not self.stale:
            return False
        self.stale = False
        footer.call_next(footer.bindings_changed, self.main)
        return True


@dataclass
class _Session:
    """The running app, and how to wait for it and export it."""

    pilot: Pilot[Any]
    app: ParkbenchApp
    main: MainScreen
    watch: _Watch
    frames: _Frames

    async def settle(self) -> None:
        await _settle(self.pilot, self.watch)

    async def export(self, name: str) -> Capture:
        """Settle, bring the footer up to date, and export the screen as it is then."""
        await self.settle()
        if self.frames.ready():
            await self.settle()  # the footer's rebuild: new keys mounted, messages posted
        return export(self.app, name)


async def _show_list(session: _Session, restore: bool) -> Capture:
    return await session.export("list")


async def _show_action(session: _Session, restore: bool) -> Capture:
    main = session.main
    for action in MODAL_ACTIONS:
        if main.targets(action)[0]:
            break
    else:
        return Capture("action", skipped="no run in this view can be requeued, failed or released")
    main.start_action(action)
    capture = await session.export("action")
    session.app.screen.dismiss(None)  # Escape: cancelled, nothing is done
    if restore:
        await session.settle()
    return capture


async def _show_help(session: _Session, restore: bool) -> Capture:
    app = session.app
    app.action_help()
    capture = await session.export("help")
    app.screen.dismiss(None)
    if restore:
        await session.settle()
    return capture


async def _show_detail(session: _Session, restore: bool) -> Capture:
    # The detail pane as the only widget on screen (Textual's maximized view): what a
    # reviewer reads after moving focus to the pane, with nothing cut off by the list.
    main = session.main
    detail = main.detail
    detail.focus()
    main.maximized = detail
    capture = await session.export("detail")
    if restore:
        main.minimize()
        main.runs.focus()
        await session.settle()
    return capture


_SHOW: dict[str, Callable[[_Session, bool], Any]] = {
    "list": _show_list,
    "action": _show_action,
    "help": _show_help,
    "detail": _show_detail,
}


async def _settle(pilot: Pilot[Any], watch: _Watch, timeout: float = SETTLE_TIMEOUT_S) -> None:
    """Wait until every worker (but the change feed) is done and nothing is scheduled."""
    app = pilot.app
    assert isinstance(app, ParkbenchApp)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    quiet = 0
    while quiet < 2:
        if loop.time() > deadline:
            raise SnapshotError(f"the review screens did not finish loading in {timeout:g} s")
        posted = watch.posted
        # Every message queued so far handled, then any pending layout and refresh. (Not
        # pause(): that also sleeps until the process looks idle, 20 ms at least a call.)
        await pilot.pause(0)
        running = [w for w in app.workers if w.group != "changes" and w.is_running]
        if running:
            quiet = 0
            with contextlib.suppress(WorkerCancelled):  # a newer one replaced it: next round
                await asyncio.wait_for(app.workers.wait_for_complete(running), timeout)
        elif app.main.busy:
            quiet = 0
            await pilot.pause(0.01)  # a short debounce timer (the detail pane) is pending
        elif watch.posted != posted:
            quiet = 0  # what was handled posted more: go round again
        else:
            quiet += 1
        if watch.errors:  # the screens would only show the failure: report it instead
            raise watch.errors[0]  # a ParkbenchError keeps its code; anything else is a bug


# -- export ---------------------------------------------------------------------------


class _Literal:
    """Renders ``renderable`` with every unsafe character in its text made visible."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for segment in console.render(self.renderable, options):
            text = segment.text
            if segment.control or text == "\n" or not _UNSAFE.search(text):
                yield segment
            else:
                yield Segment(_UNSAFE.sub(lambda m: escape_char(m.group()), text), segment.style)


def export(app: ParkbenchApp, name: str) -> Capture:
    """The app's current screen (with the screens under a modal) as SVG and plain text."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
        markup=False,
        emoji=False,
        highlight=False,
    )
    # What App.export_screenshot renders, with simplified segments (fewer, canonical SVG
    # text runs) and a fixed id prefix instead of a hash of the content.
    update = app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens, simplify=True
    )
    console.print(_Literal(update))
    text = console.export_text(clear=False, styles=False)
    svg = console.export_svg(title=f"Parkbench · {name}", unique_id=f"parkbench-{name}")
    # Columns are aligned with runs of no-break spaces; renderers other than browsers
    # (rsvg, image viewers) collapse them unless told to keep whitespace as it is.
    svg = svg.replace("<svg ", '<svg xml:space="preserve" ', 1)
    lines = text.split("\n")[:height]
    return Capture(name, svg=svg, text="".join(line.rstrip() + "\n" for line in lines))


def write_captures(captures: list[Capture], out: Path) -> dict[str, dict[str, str]]:
    """Write ``<name>.svg`` and ``<name>.txt`` per screen; return what went where."""
    written: dict[str, dict[str, str]] = {}
    for capture in captures:
        if capture.skipped:
            written[capture.name] = {"skipped": capture.skipped}
            continue
        for suffix, body in (("svg", capture.svg), ("txt", capture.text)):
            (out / f"{capture.name}.{suffix}").write_text(body, encoding="utf-8", newline="\n")
        written[capture.name] = {"svg": f"{capture.name}.svg", "txt": f"{capture.name}.txt"}
    return written
