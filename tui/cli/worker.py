"""Worker commands: ``enqueue`` and ``lease claim|heartbeat|complete|fail|release|block``.

These run in tight loops inside agents and CI jobs, so they print little, import little,
and speak JSON with ``--json``. ``lease claim`` is the only command anywhere that prints a
raw claim token; the others take it back through ``--token``, ``$PARKBENCH_TOKEN`` or stdin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from parkbench.core.errors import ValidationError
from parkbench.tui.cli import output
from parkbench.tui.cli.common import (
    Cli,
    DbOption,
    JsonOption,
    LeaseOption,
    RunArgument,
    TokenOption,
    cli,
    read_token,
)
from parkbench.tui.cli.help import sub_app
from parkbench.tui.textsafe import one_line, safe_text

if TYPE_CHECKING:
    from parkbench.core.lifecycle import RunStatus
    from parkbench.core.records import Claim
    from parkbench.core.store import Store
    from parkbench.tui.cli.enqueue_file import LineError

T = TypeVar("T")

lease_app = sub_app("lease", "Worker side of a lease: claim work, keep it alive, finish it.")

ReasonOption = Annotated[
    str, typer.Option("--reason", metavar="TEXT", help="Why (required; shown to reviewers).")
]


def register(app: typer.Typer) -> None:
    app.command("enqueue", rich_help_panel="Worker")(enqueue)
    app.add_typer(lease_app, rich_help_panel="Worker")


def _contract_metadata(
    metadata: object, require: list[str], missing_policy: str | None
) -> dict[str, object]:
    """--metadata merged with the contract given by --require / --missing-policy."""
    from parkbench.core import inputs

    merged = inputs.json_object("metadata", metadata)  # type: ignore[arg-type]
    if not require and missing_policy is None:
        return merged
    contract = merged.setdefault("completion_contract", {})
    if not isinstance(contract, dict):
        raise ValidationError(
            "completion_contract in --metadata must be a JSON object to combine with --require",
            hint="put the paths in one place: --require PATH or the metadata's contract",
        )
    if require:
        existing = contract.get("required_paths", [])
        if not isinstance(existing, list):
            raise ValidationError(
                "completion_contract.required_paths must be a list",
                hint='e.g. {"required_paths": ["receipts/ok.txt"]}',
            )
        contract["required_paths"] = [*existing, *require]
    if missing_policy is not None:
        contract["missing_policy"] = missing_policy
    return merged


def enqueue(
    ctx: typer.Context,
    title: Annotated[
        str | None,
        typer.Argument(metavar="TITLE", help="What the task is.", show_default=False),
    ] = None,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace", metavar="DIR", help="Workspace root (must exist).", show_default=False
        ),
    ] = None,
    priority: Annotated[int, typer.Option(metavar="N", help="Higher runs first.")] = 0,
    max_attempts: Annotated[
        int, typer.Option(metavar="N", help="Attempts before a failure is final.")
    ] = 3,
    require: Annotated[
        list[str] | None,
        typer.Option(
            "--require",
            metavar="PATH",
            help="A receipt that must exist (relative to the workspace) before completion. "
            "Repeatable.",
        ),
    ] = None,
    missing_policy: Annotated[
        str | None,
        typer.Option(
            "--missing-policy",
            metavar="reject|park",
            help="Completing without the receipts: reject (default) or park for a reviewer.",
        ),
    ] = None,
    metadata: Annotated[
        str | None, typer.Option("--metadata", metavar="JSON", help="Task metadata object.")
    ] = None,
    from_file: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="FILE",
            help="Enqueue every task of a JSON-lines file (- for stdin), one object per line "
            "with the fields of these options; all or nothing. Options are the defaults.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Create a task and its first queued run (or a whole file of them with --from)."""
    opts = cli(ctx, db, json_mode)
    if missing_policy is not None and missing_policy.strip().lower() not in ("reject", "park"):
        raise ValidationError(
            f"--missing-policy must be reject or park, got {missing_policy!r}",
            hint="use --missing-policy reject or --missing-policy park",
        )
    if from_file is not None:
        _enqueue_file(
            opts,
            from_file,
            title,
            workspace,
            priority,
            max_attempts,
            require,
            missing_policy,
            metadata,
        )
        return
    if title is None or workspace is None:
        raise ValidationError(
            "a TITLE and --workspace are required",
            hint='parkbench enqueue "Write the summary" --workspace DIR (or --from FILE)',
        )
    task_metadata = _contract_metadata(metadata, require or [], missing_policy)
    with opts.open_store(create=True) as store:  # the first enqueue makes the database
        enqueued = store.enqueue(
            title,
            workspace,
            priority=priority,
            max_attempts=max_attempts,
            metadata=task_metadata,
        )
    if opts.json:
        output.emit_json({"task_id": enqueued.task_id, "run_id": enqueued.run_id})
    else:
        output.print_lines([f"enqueued task {enqueued.task_id} as run {enqueued.run_id}"])


