"""``parkbench watch``: stream the receipt watcher's change records, for people or scripts.

With ``--json`` every line on stdout is one JSON object, flushed as it is written: first
``{"kind": "watching", ...}`` once every parked run's receipts have been checked (a script
can start relying on the stream from there), then one object per change, as
:mod:`parkbench.core.watch.records` defines them (``receipt``, ``ready``, ``workspace``,
``watched``, ``dropped``, ``auto_requeue``). Without it, one readable line per change;
paths, workspace roots and messages come from agents and are printed as literal, escaped
text.

Ctrl-C (SIGINT) and SIGTERM stop the watcher cleanly (exit status 0): the signals are handled
on the event loop, so a stop never cuts a line in half, and records already processed are
still written. The watcher runs on this process's event loop, not on a thread behind a
queue: a reader that stops reading pauses the watcher instead of growing a buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from parkbench.tui.cli import output
from parkbench.tui.cli.common import DbOption, JsonOption, cli
from parkbench.tui.textsafe import one_line

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from parkbench.core.store import Store
    from parkbench.core.watch import ReceiptWatcher, WatchRecord

#: Longest path, root or message shown on one human line (JSON keeps every character).
SHOWN_CHARS = 200
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_STATE_STYLES = {
    "present": "green",
    "missing": "yellow",
    "not_a_file": "red",
    "unsafe": "bold red",
}


def register(app: typer.Typer) -> None:
    app.command("watch", rich_help_panel="Read")(watch)


def watch(
    ctx: typer.Context,
    auto_requeue: Annotated[
        bool,
        typer.Option(
            "--auto-requeue",
            help="Requeue (as the system actor receipt-watcher, audited) each run parked for "
            "missing receipts once all of them are present.",
        ),
    ] = False,
    initial: Annotated[
        bool,
        typer.Option(
            "--initial", help="Start with one `watched` record per parked run (its receipts)."
        ),
    ] = False,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Stream receipt changes of parked runs as they happen on disk; Ctrl-C stops."""
    opts = cli(ctx, db, json_mode)
    printer: Printer = JsonPrinter() if opts.json else HumanPrinter()
    # (KeyboardInterrupt: a Ctrl-C before or after the loop handles the signals)
    with (
        contextlib.suppress(KeyboardInterrupt),
        opts.open_store() as store,
        _warnings_to(printer),
    ):
        asyncio.run(stream(store, printer, auto_requeue=auto_requeue, initial=initial))


async def stream(store: Store, printer: Printer, *, auto_requeue: bool, initial: bool) -> None:
    """Run a watcher until SIGINT/SIGTERM; print what it yields. Raises what it raises."""
    from parkbench.core.watch import ReceiptWatcher

    stop = asyncio.Event()
    restore = _handle_signals(asyncio.get_running_loop(), stop.set)
    watcher = ReceiptWatcher(store, auto_requeue=auto_requeue, announce_initial=initial)
    try:
        # Loading and checking a large parked set takes seconds: a signal may cut it short.
        if not await _first(watcher.start(), stop):
            return
        printer.started(watcher, auto_requeue=auto_requeue)
        pumping = asyncio.create_task(_pump(watcher, printer))
        await _first(asyncio.shield(pumping), stop)  # raises if the watcher fails
        await watcher.stop()  # ends the stream once what is already processed is written
        await pumping
    finally:
        await watcher.stop()
        restore()


async def _first(work: Any, stop: asyncio.Event) -> bool:
    """Await ``work`` unless ``stop`` is set first (then cancel it): did ``work`` finish?"""
    task = asyncio.ensure_future(work)
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return False


async def _pump(watcher: ReceiptWatcher, printer: Printer) -> None:
    async for batch in watcher.batches():
        for record in batch:
            printer.record(record)


def _handle_signals(
    loop: asyncio.AbstractEventLoop, stop: Callable[[], None]
) -> Callable[[], None]:
    """Route SIGINT and SIGTERM to ``stop`` on the loop; return what restores the old ones."""
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    try:
        for sig in _SIGNALS:
            loop.add_signal_handler(sig, stop)
    except NotImplementedError:  # Windows' loops: a plain handler that wakes the loop
        for sig in _SIGNALS:
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop))

    def restore() -> None:
        for sig, handler in previous.items():
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
            signal.signal(sig, handler)

    return restore


# -- output ----------------------------------------------------------------------------------


class Printer:
    """Writes the stream: a first ``watching`` line, then one line per record."""

    def started(self, watcher: ReceiptWatcher, *, auto_requeue: bool) -> None:
        raise NotImplementedError

    def record(self, record: WatchRecord) -> None:
        raise NotImplementedError

    def warning(self, message: str) -> None:
        raise NotImplementedError


def summary(watcher: ReceiptWatcher, *, auto_requeue: bool) -> dict[str, object]:
    return {
        "kind": "watching",
        "runs": len(watcher.run_ids()),
        "workspaces": len(watcher.workspaces()),
        "ready": len(watcher.ready_run_ids()),
        "auto_requeue": auto_requeue,
    }


