"""``parkbench snapshot``: the review screens as files, and a gate on parked work, for CI.

Writes, into ``--out``, per screen a ``<screen>.svg`` and a plain ``<screen>.txt``
(rendered headlessly by :mod:`parkbench.tui.snapshot.headless`: the real app, no terminal),
and ``summary.json`` (:mod:`parkbench.tui.snapshot.summary`: counts by status and every
parked run with its receipts checked on disk). With ``--fail-on-attention`` it exits 1 once
everything is written if any run needs attention; every other failure keeps the CLI's
stable codes.

One process, one read-only store: the summary is read first (its counts are the gate's),
then the screens are rendered; summary.json appears (renamed from ``summary.json.part``)
only once everything is written. Same database, ``--now`` and ``--size``: byte-identical
files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from parkbench.core.errors import ValidationError
from parkbench.tui.cli import output
from parkbench.tui.cli.common import (
    DbOption,
    JsonOption,
    StatusOption,
    cli,
    parse_time_ms,
    run_filter,
)
from parkbench.tui.textsafe import one_line

if TYPE_CHECKING:
    from parkbench.tui.snapshot.options import View

SUMMARY = "summary.json"
#: The issue's minimum, and what a CI artifact needs; help and action are static pages.
DEFAULT_SCREENS = ("list", "detail")
EXIT_ATTENTION = 1
_SIZE = re.compile(r"\s*(\d{1,4})\s*[xX]\s*(\d{1,4})\s*")
MIN_SIZE, MAX_SIZE = (40, 10), (500, 200)


def register(app: typer.Typer) -> None:
    app.command("snapshot", rich_help_panel="Read")(snapshot)


def snapshot(
    ctx: typer.Context,
    out: Annotated[
        str,
        typer.Option("--out", metavar="DIR", help="Directory for the files (created if missing)."),
    ],
    size: Annotated[
        str, typer.Option("--size", metavar="WxH", help="Terminal size in cells.")
    ] = "120x40",
    screens: Annotated[
        str,
        typer.Option(
            "--screens",
            metavar="LIST",
            help="Comma-separated: list, detail, help, causes, action (the action modal, "
            "opened and cancelled), or all.",
        ),
    ] = ",".join(DEFAULT_SCREENS),
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="TS",
            help="The clock the screens show (ISO-8601 or epoch seconds); fix it for "
            "reproducible files. Default: now.",
            show_default=False,
        ),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            "--filter",
            metavar="TEXT",
            help='Filter the list as the app\'s / does: words, "phrases", worker: workspace: '
            "task: reason: status: #id.",
        ),
    ] = None,
    status: StatusOption = "needs_attention",
    summary_limit: Annotated[
        str,
        typer.Option(
            "--summary-limit",
            metavar="N|all",
            help="How many parked runs summary.json lists, oldest first (default: all); its "
            "totals and the gate always count every one.",
        ),
    ] = "all",
    fail_on_attention: Annotated[
        bool,
        typer.Option(
            "--fail-on-attention",
            help="Exit 1 (after writing every file) when any run needs attention.",
        ),
    ] = False,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Render the review screens to SVG and text files plus summary.json (for CI)."""
    opts = cli(ctx, db, json_mode)
    from parkbench.core.db.info import system_clock
    from parkbench.tui.snapshot.options import View

    if not out.strip():
        # An empty --out would silently mean the current directory.
        raise ValidationError(
            "--out needs a directory", hint="e.g. parkbench snapshot --out parkbench-report"
        )

    from parkbench.core.filters import parse_filter

    problems = parse_filter(search or "").problems
    if problems:
        raise ValidationError(f"--filter: {problems[0].message}", hint=problems[0].hint)
    view = View(
        now_ms=parse_time_ms(now) if now is not None else system_clock(),
        size=parse_size(size),
        status=run_filter(status, None, None, None, None).status,
        search=search or "",
        screens=parse_screens(screens),
    )
    limit = parse_limit(summary_limit)
    report = take_snapshot(opts.db, Path(out), view, summary_limit=limit)
    parked = report["needs_attention"]
    gate = None
    if fail_on_attention:
        gate = "failed" if parked else "passed"
    if opts.json:
        output.emit_json({**report, "gate": gate})
    else:
        _print_report(report)
    if gate == "failed":
        output.note(f"gate failed: {parked:,} run(s) need attention (--fail-on-attention)")
        raise typer.Exit(EXIT_ATTENTION)