def _enqueue_file(
    opts: Cli,
    path: str,
    title: str | None,
    workspace: str | None,
    priority: int,
    max_attempts: int,
    require: list[str] | None,
    missing_policy: str | None,
    metadata: str | None,
) -> None:
    import sys

    from parkbench.core.store import NewTask
    from parkbench.core.store.enqueue import invalid_tasks
    from parkbench.tui.cli.enqueue_file import LineError, read_tasks

    if title is not None:
        raise ValidationError(
            "TITLE and --from are exclusive: the titles come from the file",
            hint="put the title in each line of the file",
        )
    defaults = NewTask(
        title="",
        workspace=workspace or "",
        priority=priority,
        max_attempts=max_attempts,
        metadata=_contract_metadata(metadata, require or [], missing_policy),
    )
    try:
        if path == "-":
            new_tasks, numbers, errors = read_tasks(
                sys.stdin, defaults=defaults, merge_contract=_contract_metadata
            )
        else:
            with open(path, encoding="utf-8") as lines:
                new_tasks, numbers, errors = read_tasks(
                    lines, defaults=defaults, merge_contract=_contract_metadata
                )
    except (OSError, UnicodeDecodeError) as error:
        raise ValidationError(
            f"cannot read {path}: {error}", hint="pass a readable JSON-lines file, or - for stdin"
        ) from None
    if errors:  # report the core's objections to the other lines too, all at once
        total = len(new_tasks) + len(errors)
        errors += [
            LineError(numbers[int(str(e["index"]))], str(e["message"]))
            for e in invalid_tasks(new_tasks)
        ]
        errors.sort(key=lambda e: e.line)
        _report_line_errors(errors, total, path, opts.json)
    with opts.open_store(create=True) as store:  # like a single enqueue, it may create it
        try:
            enqueued = store.enqueue_many(new_tasks)
        except ValidationError as error:  # the core's checks (workspace, contract, ranges)
            found = error.details.get("errors")
            if not isinstance(found, list):
                raise
            line_errors = [LineError(numbers[int(e["index"])], str(e["message"])) for e in found]
            _report_line_errors(line_errors, len(new_tasks), path, opts.json)
    if opts.json:
        output.emit_json(
            {
                "enqueued": len(enqueued),
                "tasks": [{"task_id": e.task_id, "run_id": e.run_id} for e in enqueued],
            }
        )
    elif enqueued:
        output.print_lines(
            [f"enqueued {len(enqueued):,} tasks as runs {enqueued[0].run_id}-{enqueued[-1].run_id}"]
        )
    else:
        output.print_lines(["enqueued nothing: the file has no tasks"])


def _report_line_errors(
    errors: list[LineError], total: int, path: str, json_mode: bool
) -> NoReturn:
    if not json_mode:
        for error in errors[:50]:
            output.note(f"{path}:{error.line}: {safe_text(error.message, 300)}")
        if len(errors) > 50:
            output.note(f"... and {len(errors) - 50:,} more")
    first = errors[0]
    raise ValidationError(
        f"{len(errors):,} of {total:,} lines are invalid, nothing was enqueued; "
        f"line {first.line}: {first.message}",
        hint=f"fix the lines of {path} listed, then run the same command again",
        errors=[e.to_dict() for e in errors],
    )


