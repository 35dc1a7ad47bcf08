"""Reviewer commands: ``requeue``, ``fail`` and ``release`` on one run, many, or a filter.

Each run is acted on in its own transaction and gets its own result; one bad run never
stops the others, and the exit status says whether any failed. ``--all-matching`` takes
the same filters as ``list``, shows how many runs match, and acts only on runs still in
the state (and version) they had when they were counted: anything that moved meanwhile
comes back as ``conflict``. Acting on more than one run needs ``--yes`` or, on a terminal,
a typed confirmation.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from parkbench.core.errors import EXIT_CODES, ValidationError
from parkbench.tui.cli import output
from parkbench.tui.cli.common import (
    DbOption,
    JsonOption,
    SearchOption,
    StatusOption,
    TaskOption,
    WorkerFilter,
    WorkspaceFilter,
    cli,
    run_filter,
)

if TYPE_CHECKING:
    from parkbench.core.records import ActionResult, Expectation, RunFilter
    from parkbench.core.store import Store

#: Human output lists every result up to this many; beyond it, failures and a summary.
TABLE_LIMIT = 200

RunsArgument = Annotated[
    list[int] | None,
    typer.Argument(metavar="RUN...", help="Run ids.", show_default=False),
]
ReasonOption = Annotated[
    str | None,
    typer.Option(
        "--reason",
        metavar="TEXT",
        help="Why (required; recorded in the audit trail).",
        show_default=False,
    ),
]
ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor", metavar="NAME", help="Reviewer name (default: the OS user).",
        show_default=False,
    ),
]
AllMatchingOption = Annotated[
    bool,
    typer.Option(
        "--all-matching",
        help="Act on every run matching the filters (as `parkbench list` would show them).",
    ),
]
YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask before acting on more than one run.")
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Also take claimed runs whose worker still holds a live lease (recorded).",
    ),
]

_PAST = {"requeue": "requeued", "fail": "failed", "release": "released"}
_HELP = {
    "requeue": "End parked runs and queue a fresh attempt of each (works past max attempts).",
    "fail": "Fail runs for good (parked, queued or claimed), marked as operator-forced.",
    "release": "Put runs back in the queue as they are (parked, or claimed by a dead worker).",
}


def register(app: typer.Typer) -> None:
    for verb, help_text in _HELP.items():
        app.command(verb, help=help_text, rich_help_panel="Reviewer")(_command(verb))


def _command(verb: str):
    """One reviewer command; the three differ only in the action they apply."""

    def command(
        ctx: typer.Context,
        runs: RunsArgument = None,
        reason: ReasonOption = None,
        actor: ActorOption = None,
        all_matching: AllMatchingOption = False,
        yes: YesOption = False,
        force: ForceOption = False,
        status: StatusOption = "needs_attention",
        task: TaskOption = None,
        workspace: WorkspaceFilter = None,
        worker: WorkerFilter = None,
        search: SearchOption = None,
        db: DbOption = None,
        json_mode: JsonOption = False,
    ) -> None:
        _review(
            ctx,
            verb,
            runs=runs,
            reason=reason,
            actor=actor,
            all_matching=all_matching,
            yes=yes,
            force=force,
            status=status,
            task=task,
            workspace=workspace,
            worker=worker,
            search=search,
            db=db,
            json_mode=json_mode,
        )

    command.__name__ = verb
    return command


def _review(
    ctx: typer.Context,
    verb: str,
    *,
    runs: list[int] | None,
    reason: str | None,
    actor: str | None,
    all_matching: bool,
    yes: bool,
    force: bool,
    status: str,
    task: int | None,
    workspace: str | None,
    worker: str | None,
    search: str | None,
    db: str | None,
    json_mode: bool,
) -> None:
    from parkbench.core import inputs
    from parkbench.core.lifecycle import Action
    from parkbench.core.store import default_actor

    opts = cli(ctx, db, json_mode)
    run_ids = list(runs or [])
    filtered = (
        task is not None or workspace or worker or search or status != "needs_attention"
    )
    if run_ids and all_matching:
        raise ValidationError(
            "pass run ids or --all-matching, not both",
            hint=f"e.g. `parkbench {verb} 12 13 --reason ...` "
            f"or `parkbench {verb} --all-matching --search TEXT --reason ...`",
        )
    if not run_ids and not all_matching:
        raise ValidationError(
            f"name the runs to {verb}, or use --all-matching with filters",
            hint=f'e.g. `parkbench {verb} 12 --reason "..."`; find runs with `parkbench list`',
        )
    if filtered and not all_matching:
        raise ValidationError(
            "--status/--task/--workspace/--worker/--search select runs only with --all-matching",
            hint=f"add --all-matching, or drop the filters and name the runs to {verb}",
        )
    why = inputs.reason(reason)  # refuse a blank reason before asking anything
    who = inputs.name("actor", actor or default_actor())
    action = Action(verb)
    matched: int | None = None
    with opts.open_store() as store:
        expected: dict[int, Expectation] | None = None
        if all_matching:
            chosen = run_filter(status, task, workspace, worker, search)
            expected = _snapshot(store, chosen)
            run_ids = list(expected)
            matched = len(run_ids)
            if not opts.json:
                output.note(f"{matched} run(s) match")
            if matched > 1 and not yes:
                _confirm(verb, matched)
        else:
            # Named runs: act only on the status and version read now, so a run that moves
            # before the write comes back as `conflict` instead of being acted on blindly.
            expected = _current(store, run_ids)
        results = store.review(
            action, run_ids, reason=why, actor=who, expected=expected, force=force
        )
    failed = [r for r in results if not r.ok]
    if opts.json:
        document: dict[str, object] = {
            "action": verb,
            "actor": who,
            "ok": len(results) - len(failed),
            "failed": len(failed),
            "results": [r.to_dict() for r in results],
        }
        if matched is not None:
            document["matched"] = matched
        output.emit_json(document)
    else:
        _print_results(verb, results)
    if failed:
        raise typer.Exit(_report_failures(verb, results, failed, json_mode=opts.json))


def _report_failures(
    verb: str, results: list[ActionResult], failed: list[ActionResult], *, json_mode: bool
) -> int:
    """Bulk ends like any failing command: one error object on stderr, a non-zero exit.

    The code is that of the most severe failure (highest exit status, so not_found outranks
    the 3s); the per-run errors stay in the results on stdout and in ``details``.
    """
    worst = max(failed, key=lambda r: EXIT_CODES.get(r.error.code, 1) if r.error else 1)
    code = worst.error.code if worst.error else "internal"
    first = f"run {worst.run_id}: {worst.error.message}" if worst.error else ""
    return output.report(
        code,
        f"{len(failed)} of {len(results)} runs could not be {_PAST[verb]}; e.g. {first}",
        worst.error.hint if worst.error else "",
        EXIT_CODES.get(code, 1),
        json_mode=json_mode,
        details={
            "failed": [
                {"run_id": r.run_id, "code": r.error.code if r.error else "internal"}
                for r in failed
            ]
        },
    )


def _snapshot(store: Store, chosen: RunFilter) -> dict[int, Expectation]:
    """Every matching run with the status and version it has now (keyset-paged)."""
    from parkbench.core.records import Expectation
    from parkbench.core.store.queries import MAX_PAGE

    seen: dict[int, Expectation] = {}
    cursor: str | None = None
    while True:
        page = store.list_runs(chosen, limit=MAX_PAGE, after=cursor)
        for row in page.rows:
            seen[row.id] = Expectation(row.status, row.version)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def _current(store: Store, run_ids: list[int]) -> dict[int, Expectation]:
    """The status and version each named run has now (a missing run has none: not_found)."""
    from parkbench.core.lifecycle import RunStatus
    from parkbench.core.records import Expectation, RunFilter
    from parkbench.core.store.queries import matching_versions

    chosen = RunFilter(status=None, run_ids=tuple(run_ids))
    rows = store.read(lambda conn: matching_versions(conn, chosen))
    return {run_id: Expectation(RunStatus(status), version) for run_id, status, version in rows}


def _confirm(verb: str, count: int) -> None:
    if not sys.stdin.isatty():
        raise ValidationError(
            f"{count} runs match; refusing to {verb} more than one run without --yes",
            hint="check them with `parkbench list` (same filters), then add --yes",
        )
    if not typer.confirm(f"{verb} {count} runs?", default=False, err=True):
        raise ValidationError(
            f"not confirmed: no run was changed ({verb} of {count} runs declined)",
            hint="answer y to proceed, or pass --yes",
        )


def _print_results(verb: str, results: list[ActionResult]) -> None:
    failed = [r for r in results if not r.ok]
    shown = results if len(results) <= TABLE_LIMIT else failed[:TABLE_LIMIT]
    if shown:
        grid = output.table("RUN", "RESULT", "STATUS", "NEW RUN", "DETAIL", flexible=("DETAIL",))
        for result in shown:
            grid.add_row(
                str(result.run_id),
                "ok" if result.ok else f"error[{result.error.code if result.error else '?'}]",
                result.status.value if result.status else "-",
                str(result.new_run_id) if result.new_run_id else "-",
                output.text(result.error.message if result.error else "", 160),
            )
        output.console().print(grid)
    output.print_lines(
        [f"{verb}: {len(results) - len(failed)} ok, {len(failed)} failed of {len(results)}"]
    )
