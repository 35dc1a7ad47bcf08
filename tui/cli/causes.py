"""``parkbench causes``: the parked runs folded by the shape of their reason.

The same groups as the review app's Causes screen (``c``) and summary.json's ``causes``
(:meth:`parkbench.core.store.Store.causes`): per cause its key (the reason with numbers,
paths, ids, hashes, quoted values and times masked; missing receipts by the missing paths'
pattern), how many runs, the oldest and newest time one was parked, the workers, an
example reason and (``--json --run-ids``) every run id. Printed text goes through
:mod:`parkbench.tui.textsafe`: reasons print as the characters they contain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from parkbench.core.errors import ValidationError
from parkbench.tui.cli import output
from parkbench.tui.cli.common import DbOption, JsonOption, cli

if TYPE_CHECKING:
    from parkbench.core.causes import Causes


def register(app: typer.Typer) -> None:
    app.command("causes", rich_help_panel="Read")(causes)


def causes(
    ctx: typer.Context,
    limit: Annotated[
        str,
        typer.Option("--limit", metavar="N|all", help="How many causes to list, largest first."),
    ] = "50",
    run_ids: Annotated[
        bool,
        typer.Option("--run-ids", help="With --json: every run id of each listed cause."),
    ] = False,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Parked runs grouped by the shape of their reason, largest group first."""
    opts = cli(ctx, db, json_mode)
    wanted = parse_limit(limit)
    with opts.open_store(reads_only=True) as store:
        if opts.json and run_ids:
            found, ids = store.causes_and_runs(limit=wanted)
        else:
            found, ids = store.causes(limit=wanted), []
    if opts.json:
        doc = found.to_dict()
        if run_ids:
            doc["causes"] = [
                {**group.to_dict(), "run_ids": list(of_group)}
                for group, of_group in zip(found.groups, ids, strict=True)
            ]
        output.emit_json(doc)
        return
    _print_causes(found)


def parse_limit(text: str) -> int | None:
    value = text.strip().lower()
    if value == "all":
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValidationError(
            f"--limit {text!r} is not a number of causes (1 or more) or 'all'",
            hint="e.g. parkbench causes --limit 20, or --limit all",
        )
    return int(value)


def _print_causes(found: Causes) -> None:
    if not found.groups:
        output.print_lines(["no parked runs"])
        return
    grid = output.table(
        "RUNS",
        "OLDEST (UTC)",
        "NEWEST (UTC)",
        "WORKERS",
        "CAUSE",
        "EXAMPLE",
        flexible={"WORKERS": 1, "CAUSE": 3, "EXAMPLE": 3},
    )
    for group in found.groups:
        workers = ", ".join(group.workers) or "-"
        if group.worker_count > len(group.workers):
            workers += f" (+{group.worker_count - len(group.workers)})"
        grid.add_row(
            f"{group.count:,}",
            output.short_time(group.oldest_ms, year=False),
            output.short_time(group.newest_ms, year=False),
            output.text(workers, 80),
            output.text(group.key, 160),
            output.text(group.example, 160),
        )
    output.console().print(grid)
    lines = [
        f"{found.groups_total:,} cause(s), {found.runs_total:,} parked run(s)"
        + (
            f"; the largest {len(found.groups):,} listed (--limit)"
            if len(found.groups) < found.groups_total
            else ""
        )
    ]
    lines.append("every run id: parkbench causes --json --run-ids | jq '.causes[0].run_ids'")
    output.print_lines(lines)