@lease_app.command("claim")
def claim(
    ctx: typer.Context,
    worker: Annotated[str, typer.Option("--worker", metavar="NAME", help="Who is claiming.")],
    lease: LeaseOption = None,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Lease the next queued run (highest priority, then oldest); prints its token once."""
    opts = cli(ctx, db, json_mode)
    with opts.open_store() as store:
        claimed = store.claim_next(worker, lease_s=lease)
    if claimed is None:
        if opts.json:
            output.emit_json(None)
        else:
            output.note("nothing to claim: no queued runs")
        return
    if opts.json:
        output.emit_json(claimed.to_dict())
        return
    output.print_lines(_claim_lines(claimed))


def _claim_lines(claimed: Claim) -> list[str]:
    """The claim for a person: the lease, the task, and what the reviewer said (if anything)."""
    lines = [
        f"claimed run {claimed.run_id} (task {claimed.task_id}, attempt {claimed.attempt}"
        f" of {claimed.max_attempts}) until {output.iso(claimed.lease_until_ms)}",
        f"claim_token: {claimed.claim_token}",
        f"task: {one_line(claimed.task.title)}",
        f"workspace: {one_line(claimed.task.workspace)}",
    ]
    if claimed.contract.required:
        required = ", ".join(one_line(p) for p in claimed.contract.required)
        lines.append(f"receipts required: {required}")
    handoff = claimed.handoff
    if handoff is not None:
        stopped = handoff.stopped
        lines.append(
            f"continues run {handoff.previous_run_id} (attempt {handoff.previous_attempt},"
            f" {handoff.previous_status})" + ("" if stopped is None else f": {stopped.why}")
        )
        if stopped is not None and stopped.reason:
            lines.append(f"  why: {one_line(stopped.reason)}")
        if handoff.decision is not None:
            decision = handoff.decision
            lines.append(
                f"  {decision.action} by {one_line(decision.reviewer)}"
                f" at {output.iso(decision.at_ms)}: {one_line(decision.text or '')}"
            )
    return lines


@lease_app.command("heartbeat")
def heartbeat(
    ctx: typer.Context,
    run: RunArgument,
    token: TokenOption = None,
    lease: LeaseOption = None,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Extend the lease on a claimed run."""
    opts = cli(ctx, db, json_mode)
    secret = read_token(token)
    with opts.open_store() as store:
        until = store.heartbeat(run, secret, lease_s=lease)
    _done(
        opts.json,
        {"run_id": run, "status": "claimed", "lease_until": output.iso(until)},
        f"run {run} leased until {output.iso(until)}",
    )


@lease_app.command("complete")
def complete(
    ctx: typer.Context,
    run: RunArgument,
    token: TokenOption = None,
    result: Annotated[
        str | None, typer.Option("--result", metavar="JSON", help="The run's result (JSON).")
    ] = None,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Complete a claimed run (its receipts must exist, per its contract)."""
    opts, done = _fenced(
        ctx, db, json_mode, token, lambda store, secret: store.complete(run, secret, result=result)
    )
    missing = list(done.missing)
    human = f"run {run} is {done.status.value}"
    if missing:
        human += " (missing receipts: " + ", ".join(safe_text(p, 200) for p in missing) + ")"
    _done(opts.json, {"run_id": run, "status": done.status.value, "missing": missing}, human)


@lease_app.command("fail")
def fail(
    ctx: typer.Context,
    run: RunArgument,
    reason: ReasonOption,
    token: TokenOption = None,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Fail this attempt: retried while attempts remain, else failed."""
    opts, status = _fenced(
        ctx, db, json_mode, token, lambda store, secret: store.fail(run, secret, reason=reason)
    )
    _moved(opts, run, status)


@lease_app.command("release")
def release(
    ctx: typer.Context,
    run: RunArgument,
    token: TokenOption = None,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Give the run back to the queue without a verdict."""
    opts, status = _fenced(
        ctx, db, json_mode, token, lambda store, secret: store.release(run, secret)
    )
    _moved(opts, run, status)


@lease_app.command("block")
def block(
    ctx: typer.Context,
    run: RunArgument,
    reason: ReasonOption,
    token: TokenOption = None,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Park the run for a human reviewer, with a reason."""
    opts, status = _fenced(
        ctx, db, json_mode, token, lambda store, secret: store.block(run, secret, reason=reason)
    )
    _moved(opts, run, status)


def _fenced(
    ctx: typer.Context,
    db: str | None,
    json_mode: bool,
    token: str | None,
    move: Callable[[Store, str], T],
) -> tuple[Cli, T]:
    """Run one token-fenced ``move`` (store, secret) with the token from wherever it came."""
    opts = cli(ctx, db, json_mode)
    secret = read_token(token)
    with opts.open_store() as store:
        return opts, move(store, secret)


def _moved(opts: Cli, run: int, status: RunStatus) -> None:
    _done(opts.json, {"run_id": run, "status": status.value}, f"run {run} is {status.value}")


def _done(json_mode: bool, document: dict[str, object], human: str) -> None:
    if json_mode:
        output.emit_json(document)
    else:
        output.print_lines([human])
