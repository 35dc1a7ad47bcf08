"""The action history (``h``): this session's reviewer actions, newest first, and the
results of the highlighted one, run by run, conflicts included — what a notification showed
for a few seconds, to read again. A requeue whose new runs have not started can be undone
here (``u``): each new run is canceled and its source parks again (Store.undo_requeue).

Everything shown is plain text (reasons and error messages pass through
:mod:`parkbench.tui.textsafe`); the list is an ``OptionList`` (it renders only the lines in
view) and an entry keeps at most ``KEPT_RESULTS`` results, so the pane stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from parkbench.core.errors import ParkbenchError
from parkbench.core.lifecycle import Action, RunStatus
from parkbench.core.records import ActionResult, Expectation
from parkbench.core.store import Store, default_actor
from parkbench.tui.action_history import ActionHistory, HistoryEntry
from parkbench.tui.screens.actions import ACTION_LABELS, plural, summarize
from parkbench.tui.screens.palette import Command
from parkbench.tui.screens.reason_modal import LISTED, ReasonModal, Reply
from parkbench.tui.textsafe import one_line
from parkbench.tui.widgets.fit_footer import FitFooter

LABELS: dict[Action, str] = {
    **{action: labels[0] for action, labels in ACTION_LABELS.items()},
    Action.UNDO_REQUEUE: "Undo requeue",
}
#: A successor exactly as the requeue created it: queued, at its first version.
UNTOUCHED = Expectation(RunStatus.QUEUED, 1)


def clock_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S")


def entry_line(entry: HistoryEntry) -> Text:
    """One line of the list: when, what, how many, how it went, who and why."""
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"{clock_time(entry.finished_ms)}  ", style="dim")
    line.append(f"{LABELS.get(entry.action, entry.action.value):<12} ", style="bold")
    outcome = [f"{entry.ok:,} ok"] + [
        f"{count:,} {code.replace('_', ' ')}" for code, count in entry.codes.items()
    ]
    if entry.cancelled:
        outcome.append(f"{entry.not_reached:,} not reached")
    line.append(f"{plural(entry.requested, 'run')}: {', '.join(outcome)}")
    line.append(f"  by {one_line(entry.actor, 30)}: ", style="dim")
    line.append(f"“{one_line(entry.reason, 80)}”")
    return line


def result_line(entry: HistoryEntry, result: ActionResult, history: ActionHistory) -> Text:
    line = Text()
    line.append(f"run {result.run_id}  ", style="bold")
    if not result.ok:
        code = result.error.code if result.error else "error"
        message = result.error.message if result.error else "failed"
        line.append(f"{code}: ", style="bold red")
        line.append(one_line(message, 240))
        return line
    if entry.action is Action.UNDO_REQUEUE:
        line.append("needs_attention again")
        if result.new_run_id is not None:
            line.append(f" · new run {result.new_run_id} canceled", style="dim")
        return line
    line.append(result.status.value if result.status else "done")
    if result.new_run_id is not None:
        line.append(f" → new run {result.new_run_id}")
        if history.undone(result.new_run_id):
            line.append("  (undone: the new run was canceled)", style="italic")
    return line


def results_text(entry: HistoryEntry | None, history: ActionHistory) -> Text:
    if entry is None:
        return Text("No actions yet in this session.", style="italic")
    text = Text()
    text.append(f"{LABELS.get(entry.action, entry.action.value)} by {one_line(entry.actor, 40)}")
    text.append(
        f", {clock_time(entry.started_ms)} to {clock_time(entry.finished_ms)} UTC\n", style="dim"
    )
    text.append("Reason: ", style="dim")
    text.append(f"{one_line(entry.reason, 300)}\n")
    for result in entry.results:
        text.append_text(result_line(entry, result, history))
        text.append("\n")
    if entry.not_kept:
        text.append(
            f"… and {plural(entry.not_kept, 'more result')} (counted above, not kept)\n",
            style="dim",
        )
    if entry.cancelled:
        text.append(
            f"Stopped after a batch: {plural(entry.not_reached, 'run')} left as they were.\n",
            style="italic",
        )
    if undoable := history.undoable(entry):
        text.append(
            f"u undoes the requeue of {plural(len(undoable), 'run')} whose new run has not "
            "started (it is canceled, the run parks again).",
            style="italic",
        )
    text.rstrip()
    return text


@dataclass
class UndoDone(Message, bubble=False):
    results: list[ActionResult]
    reason: str
    started_ms: int
    error: ParkbenchError | None = None  # the store failed as a whole (database)


class HistoryScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,h", "close", "Back", id="history-close", tooltip="Back to the review"),
        Binding(
            "u",
            "undo",
            "Undo requeue",
            id="history-undo",
            tooltip="Cancel the new runs that have not started and park the sources again",
        ),
    ]

    def __init__(
        self,
        store: Store,
        history: ActionHistory,
        *,
        read_only: bool,
        actor: str | None,
        now_ms: Any,
    ) -> None:
        super().__init__()
        self.store = store
        self.history = history
        self.read_only = read_only
        self.actor = actor
        self.now_ms = now_ms
        self.entries_list = OptionList(id="history-entries")
        self.results = Static("", markup=False, id="history-results")

    def compose(self) -> ComposeResult:
        yield Static(Text("Action history · this session, newest first"), id="history-title")
        yield self.entries_list
        with VerticalScroll(id="history-pane"):
            yield self.results
        yield FitFooter()

    def on_mount(self) -> None:
        self.show_entries()
        self.entries_list.focus()

    @property
    def selected(self) -> HistoryEntry | None:
        entries = self.history.entries
        index = self.entries_list.highlighted
        return entries[index] if index is not None and index < len(entries) else None

    def show_entries(self, highlight: int = 0) -> None:
        entries = self.history.entries
        self.entries_list.clear_options()
        self.entries_list.add_options(Option(entry_line(entry)) for entry in entries)
        if entries:
            self.entries_list.highlighted = min(highlight, len(entries) - 1)
        self.show_results()

    def show_results(self) -> None:
        self.results.update(results_text(self.selected, self.history))
        self.refresh_bindings()

    @on(OptionList.OptionHighlighted, "#history-entries")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.show_results()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "undo":
            entry = self.selected
            return not self.read_only and entry is not None and bool(self.history.undoable(entry))
        return True

    def action_close(self) -> None:
        self.dismiss(None)

    def action_undo(self) -> None:
        entry = self.selected
        if self.read_only or entry is None:
            return
        undoable = self.history.undoable(entry)
        if not undoable:
            return
        body = Text(
            "Each new run is canceled (it has not started) and its source run goes back to "
            f"needs attention. Touches {plural(len(undoable), 'requeue')}.\n"
        )
        for result in undoable[:LISTED]:
            body.append(f"  run {result.run_id}", style="bold")
            body.append(f"  new run {result.new_run_id} → canceled\n", style="dim")
        if len(undoable) > LISTED:
            body.append(f"  … and {plural(len(undoable) - LISTED, 'more')}\n", style="dim")
        title = (
            f"Undo the requeue of run {undoable[0].run_id}"
            if len(undoable) == 1
            else f"Undo {plural(len(undoable), 'requeue')}"
        )
        pairs = [(r.run_id, r.new_run_id) for r in undoable]

        def confirmed(reply: Reply | None) -> None:
            if reply is not None:
                self.undo_requeues(pairs, reply.text)

        self.app.push_screen(ReasonModal(title, body), callback=confirmed)

    @work(thread=True, group="actions", exit_on_error=False)
    def undo_requeues(self, pairs: list[tuple[int, int | None]], reason: str) -> None:
        """One undo per requeue, each its own transaction; a refusal is that run's result."""
        started_ms = self.now_ms()
        results: list[ActionResult] = []
        for source, _ in pairs:
            try:
                undone = self.store.undo_requeue(
                    source, reason=reason, actor=self.actor, expected=UNTOUCHED
                )
            except ParkbenchError as error:
                if error.code == "database":
                    self.post_message(UndoDone(results, reason, started_ms, error))
                    return
                results.append(ActionResult(source, ok=False, error=error))
                continue
            results.append(
                ActionResult(
                    source, ok=True, status=RunStatus.NEEDS_ATTENTION,
                    new_run_id=undone.canceled_run_id,
                )
            )  # fmt: skip
        self.post_message(UndoDone(results, reason, started_ms))

    @on(UndoDone)
    def _undo_done(self, message: UndoDone) -> None:
        if message.results:
            self.history.add(
                HistoryEntry.of(
                    Action.UNDO_REQUEUE,
                    message.results,
                    reason=message.reason,
                    actor=self.actor or default_actor(),
                    started_ms=message.started_ms,
                    finished_ms=self.now_ms(),
                )
            )
            self.show_entries(0)
            summary, severity = summarize_undo(message.results)
            self.notify(summary, title="Undo requeue", severity=severity, markup=False, timeout=8)
            main = getattr(self.app, "main", None)
            if main is not None and main.is_mounted:
                touched = {r.run_id for r in message.results}
                touched |= {r.new_run_id for r in message.results if r.new_run_id}
                main.store_changed(frozenset(touched), resync=False)
        if message.error is not None:
            error = message.error
            self.notify(
                one_line(f"undo failed: {error.code}: {error.message} — {error.hint}", 500),
                title="Parkbench",
                severity="error",
                markup=False,
            )

    def palette_commands(self) -> Iterable[Command]:
        entry = self.selected
        if not self.read_only and entry is not None and self.history.undoable(entry):
            yield (
                "Undo requeue",
                "Cancel the new runs that have not started; park the sources again (u)",
                self.action_undo,
            )
        yield ("Back to the review", "Close the action history (escape)", self.action_close)
        yield ("Help", "Keys and binding ids", self.app.action_help)
        yield ("Quit", "Leave Parkbench", self.app.action_quit)


def summarize_undo(results: list[ActionResult]) -> tuple[str, Any]:
    """Like a review action's summary: ``1 undone``, conflicts spelled out."""
    summary, severity = summarize(Action.REQUEUE, [replace(r, new_run_id=None) for r in results])
    head = f"{sum(r.ok for r in results):,} requeued"
    if summary.startswith(head):
        summary = summary.replace("requeued", "undone", 1)
    return summary, severity
