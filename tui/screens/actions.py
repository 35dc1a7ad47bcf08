"""Wording for review actions: the modal's title and target list, the result summary.

All of it is plain text: run titles and error messages (which can quote actor names) pass
through :mod:`parkbench.tui.textsafe` and are shown with ``markup=False``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.notifications import SeverityLevel

from parkbench.core import inputs
from parkbench.core.lifecycle import Action, ActorKind, RunStatus, allowed_actions
from parkbench.core.records import ActionResult, Expectation, RunRow
from parkbench.tui.screens.answer_modal import AnswerModal
from parkbench.tui.screens.reason_modal import LISTED, ReasonModal
from parkbench.tui.textsafe import one_line, safe_text
from parkbench.tui.widgets.run_window import ViewQuery
from parkbench.tui.widgets.status_header import status_label

#: action method name on the screen -> the reviewer action it starts
ACTION_NAMES: dict[str, Action] = {
    "requeue": Action.REQUEUE,
    "fail": Action.FAIL,
    "release": Action.RELEASE,
}
#: action -> (imperative, past tense)
ACTION_LABELS: dict[Action, tuple[str, str]] = {
    Action.REQUEUE: ("Requeue", "requeued"),
    Action.FAIL: ("Fail", "failed"),
    Action.RELEASE: ("Release", "released"),
}
_EFFECT = {
    Action.REQUEUE: "Each run ends and a fresh queued attempt is created.",
    Action.FAIL: "Each run ends as failed (operator-forced).",
    Action.RELEASE: "Each run goes back to the queue as it is.",
}
#: Failures spelled out one by one in a summary; the rest are counted.
DETAILED = 5
#: A requeue's prompt: one run's block reason in at most this many characters and lines;
#: a marked set's distinct reasons, this many listed (the commonest).
REASON_SHOWN = 1_000
REASON_LINES = 6
REASONS_LISTED = 4
#: A marked set's reasons are counted over its first this many runs (the prompt says so):
#: the count takes about 0.2 s per 10,000 runs, and the prompt waits for it
#: (tests/bench/bench_answer.py).
REASONS_SCANNED = 10_000
#: A fail of more runs than this asks the reviewer to type the count to confirm.
TYPED_CONFIRM_OVER = 1_000


def targets(
    action: Action, marks: Mapping[int, Expectation], highlighted: RunRow | None
) -> tuple[dict[int, Expectation], int]:
    """The runs ``action`` touches, each as the reviewer saw it (the store refuses the
    action as a conflict if it changed since), and how many marked runs it skips because
    the lifecycle does not allow it in their state. Marks win over the cursor."""
    if marks:
        valid = {
            run_id: seen
            for run_id, seen in marks.items()
            if action in allowed_actions(ActorKind.HUMAN, seen.status)
        }
        return valid, len(marks) - len(valid)
    if highlighted is not None and action in allowed_actions(ActorKind.HUMAN, highlighted.status):
        return {highlighted.id: Expectation(highlighted.status, highlighted.version)}, 0
    return {}, 0


def view_actions(status: RunStatus | None) -> frozenset[Action]:
    """The review actions a status view offers: those the lifecycle allows a reviewer on
    runs in that status (every status: any of them). Views with none are for browsing:
    no action, no marks."""
    statuses = tuple(RunStatus) if status is None else (status,)
    return frozenset(
        action
        for source in statuses
        for action in allowed_actions(ActorKind.HUMAN, source)
        if action in ACTION_LABELS
    )


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def action_title(action: Action, expected: Mapping[int, Expectation], marked: bool) -> str:
    label = ACTION_LABELS[action][0]
    if marked:
        return f"{label} {plural(len(expected), 'marked run')}"
    return f"{label} run {next(iter(expected))}"


def action_modal(
    action: Action,
    expected: Mapping[int, Expectation],
    skipped: int,
    rows: Mapping[int, RunRow],
    *,
    marked: bool,
    reasons: Sequence[tuple[str, int]] | None = None,
) -> ReasonModal:
    """The reason modal for ``action`` on ``expected`` (titles from the rows on screen)."""
    body = Text()
    body.append(f"{_EFFECT[action]} Touches {plural(len(expected), 'run')}.\n")
    for run_id in list(expected)[:LISTED]:
        row = rows.get(run_id)
        body.append(f"  run {run_id}", style="bold")
        if row is not None:
            body.append(f"  {one_line(row.title, 60)}")
        body.append(f"  ({expected[run_id].status.value})\n", style="dim")
    if len(expected) > LISTED:
        body.append(f"  … and {plural(len(expected) - LISTED, 'more run')}\n", style="dim")
    if skipped:
        body.append(
            f"{plural(skipped, 'marked run')} skipped: "
            f"{action.value} is not valid in their state.\n",
            style="italic",
        )
    if action is Action.REQUEUE:
        # The loop's last step: what the reviewer writes here is what the agent gets back.
        answered_reasons(body, expected, rows, reasons)
        only = rows.get(next(iter(expected))) if len(expected) == 1 else None
        return AnswerModal(
            action_title(action, expected, marked),
            body,
            label="Your answer handed to the next attempt (its worker reads it in the "
            "claim's handoff):",
            placeholder="Answer for the next attempt (required; several lines welcome)",
            check=inputs.reason,
            priority=None if only is None else only.priority,
            with_priority=True,
        )
    big = action is Action.FAIL and len(expected) > TYPED_CONFIRM_OVER
    return ReasonModal(
        action_title(action, expected, marked),
        body,
        confirm_count=len(expected) if big else None,
    )


def answered_reasons(
    body: Text,
    expected: Mapping[int, Expectation],
    rows: Mapping[int, RunRow],
    reasons: Sequence[tuple[str, int]] | None,
) -> None:
    """The block reason(s) the answer answers: one run's literally (bounded), a marked
    set's distinct reasons, the commonest first, with counts."""
    if len(expected) == 1:
        row = rows.get(next(iter(expected)))
        reason = row.block_reason if row is not None else None
        body.append("Block reason it answers:\n", style="bold")
        if not reason:
            body.append("  (no block reason recorded)\n", style="dim")
            return
        lines = safe_text(reason, REASON_SHOWN, multiline=True).splitlines() or [""]
        for line in lines[:REASON_LINES]:
            body.append(f"  {line}\n")
        if len(lines) > REASON_LINES:
            body.append(f"  … {plural(len(lines) - REASON_LINES, 'more line')}\n", style="dim")
        return
    if reasons is None:
        return
    counted = sorted(reasons, key=lambda pair: (-pair[1], pair[0]))
    among = ""
    if len(expected) > REASONS_SCANNED:
        among = f" among the first {REASONS_SCANNED:,} of {len(expected):,} runs"
    body.append(
        f"Block reasons it answers ({plural(len(counted), 'distinct reason')}{among}):\n",
        style="bold",
    )
    for reason, count in counted[:REASONS_LISTED]:
        body.append(f"  {plural(count, 'run')}: ", style="bold")
        body.append(f"{one_line(reason, 90) if reason else '(none recorded)'}\n")
    if len(counted) > REASONS_LISTED:
        rest = sum(count for _, count in counted[REASONS_LISTED:])
        body.append(
            f"  … and {plural(len(counted) - REASONS_LISTED, 'more reason')} "
            f"({plural(rest, 'run')})\n",
            style="dim",
        )