class JsonPrinter(Printer):
    def started(self, watcher: ReceiptWatcher, *, auto_requeue: bool) -> None:
        output.emit_json(summary(watcher, auto_requeue=auto_requeue))

    def record(self, record: WatchRecord) -> None:
        output.emit_json(record.to_dict())

    def warning(self, message: str) -> None:
        import sys

        sys.stderr.write(output.dumps({"warning": {"message": message}}) + "\n")
        sys.stderr.flush()


class HumanPrinter(Printer):
    def __init__(self) -> None:
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            self._console = output.console()
        return self._console

    def started(self, watcher: ReceiptWatcher, *, auto_requeue: bool) -> None:
        from rich.text import Text

        facts = summary(watcher, auto_requeue=auto_requeue)
        line = Text(
            f"watching {facts['runs']:,} parked run(s) in {facts['workspaces']:,} "
            f"workspace(s); {facts['ready']:,} ready to requeue"
        )
        line.append("; auto-requeue on" if auto_requeue else "")
        line.append(". Ctrl-C stops.", style="dim")
        self._print(line)

    def record(self, record: WatchRecord) -> None:
        self._print(describe(record))

    def warning(self, message: str) -> None:
        output.note(f"warning: {one_line(message, 2000)}")

    def _print(self, line: Text) -> None:
        from rich.text import Text

        stamp = datetime.now(UTC).strftime("%H:%M:%SZ")
        # soft_wrap: one record, one line, however narrow the terminal (parts are bounded).
        self.console.print(Text.assemble((stamp, "dim"), "  ", line), soft_wrap=True)
        self.console.file.flush()


def describe(record: WatchRecord) -> Text:
    """One human line for a record; every agent-supplied string escaped and bounded."""
    from rich.text import Text

    from parkbench.core.watch import (
        AutoRequeued,
        ReadinessChange,
        ReceiptChange,
        RunDropped,
        RunWatched,
        WorkspaceChange,
    )

    line = Text()
    match record:
        case ReceiptChange():
            line.append(f"run {record.run_id}  ", style="bold")
            line.append_text(output.text(record.path, SHOWN_CHARS))
            line.append(": ")
            line.append(record.old_state.value, style=_STATE_STYLES[record.old_state.value])
            line.append(" → ")
            line.append(record.new_state.value, style=_STATE_STYLES[record.new_state.value])
            _detail(line, record.detail)
            _workspace(line, record.workspace)
        case ReadinessChange(ready=True):
            line.append(f"run {record.run_id}  ", style="bold")
            line.append("ready to requeue: every receipt is present", style="green")
        case ReadinessChange():
            line.append(f"run {record.run_id}  ", style="bold")
            line.append("not ready any more: a receipt is not present", style="yellow")
        case WorkspaceChange():
            line.append("workspace ")
            line.append_text(output.text(record.workspace, SHOWN_CHARS))
            line.append(": ")
            line.append(record.state.value, style="green" if record.state == "ok" else "red")
            _detail(line, record.detail)
        case RunWatched():
            present = sum(check.state.value == "present" for check in record.receipts)
            line.append(f"run {record.run_id}  ", style="bold")
            line.append(f"watched: {present}/{len(record.receipts)} receipt(s) present")
            if record.ready:
                line.append("; ready to requeue", style="green")
            _workspace(line, record.workspace)
        case RunDropped():
            line.append(f"run {record.run_id}  ", style="bold")
            line.append("no longer parked: not watched any more")
            _workspace(line, record.workspace)
        case AutoRequeued(ok=True):
            line.append(f"run {record.run_id}  ", style="bold")
            line.append(f"requeued automatically as run {record.new_run_id}", style="green")
        case AutoRequeued():
            line.append(f"run {record.run_id}  ", style="bold")
            line.append(f"automatic requeue refused ({record.error_code}): ", style="red")
            line.append_text(output.text(record.message or "", SHOWN_CHARS))
    return line


def _detail(line: Text, detail: str | None) -> None:
    if detail:
        line.append(" (")
        line.append_text(output.text(detail, SHOWN_CHARS))
        line.append(")")


def _workspace(line: Text, workspace: str) -> None:
    line.append("  in ", style="dim")
    line.append_text(output.text(workspace, SHOWN_CHARS))


class _WarningHandler(logging.Handler):
    """The watcher logs (and retries) when the database is away: tell the user."""

    def __init__(self, printer: Printer) -> None:
        super().__init__(logging.WARNING)
        self.printer = printer

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a warning must never stop the stream
            self.printer.warning(record.getMessage())


@contextlib.contextmanager
def _warnings_to(printer: Printer) -> Iterator[None]:
    logger = logging.getLogger("parkbench.core.watch")
    handler = _WarningHandler(printer)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