def parse_size(text: str) -> tuple[int, int]:
    match = _SIZE.fullmatch(text)
    width, height = (int(match[1]), int(match[2])) if match else (0, 0)
    if not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
        raise ValidationError(
            f"--size {text!r} is not a terminal size from {MIN_SIZE[0]}x{MIN_SIZE[1]} "
            f"to {MAX_SIZE[0]}x{MAX_SIZE[1]}",
            hint="e.g. --size 120x40 (columns x rows)",
        )
    return width, height


def parse_limit(text: str) -> int | None:
    """``--summary-limit``: a count, or ``all`` (None)."""
    value = text.strip().lower()
    if value == "all":
        return None
    if not value.isdigit():
        raise ValidationError(
            f"--summary-limit {text!r} is not a number of runs or 'all'",
            hint="e.g. --summary-limit 1000 or --summary-limit all",
        )
    return int(value)


def parse_screens(text: str) -> tuple[str, ...]:
    from parkbench.tui.snapshot.options import SCREENS

    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if names == ["all"]:
        return SCREENS
    unknown = [name for name in names if name not in SCREENS]
    if unknown or not names:
        raise ValidationError(
            f"unknown screen(s) {', '.join(map(repr, unknown)) or 'none given'}",
            hint=f"use --screens with some of: {', '.join(SCREENS)} (or all)",
        )
    return tuple(dict.fromkeys(names))


def take_snapshot(
    db: str | None, out: Path, view: View, *, summary_limit: int | None = None
) -> dict[str, Any]:
    """Write the screens and summary.json into ``out``; return what was written and the
    counts."""
    from parkbench.core.db.info import resolve_url
    from parkbench.core.store import Store
    from parkbench.tui.snapshot.headless import render_screens, write_captures
    from parkbench.tui.snapshot.options import SCREEN_DESCRIPTIONS
    from parkbench.tui.snapshot.summary import close_summary, write_summary
    from parkbench.tui.timefmt import iso

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValidationError(
            f"cannot create --out {out}: {error.strerror or error}",
            hint="pass a directory you can write to",
        ) from None
    header = {
        "now": iso(view.now_ms),
        "size": f"{view.size[0]}x{view.size[1]}",
        "view": {
            "status": view.status.value if view.status is not None else "all",
            "filter": view.search,
        },
    }
    part = out / f"{SUMMARY}.part"
    with Store.open(resolve_url(db), read_only=True) as store:
        try:
            with part.open("w", encoding="utf-8", newline="\n") as summary:
                totals = write_summary(store, summary, header, limit=summary_limit)
                captures = render_screens(store, view)
                written = write_captures(captures, out)
                for capture in captures:
                    if capture.skipped:  # a stale file would contradict the summary
                        for suffix in ("svg", "txt"):
                            (out / f"{capture.name}.{suffix}").unlink(missing_ok=True)
                screens = {
                    name: {**files, "shows": SCREEN_DESCRIPTIONS[name]}
                    for name, files in written.items()
                }
                close_summary(summary, {"screens": screens})
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    os.replace(part, out / SUMMARY)
    files = [f for entry in written.values() for k, f in entry.items() if k in ("svg", "txt")]
    return {
        "out": str(out),
        "files": [*files, SUMMARY],
        "screens": written,
        "counts": totals.counts,
        "needs_attention": totals.parked,
        "listed": totals.listed,
    }


def _print_report(report: dict[str, Any]) -> None:
    lines = [f"wrote {one_line(report['out'], 300)}/: {' '.join(report['files'])}"]
    for name, entry in report["screens"].items():
        if "skipped" in entry:
            lines.append(f"skipped {name}: {entry['skipped']}")
    parked, listed = report["needs_attention"], report["listed"]
    lines.append(f"{parked:,} run(s) need attention" if parked else "no run needs attention")
    if listed < parked:
        lines.append(f"{SUMMARY} lists the oldest {listed:,} (--summary-limit)")
    output.print_lines(lines)
