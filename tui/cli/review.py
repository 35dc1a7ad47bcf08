"""Reviewer commands: ``requeue``, ``fail`` and ``release`` on one run, many, or a filter.

Each run is acted on in its own transaction and gets its own result; one bad run never
stops the others, and the exit status says whether any failed. ``--all-matching`` takes
the same filters as ``list``, shows how many runs match, and acts only on runs still in
the state (and version) they had when they were counted: anything that moved meanwhile
comes back as ``conflict``. Acting on more than one run needs ``--yes`` or, on a terminal,
a typed confirmation.
"""

from __future__ import annotations

import contextlib
import inspect
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
    from parkbench.core.records import Expectation
    from parkbench.core.store import Store
    from parkbench.tui.cli.bulk import Outcomes

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
        "--actor",
        metavar="NAME",
        help="Reviewer name (default: the OS user).",
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

PriorityOption = Annotated[
    int | None,
    typer.Option(
        "--priority",
        metavar="N",
        help="The new attempt's priority (default: the run's; higher runs first; recorded).",
        show_default=False,
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
        priority: PriorityOption = None,
    ) -> None:
        _review(
            ctx,
            verb,
            priority=priority,
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
    if verb != "requeue":  # only a requeue creates a new attempt to prioritise
        signature = inspect.signature(command, eval_str=True)
        command.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p for p in signature.parameters.values() if p.name != "priority"]
        )
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
    priority: int | None = None,
) -> None:
    from parkbench.core import inputs
    from parkbench.core.lifecycle import Action
    from parkbench.core.store import default_actor

    opts = cli(ctx, db, json_mode)
    run_ids = list(runs or [])
    filtered = task is not None or workspace or worker or search or status != "needs_attention"
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
    if priority is not None:
        inputs.priority(priority)
    action = Action(verb)
    from parkbench.tui.cli import bulk  # loads the store's read side: only when acting

    matched: bulk.Matched | None = None
    with opts.open_store() as store, contextlib.ExitStack() as spools:
        if all_matching:
            chosen = run_filter(status, task, workspace, worker, search)
            matched = bulk.Matched.read(store, chosen)
            spools.callback(matched.close)
            if not opts.json:
                output.note(f"{matched.count} run(s) match")
            if matched.count > 1 and not yes:
                _confirm(verb, matched.count)
            batches = matched.batches()
            total = matched.count
        else:
            # Named runs: act only on the status and version read now, so a run that moves
            # before the write comes back as `conflict` instead of being acted on blindly.
            batches = ((batch, _current(store, batch)) for batch, _ in bulk.id_batches(run_ids))
            total = len(dict.fromkeys(run_ids))
        outcomes = bulk.Outcomes(total, table_limit=TABLE_LIMIT, json_mode=opts.json)
        spools.callback(outcomes.close)
        for batch, expected in batches:
            outcomes.add(
                store.review(
                    action,
                    batch,
                    reason=why,
                    actor=who,
                    expected=expected,
                    force=force,
                    priority=priority,
                )
            )
        if opts.json:
            tail = {"matched": matched.count} if matched is not None else {}
            head = {"action": verb, "actor": who, "ok": outcomes.ok, "failed": outcomes.failed}
            outcomes.emit_json(head, tail)
    if not opts.json:
        _print_results(verb, outcomes)
    if outcomes.failed:
        raise typer.Exit(_report_failures(verb, outcomes, json_mode=opts.json))


def _report_failures(verb: str, outcomes: Outcomes, *, json_mode: bool) -> int:
    """Bulk ends like any failing command: one error object on stderr, a non-zero exit.

    The code is that of the most severe failure (highest exit status, so not_found outranks
    the 3s); the per-run errors stay in the results on stdout and in ``details``.
    """
    worst = outcomes.worst
    error = worst.error if worst else None
    code = error.code if error else "internal"
    first = f"run {worst.run_id}: {error.message}" if worst and error else ""
    return output.report(
        code,
        f"{outcomes.failed} of {outcomes.count} runs could not be {_PAST[verb]}; e.g. {first}",
        error.hint if error else "",
        EXIT_CODES.get(code, 1),
        json_mode=json_mode,
        details={
            "failed": [{"run_id": run_id, "code": code} for run_id, code in outcomes.failures]
        },
    )


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


def _print_results(verb: str, outcomes: Outcomes) -> None:
    if outcomes.shown:
        grid = output.table("RUN", "RESULT", "STATUS", "NEW RUN", "DETAIL", flexible=("DETAIL",))
        for result in outcomes.shown:
            grid.add_row(
                str(result.run_id),
                "ok" if result.ok else f"error[{result.error.code if result.error else '?'}]",
                result.status.value if result.status else "-",
                str(result.new_run_id) if result.new_run_id else "-",
                output.text(result.error.message if result.error else "", 160),
            )
        output.console().print(grid)
    output.print_lines([f"{verb}: {outcomes.ok} ok, {outcomes.failed} failed of {outcomes.count}"])