def mark_all_question(count: int, query: ViewQuery, *, invert: bool = False) -> Text:
    if invert:
        text = Text(f"Invert the marks of the {plural(count, 'run')} in this view?\n")
    else:
        text = Text(f"Mark all {plural(count, 'run')} in this view?\n")
    text.append(f"status: {status_label(query.status)}", style="dim")
    if query.search.strip():
        text.append(f" · filter: “{one_line(query.search, 60)}”", style="dim")
    if query.cause is not None:
        text.append(f" · cause: “{one_line(query.cause, 60)}”", style="dim")
    elif query.run_ids is not None:
        text.append(" · only runs ready to requeue", style="dim")
    return text


def summarize(action: Action, results: list[ActionResult]) -> tuple[str, SeverityLevel]:
    """E.g. ``2 requeued, 1 conflict: run 17 changed since you looked: ...``."""
    done = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    parts: list[str] = []
    if done:
        head = f"{len(done):,} {ACTION_LABELS[action][1]}"
        if len(done) == 1 and done[0].new_run_id is not None:
            head += f" (run {done[0].run_id} → new run {done[0].new_run_id})"
        parts.append(head)
    codes = Counter(r.error.code if r.error else "error" for r in failed)
    parts.extend(f"{count:,} {code.replace('_', ' ')}" for code, count in codes.items())
    summary = ", ".join(parts) or "nothing to do"
    details = [
        one_line(r.error.message if r.error else f"run {r.run_id} failed", 240)
        for r in failed[:DETAILED]
    ]
    if len(failed) > DETAILED:
        details.append(f"… and {len(failed) - DETAILED:,} more")
    if len(details) == 1:
        summary += f": {details[0]}"
    elif details:
        summary += "\n" + "\n".join(details)
    severity: SeverityLevel = "information" if not failed else ("warning" if done else "error")
    return summary, severity
