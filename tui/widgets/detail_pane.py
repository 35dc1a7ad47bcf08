"""The detail pane: everything about the highlighted run, wrapped, as plain ``Text``.

The full reason wraps here (the list only shows its first line) but is still bounded, so a
megabyte of reason cannot stall a repaint. Every agent-supplied string goes through
:func:`parkbench.tui.textsafe.safe_text`; nothing is ever parsed as markup.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from rich.style import Style
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from parkbench.core.contracts import ArtifactState
from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import RunDetail, RunRow
from parkbench.tui.textsafe import one_line, safe_text
from parkbench.tui.widgets.run_columns import relative_time
from parkbench.tui.widgets.theme_styles import component_style

#: Characters of a reason shown in the pane; the rest is summarised in a note.
REASON_MAX = 20_000
TITLE_MAX = 2_000
EVENT_REASON_MAX = 300
METADATA_MAX = 5_000
EVENTS_MAX = 200
#: Characters of each reviewer's note shown (notes are at most 10,000 characters).
NOTE_MAX = 2_000
#: Newest events shown near the top for a run that is not parked (the full trail is below).
LAST_EVENTS = 3
RESULT_MAX = 2_000

_STATE_MARK = {
    ArtifactState.PRESENT: ("✓ present   ", "detail--present"),
    ArtifactState.MISSING: ("✗ missing   ", "detail--missing"),
    ArtifactState.NOT_A_FILE: ("✗ not a file", "detail--missing"),
    ArtifactState.UNSAFE: ("⚠ unsafe    ", "detail--unsafe"),
}


def timestamp(ms: int | None, now_ms: int) -> str:
    if ms is None:
        return "-"
    when = datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"{when} ({relative_time(ms, now_ms)})"


def bounded(text: str, limit: int) -> str:
    """Safe, multi-line ``text`` cut at ``limit`` characters with a note saying so."""
    if len(text) <= limit:
        return safe_text(text, multiline=True)
    hidden = len(text) - limit
    return (
        safe_text(text[:limit], multiline=True)
        + f"\n… [{hidden:,} more characters not shown; `parkbench show` prints them all]"
    )


def attempt_text(run: RunRow) -> str:
    """``2/3``, or ``2 (limit 1 overridden)`` past a limit a reviewer overrode."""
    if run.attempt > run.max_attempts:
        return f"{run.attempt} (limit {run.max_attempts} overridden)"
    return f"{run.attempt}/{run.max_attempts}"


class DetailPane(VerticalScroll, can_focus=True):
    """Scrollable details of one run; ``show(detail)`` replaces them."""

    COMPONENT_CLASSES = {
        "detail--heading",
        "detail--title",
        "detail--dim",
        "detail--present",
        "detail--missing",
        "detail--unsafe",
    }

    def __init__(self, *, now_ms: Callable[[], int], id: str | None = None) -> None:
        super().__init__(id=id)
        self.now_ms = now_ms
        self.detail: RunDetail | None = None
        self._body = Static("", markup=False, id="detail-body")

    def compose(self):  # type: ignore[no-untyped-def]
        yield self._body

    def show_placeholder(self, message: str) -> None:
        self.detail = None
        self._body.update(Text(message, style=self._style("detail--dim")))

    def show(self, detail: RunDetail, *, note: str = "") -> None:
        """Show ``detail``; ``note`` (e.g. why this run is not in the list) goes first."""
        same_run = self.detail is not None and self.detail.run.id == detail.run.id
        self.detail = detail
        text = self.render_detail(detail)
        if note:
            text = Text(one_line(note, 500) + "\n", style=self._style("detail--unsafe")) + text
        self._body.update(text)
        if not same_run:
            self.scroll_home(animate=False, immediate=True)

    def _style(self, name: str) -> Style:
        return component_style(self, name)

    def _heading(self, text: Text, title: str) -> None:
        text.append(f"\n{title}\n", style=self._style("detail--heading"))

    def _header(self, text: Text, run: RunRow) -> None:
        """Four lines: title; ids and worker; workspace; times (the status change in full)."""
        now = self.now_ms()
        dim = self._style("detail--dim")
        text.append(one_line(run.title, TITLE_MAX), style=self._style("detail--title"))
        text.append("\n")
        text.append(
            f"run {run.id} · {run.status.value} · attempt {attempt_text(run)}"
            f" · priority {run.priority} · task {run.task_id} · worker ",
            style=dim,
        )
        text.append(one_line(run.worker, 256) if run.worker else "-")
        text.append("\nworkspace ", style=dim)
        text.append(f"{safe_text(run.workspace_root)} ({safe_text(run.workspace_name)})")
        changed = "blocked" if run.blocked_at_ms == run.status_changed_at_ms else "changed"
        text.append(f"\n{changed} ", style=dim)
        text.append(timestamp(run.status_changed_at_ms, now))
        for label, ms in (
            ("queued", run.queued_at_ms),
            ("claimed", run.claimed_at_ms),
            ("finished", run.finished_at_ms),
        ):
            if ms is not None:
                text.append(f" · {label} ", style=dim)
                text.append(relative_time(ms, now))
        text.append("\n")

    def render_detail(self, detail: RunDetail) -> Text:
        run = detail.run
        dim = self._style("detail--dim")
        text = Text(overflow="fold")
        self._header(text, run)

        if run.block_reason is not None:
            self._heading(text, "Block reason")
            text.append(bounded(run.block_reason, REASON_MAX) + "\n")
        if run.failure_reason is not None:
            self._heading(text, "Failure reason")
            text.append(bounded(run.failure_reason, REASON_MAX) + "\n")

        if detail.notes:
            self._heading(text, f"Notes ({len(detail.notes)})")
            now = self.now_ms()
            for note in detail.notes:
                text.append(f"{timestamp(note.created_at_ms, now)}  ", style=dim)
                text.append(one_line(note.actor, 64))
                text.append(f"  ({note.to_status})\n", style=dim)
                for line in bounded(note.reason or "", NOTE_MAX).splitlines():
                    text.append(f"    {line}\n")
        if run.status is not RunStatus.NEEDS_ATTENTION:
            self._outcome(text, detail)

        present = sum(a.state is ArtifactState.PRESENT for a in detail.artifacts)
        policy = run.contract.missing_policy.value
        if detail.artifacts:
            total = len(detail.artifacts)
            self._heading(text, f"Receipts ({present}/{total} present, policy {policy})")
        else:
            self._heading(text, "Receipts")
            text.append("no completion contract\n", style=dim)
        for artifact in detail.artifacts:
            label, style = _STATE_MARK[artifact.state]
            text.append(f"{label} ", style=self._style(style))
            text.append(one_line(artifact.path, 1000))
            if artifact.detail:
                text.append(f"  ({one_line(artifact.detail, 300)})", style=dim)
            text.append("\n")

        self._heading(text, "Lineage")
        for entry in detail.lineage:
            here = "  ← this run" if entry.run_id == run.id else ""
            text.append(
                f"run {entry.run_id}  attempt {entry.attempt}  {entry.status.value}{here}\n"
            )

        events = detail.events
        # The store loads the newest events only; events_total counts them all.
        total = max(detail.events_total, len(events))
        self._heading(text, f"Events ({total})")
        shown = events[-EVENTS_MAX:]
        if total > len(shown):
            text.append(f"… {total - len(shown)} earlier events not shown\n", style=dim)
        now = self.now_ms()
        for event in shown:
            moved = f"{event.from_status or '∅'} → {event.to_status}"
            text.append(f"{timestamp(event.created_at_ms, now)}  ", style=dim)
            text.append(f"{event.actor_kind}:{one_line(event.actor, 64)}  ")
            text.append(f"{event.action}  {moved}")
            if event.reason:
                text.append(f"\n    {one_line(event.reason, EVENT_REASON_MAX)}", style=dim)
            text.append("\n")

        self._heading(text, "Metadata")
        for label, value in (
            ("task", detail.task_metadata),
            ("run", detail.run_metadata),
            ("result", detail.result),
        ):
            if value in (None, {}, []):
                continue
            dumped = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
            text.append(f"{label}: ", style=dim)
            text.append(bounded(dumped, METADATA_MAX) + "\n")
        return text

    def _outcome(self, text: Text, detail: RunDetail) -> None:
        """Near the top for a run the status browser shows (claimed, failed, completed...):
        its lease or result, and its newest events, newest first; the parked view leads
        with the reason instead."""
        run, now, dim = detail.run, self.now_ms(), self._style("detail--dim")
        if run.status is RunStatus.CLAIMED:
            self._heading(text, "Lease")
            text.append("held by ", style=dim)
            text.append(one_line(run.worker, 256) if run.worker else "-")
            text.append(" · until ", style=dim)
            text.append(timestamp(run.lease_until_ms, now))
            text.append(" · last heartbeat ", style=dim)
            beat = run.heartbeat_at_ms
            text.append(relative_time(beat, now) if beat is not None else "-")
            text.append("\n")
        elif detail.result not in (None, {}, []):
            self._heading(text, "Result")
            dumped = json.dumps(detail.result, indent=2, sort_keys=True, ensure_ascii=False)
            text.append(bounded(dumped, RESULT_MAX) + "\n")
        last = detail.events[-LAST_EVENTS:][::-1]
        if last:
            self._heading(text, "Last events (newest first)")
        for event in last:
            text.append(f"{timestamp(event.created_at_ms, now)}  ", style=dim)
            text.append(f"{event.action} by {event.actor_kind}:{one_line(event.actor, 64)}")
            text.append(f"  {event.from_status or '∅'} → {event.to_status}")
            if event.reason:
                text.append(f"\n    {one_line(event.reason, EVENT_REASON_MAX)}", style=dim)
            text.append("\n")
