"""Read commands: ``list`` (keyset-paged), ``show`` (one run, receipts checked now), ``stats``.

Everything printed for people goes through :mod:`parkbench.tui.textsafe` into Rich ``Text``: a block
reason full of ANSI escapes or markup prints as the characters it contains, visibly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from parkbench.tui.cli import output
from parkbench.tui.cli.common import (
    DbOption,
    JsonOption,
    RunArgument,
    SearchOption,
    StatusOption,
    TaskOption,
    WorkerFilter,
    WorkspaceFilter,
    cli,
    run_filter,
)

if TYPE_CHECKING:
    from parkbench.core.records import Page, RunDetail

#: ``show`` prints at most this much of a reason; ``--json`` has all of it.
SHOW_REASON_CHARS = 4000
#: ``show`` lists this many of the newest events unless told otherwise.
SHOW_EVENTS = 20


def register(app: typer.Typer) -> None:
    app.command("list", rich_help_panel="Read")(list_runs)
    app.command("show", rich_help_panel="Read")(show)
    app.command("stats", rich_help_panel="Read")(stats)


def list_runs(
    ctx: typer.Context,
    status: StatusOption = "needs_attention",
    task: TaskOption = None,
    workspace: WorkspaceFilter = None,
    worker: WorkerFilter = None,
    search: SearchOption = None,
    limit: Annotated[int, typer.Option("--limit", metavar="N", help="Page size (1-1000).")] = 50,
    after: Annotated[
        str | None,
        typer.Option("--after", metavar="CURSOR", help="Continue after this next_cursor."),
    ] = None,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """List runs, parked ones first by default; page with --after."""
    opts = cli(ctx, db, json_mode)
    chosen = run_filter(status, task, workspace, worker, search)
    with opts.open_store(reads_only=True) as store:
        page = store.list_runs(chosen, limit=limit, after=after)
    if opts.json:
        output.emit_json(
            {"runs": [row.to_dict() for row in page.rows], "next_cursor": page.next_cursor}
        )
        return
    _print_page(page, status)


def _print_page(page: Page, status: str) -> None:
    if not page.rows:
        output.print_lines([f"no runs ({status})"])
        return
    every_status = status.strip().lower() == "all"
    columns = ["RUN", "STATUS", "SINCE (UTC)", "TRY", "WORKER", "TITLE", "REASON"]
    if not every_status:
        columns.remove("STATUS")  # one status was asked for: the column would repeat it
    grid = output.table(*columns, flexible={"WORKER": 1, "TITLE": 2, "REASON": 3})
    for row in page.rows:
        needed = len(row.contract.required)
        receipts = f"[needs {needed} receipt(s)] " if needed else ""
        cells = [
            str(row.id),
            output.status(row.status.value),
            output.short_time(row.status_changed_at_ms, year=False),
            f"{row.attempt}/{row.max_attempts}",
            output.text(row.worker or "-", 40),
            output.text(row.title, 120),
            output.text(receipts + (row.reason or ""), 240),
        ]
        if not every_status:
            del cells[1]
        grid.add_row(*cells)
    output.console().print(grid)
    if page.next_cursor:
        output.print_lines([f"more: parkbench list --after {page.next_cursor} (same filters)"])


def show(
    ctx: typer.Context,
    run: RunArgument,
    events: Annotated[
        int,
        typer.Option("--events", metavar="N", help="Show the newest N audit events."),
    ] = SHOW_EVENTS,
    all_events: Annotated[
        bool, typer.Option("--all-events", help="Show every audit event of the run.")
    ] = False,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """One run in full: status, reason, lineage, audit events, receipts checked on disk now."""
    opts = cli(ctx, db, json_mode)
    with opts.open_store(reads_only=True) as store:
        detail = store.get_run(run, events_limit=None if all_events else events)
    if opts.json:
        output.emit_json(detail.to_dict())
        return
    _print_detail(detail)


def _print_detail(detail: RunDetail) -> None:
    from rich.text import Text

    run = detail.run
    out = output.console()
    header = Text(f"run {run.id} · ")
    header.append_text(output.status(run.status.value))
    header.append(f" · attempt {run.attempt}/{run.max_attempts}")
    header.append(f" · task {run.task_id} · priority {run.priority}")
    out.print(header)
    fields = output.table("FIELD", "VALUE", flexible=("VALUE",))
    fields.show_header = False
    rows = [
        ("title", run.title),
        ("workspace", run.workspace_root),
        ("worker", run.worker or "-"),
        ("queued", output.short_time(run.queued_at_ms)),
        ("claimed", output.short_time(run.claimed_at_ms)),
        ("blocked", output.short_time(run.blocked_at_ms)),
        ("finished", output.short_time(run.finished_at_ms)),
        ("lease until", output.short_time(run.lease_until_ms)),
        ("version", str(run.version)),
    ]
    if run.previous_run_id:
        rows.append(("previous run", str(run.previous_run_id)))
    if run.failure_reason:
        rows.append(("failure", run.failure_reason))
    for name, value in rows:
        fields.add_row(name, output.text(value, 160))
    out.print(fields)
    if run.block_reason:
        out.print(Text("block reason:"))
        reason = run.block_reason
        out.print(output.block_text(reason, SHOW_REASON_CHARS))
        if len(reason) > SHOW_REASON_CHARS:
            out.print(Text(f"({len(reason):,} characters in all; --json prints every one)"))
    answer = _answer(detail)
    if answer is not None:
        head = Text(f"{answer[0]} by ")
        head.append_text(output.text(answer[1], 64))
        head.append(":")
        out.print(head)
        out.print(output.block_text(answer[2], SHOW_REASON_CHARS))
    for note in detail.notes:  # a reviewer's words, each line kept (and escaped)
        head = Text("note by ")
        head.append_text(output.text(note.actor, 64))
        head.append(f" ({note.to_status}), {output.short_time(note.created_at_ms)}:")
        out.print(head)
        out.print(output.block_text(note.reason or "", SHOW_REASON_CHARS))
    if len(detail.lineage) > 1:
        chain = " → ".join(
            f"{e.run_id}{'*' if e.run_id == run.id else ''} ({e.status.value})"
            for e in detail.lineage
        )
        out.print(Text(f"lineage: {chain}"))
    if detail.artifacts:
        receipts = output.table("RECEIPT", "STATE", flexible=("RECEIPT",))
        for check in detail.artifacts:
            receipts.add_row(output.text(check.path, 120), check.state.value)
        out.print(receipts)
    events = output.table(
        "WHEN", "ACTOR", "ACTION", "FROM → TO", "REASON", flexible=("ACTOR", "REASON")
    )
    for event in detail.events:
        events.add_row(
            output.short_time(event.created_at_ms),
            output.text(f"{event.actor} ({event.actor_kind})", 32),
            event.action,
            f"{event.from_status or '∅'} → {event.to_status}",
            output.text(event.reason or "", 100),
        )
    out.print(events)
    if detail.events_total > len(detail.events):
        out.print(
            Text(
                f"(the last {len(detail.events)} of {detail.events_total:,} events; "
                "--events N or --all-events for more)"
            )
        )


def _answer(detail: RunDetail) -> tuple[str, str, str] | None:
    """The reviewer's answer of a requeue, from either end: the text the source run was
    requeued with, or the text its successor was queued with (the handoff's decision)."""
    for event in reversed(detail.events):
        if event.reason is None or event.actor_kind != "human":
            continue
        if event.action == "requeue":
            new_run = (event.details or {}).get("new_run_id")
            return (f"answer handed to run {new_run}", event.actor, event.reason)
        if event.action == "enqueue" and detail.run.previous_run_id is not None:
            previous = detail.run.previous_run_id
            return (f"answer from the requeue of run {previous}", event.actor, event.reason)
    return None


def stats(ctx: typer.Context, db: DbOption = None, json_mode: JsonOption = False) -> None:
    """How many runs are in each status."""
    opts = cli(ctx, db, json_mode)
    with opts.open_store(reads_only=True) as store:
        counts = store.counts_by_status()
    total = sum(counts.values())
    if opts.json:
        output.emit_json({"counts": counts, "total": total})
        return
    grid = output.table("STATUS", "RUNS")
    for name, count in counts.items():
        grid.add_row(output.status(name), f"{count:,}")
    grid.add_row("total", f"{total:,}")
    output.console().print(grid)
