"""Worker commands: ``enqueue`` and ``lease claim|heartbeat|complete|fail|release|block``.

These run in tight loops inside agents and CI jobs, so they print little, import little,
and speak JSON with ``--json``. ``lease claim`` is the only command anywhere that prints a
raw claim token; the others take it back through ``--token``, ``$PARKBENCH_TOKEN`` or stdin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

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
from parkbench.tui.textsafe import safe_text

if TYPE_CHECKING:
    from parkbench.core.lifecycle import RunStatus
    from parkbench.core.store import Store

T = TypeVar("T")

lease_app = typer.Typer(
    name="lease",
    help="Worker side of a lease: claim work, keep it alive, finish it.",
    no_args_is_help=True,
)

ReasonOption = Annotated[
    str, typer.Option("--reason", metavar="TEXT", help="Why (required; shown to reviewers).")
]


def register(app: typer.Typer) -> None:
    app.command("enqueue", rich_help_panel="Worker")(enqueue)
    app.add_typer(lease_app, rich_help_panel="Worker")


def _contract_metadata(
    metadata: str | None, require: list[str], missing_policy: str | None
) -> dict[str, object]:
    """--metadata merged with the contract given by --require / --missing-policy."""
    from parkbench.core import inputs

    merged = inputs.json_object("metadata", metadata)
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
    title: Annotated[str, typer.Argument(metavar="TITLE", help="What the task is.")],
    workspace: Annotated[
        str, typer.Option("--workspace", metavar="DIR", help="Workspace root (must exist).")
    ],
    priority: Annotated[int, typer.Option(help="Higher runs first.")] = 0,
    max_attempts: Annotated[int, typer.Option(help="Attempts before a failure is final.")] = 3,
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
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Create a task and its first queued run."""
    opts = cli(ctx, db, json_mode)
    if missing_policy is not None and missing_policy.strip().lower() not in ("reject", "park"):
        raise ValidationError(
            f"--missing-policy must be reject or park, got {missing_policy!r}",
            hint="use --missing-policy reject or --missing-policy park",
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
    lease_until = output.iso(claimed.lease_until_ms)
    if opts.json:
        output.emit_json(
            {
                "run_id": claimed.run_id,
                "task_id": claimed.task_id,
                "attempt": claimed.attempt,
                "claim_token": claimed.claim_token,
                "lease_until": lease_until,
            }
        )
        return
    output.print_lines(
        [
            f"claimed run {claimed.run_id} (task {claimed.task_id}, attempt {claimed.attempt})"
            f" until {lease_until}",
            f"claim_token: {claimed.claim_token}",
        ]
    )


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
