"""The review app's screens rendered without a terminal: SVG and plain text, reproducible.

:func:`render_screens` runs the real :class:`~parkbench.tui.app.ParkbenchApp` headless
(``App.run_test``), waits until the main screen has loaded everything it asked for
(``MainScreen.busy``), then shows each requested screen the way a reviewer would reach it
and exports it. ``parkbench snapshot`` (:mod:`parkbench.tui.cli.snapshot`) and the tests use it.

Byte-identical output for the same database, clock and size:

- the app gets a fixed ``now``, no live change feed and an empty keymap (a reviewer's own
  keymap file must not change a CI artifact); headless, it has no animation and no
  blinking cursor;
- the export is Textual's public ``App.export_screenshot`` (segments simplified), with a
  fixed SVG id prefix per screen instead of Rich's hash of the content (so a change in one
  cell does not rename every class of the file); the plain text is read back from that SVG
  (:func:`svg_text_lines`: Textual has no public text export);
- screens are visited in one fixed order and each is closed again, so a screen's files do
  not depend on which other screens were asked for.

Nothing waits longer than it must: :func:`_settle` waits for the app by condition
(messages handled, workers done, the main screen not busy), never by ``Pilot.pause()``'s
20 ms sleeps until the process looks idle.

Untrusted text: the app already shows it escaped (:mod:`parkbench.tui.textsafe`); as a last
line of defence both files go through the same escaping, so no control, bidi or XML-illegal
character reaches a file, and Rich's SVG export escapes ``<``, ``&`` and quotes.

Regenerate the README screenshots (demo data, fixed seed and clock) with::

    python -m parkbench.tui.snapshot.screenshots
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.cells import cell_len, set_cell_size
from textual import events
from textual.message import Message
from textual.pilot import Pilot
from textual.worker import Worker, WorkerCancelled, WorkerState

from parkbench.core.errors import ParkbenchError
from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.store import Store
from parkbench.tui.app import ParkbenchApp
from parkbench.tui.messages import CoreFailed, DetailLoaded
from parkbench.tui.screens.main import MainScreen
from parkbench.tui.snapshot.options import SCREEN_DESCRIPTIONS, SCREENS, View
from parkbench.tui.textsafe import UNSAFE_CHARS, escape_char

#: Seconds to wait for the screens to load before giving up.
SETTLE_TIMEOUT_S = 60.0
#: Actions tried, in order, for the action modal.
MODAL_ACTIONS = (Action.REQUEUE, Action.FAIL, Action.RELEASE)

__all__ = [
    "SCREENS",
    "SCREEN_DESCRIPTIONS",
    "Capture",
    "View",
    "capture_screens",
    "export",
    "render_screens",
    "write_captures",
]

# What never reaches a file: the terminal-unsafe set, plus what XML 1.0 forbids (the files'
# own line feeds aside).
_UNSAFE = re.compile(f"(?!\n)[{UNSAFE_CHARS}\ufffe\uffff]")


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
    async with app.run_test(size=view.size, message_hook=watch) as pilot:
        session = _Session(pilot, app, app.main, watch)
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


@dataclass
class _Session:
    """The running app, and how to wait for it and export it."""

    pilot: Pilot[Any]
    app: ParkbenchApp
    main: MainScreen
    watch: _Watch

    async def settle(self) -> None:
        await _settle(self.pilot, self.watch)

    async def export(self, name: str) -> Capture:
        """Settle, and export the screen as it is then."""
        await self.settle()
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


async def _show_causes(session: _Session, restore: bool) -> Capture:
    session.main.action_causes()
    await session.settle()
    # The groups arrive from a worker; the table's highlight (and the detail line below it)
    # and the footer's bindings follow them a refresh or two later.
    await session.pilot.pause()
    capture = await session.export("causes")
    session.app.screen.dismiss(None)  # Escape: back to the list as it was
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
    "causes": _show_causes,
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


#: Rich's SVG geometry (``Console.export_svg``, default font): a cell is 20 * 0.61 px wide.
_CELL_WIDTH = 20 * 0.61


def export(app: ParkbenchApp, name: str) -> Capture:
    """The app's current screen (with the screens under a modal) as SVG and plain text."""
    prefix = f"parkbench-{name}"
    svg = _with_id_prefix(app.export_screenshot(title=f"Parkbench · {name}", simplify=True), prefix)
    width, height = app.size
    lines = svg_text_lines(svg, prefix, height)
    # An escape is longer than the character it shows: the line is cut at the screen's edge.
    text = "".join(set_cell_size(_visible(line), width).rstrip() + "\n" for line in lines)
    # Columns are aligned with runs of no-break spaces; renderers other than browsers
    # (rsvg, image viewers) collapse them unless told to keep whitespace as it is.
    svg = _visible(svg.replace("<svg ", '<svg xml:space="preserve" ', 1))
    return Capture(name, svg=svg, text=text)


def _visible(text: str) -> str:
    """``text`` with every unsafe character made a visible escape (line feeds kept)."""
    return _UNSAFE.sub(lambda m: escape_char(m.group()), text)


_RICH_ID = re.compile(r"(?<![\w-])terminal-\d+(?=-)")
_TAG = re.compile(r"<[^>]*>")


def _with_id_prefix(svg: str, prefix: str) -> str:
    """Rich's SVG with its id prefix (``terminal-`` and a hash of the content) replaced by
    ``prefix``, in the style sheet and in tags only: never in the text drawn."""
    found = _RICH_ID.search(svg)
    if found is None:
        raise SnapshotError("the screenshot has no Rich id prefix: Textual's export changed")
    rich_id = found.group()
    head, end, body = svg.partition("</style>")
    body = _TAG.sub(lambda tag: tag.group().replace(rich_id, prefix), body)
    return head.replace(rich_id, prefix) + end + body


def svg_text_lines(svg: str, prefix: str, height: int) -> list[str]:
    """The screen's ``height`` lines of text, read back from an SVG that Rich's
    ``Console.export_svg`` wrote with the id ``prefix``.

    Why: Textual's only public export of a screen is ``App.export_screenshot`` (SVG); the
    text it draws is the text the screen shows. Each run of text is a ``<text>`` element
    clipped to its line, at ``x`` = its first cell times the cell width; runs of spaces
    are left out (their gaps are filled again with spaces), and a line's line feed is a
    run past its last column. test_snapshot_headless checks
    this reading against the screen (columns, wide characters, entities), so a change in
    Rich's format fails a test instead of writing a wrong file.
    """
    pattern = re.compile(
        rf'<text class="{re.escape(prefix)}-r\d+" x="([0-9.e+]+)" y="[^"]*" '
        rf'textLength="[^"]*" clip-path="url\(#{re.escape(prefix)}-line-(\d+)\)">([^<]*)</text>'
    )
    runs: list[list[tuple[int, str]]] = [[] for _ in range(height)]
    for x, line, content in pattern.findall(svg):
        row = int(line)
        if row < height:
            # Rich writes a space as &#160; and escapes the rest as HTML does; each line's
            # end of line is a run of its own, past the last column.
            text = html.unescape(content.replace("&#160;", " ")).replace("\n", "")
            runs[row].append((round(float(x) / _CELL_WIDTH), text))
    lines = []
    for pieces in runs:
        parts, at = [], 0
        for column, text in sorted(pieces):
            parts.append(" " * max(0, column - at) + text)
            at = max(at, column) + cell_len(text)
        lines.append("".join(parts))
    return lines


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
