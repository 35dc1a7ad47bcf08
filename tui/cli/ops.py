"""Operations: ``recover`` (expired-lease sweep), ``db upgrade``, ``db path``, ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from parkbench.core.errors import ValidationError
from parkbench.tui.cli import output
from parkbench.tui.cli.common import DbOption, JsonOption, cli, parse_time_ms
from parkbench.tui.cli.help import sub_app
from parkbench.tui.textsafe import safe_text

db_app = sub_app("db", "Where the database is, and its schema.")

NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        metavar="TS",
        help="The instant to use: ISO-8601 (e.g. 2026-09-01T12:00:00Z) or epoch seconds.",
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    app.command("recover", rich_help_panel="Operations")(recover)
    app.add_typer(db_app, rich_help_panel="Operations")
    app.command("demo", rich_help_panel="Operations")(demo)


#: How far ``recover --now`` may be ahead of the database clock without ``--force``: room
#: for clocks a little apart, not for a sweep that expires every lease still live.
MAX_NOW_AHEAD_MS = 60_000


def recover(
    ctx: typer.Context,
    now: NowOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Sweep as of a --now more than a minute ahead of the database clock "
            "(expires leases that are still live).",
        ),
    ] = False,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Sweep expired leases: requeue runs with attempts left, park the rest."""
    opts = cli(ctx, db, json_mode)
    at = parse_time_ms(now) if now is not None else None
    with opts.open_store() as store:
        if at is not None and not force:
            _refuse_far_future(at, store.clock(), now or "")
        recovered = store.recover_expired(now=at)
    if opts.json:
        output.emit_json(
            {
                "requeued": list(recovered.requeued),
                "parked": list(recovered.parked),
                "runtime_parked": list(recovered.runtime_parked),
                "total": recovered.total,
            }
        )
        return
    output.print_lines(
        [
            f"recovered {recovered.total} run(s): {len(recovered.requeued)} requeued, "
            f"{len(recovered.parked)} parked (no attempts left), "
            f"{len(recovered.runtime_parked)} parked (max runtime)"
        ]
    )


def _refuse_far_future(at: int, clock_ms: int, given: str) -> None:
    ahead_ms = at - clock_ms
    if ahead_ms <= MAX_NOW_AHEAD_MS:
        return
    raise ValidationError(
        f"--now {given!r} is {_duration(ahead_ms)} ahead of the database clock "
        f"({output.iso(clock_ms)}): sweeping as of then would expire leases that are live now",
        hint="leave --now out to sweep as of the database clock, pass a time at most 60 s "
        "ahead, or add --force to sweep as of that time anyway",
        ahead_ms=ahead_ms,
    )


def _duration(ms: int) -> str:
    seconds = ms // 1000
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds} s"


@db_app.command("path")
def db_path(ctx: typer.Context, db: DbOption = None, json_mode: JsonOption = False) -> None:
    """Print which database the other commands would use (the password hidden)."""
    import sqlalchemy as sa

    from parkbench.core.db.engine import redact_url, resolve_url

    opts = cli(ctx, db, json_mode)
    url = resolve_url(opts.db, make_default_dir=False)  # it only says where; creates nothing
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise ValidationError(
            "malformed database URL",
            hint="use e.g. sqlite:///path/to/parkbench.db or postgresql+psycopg://user@host/db",
        ) from None
    backend = parsed.get_backend_name()
    path = parsed.database if backend == "sqlite" and parsed.database else None
    choice = opts.choice
    config = choice.config if choice else None
    document = {
        "url": redact_url(url),
        "backend": backend,
        "path": path,
        "exists": Path(path).exists() if path else None,
        # Why this database: --db, PARKBENCH_DB, profile, config or default.
        "source": choice.source if choice else "--db",
        "profile": choice.profile if choice else None,
        "config": str(config) if config else None,
    }
    if opts.json:
        output.emit_json(document)
    else:
        output.print_lines([safe_text(path or redact_url(url))])
        from parkbench.tui.cli.config import config_path

        chosen = f"profile {choice.profile}" if choice and choice.profile else document["source"]
        where = config or f"{config_path()} (absent)"
        output.note(f"chosen by: {chosen}; config file: {where}")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, db: DbOption = None, json_mode: JsonOption = False) -> None:
    """Create the schema, or migrate an older one to this version (never a newer one)."""
    from sqlalchemy.exc import DBAPIError

    from parkbench.core.db import schema
    from parkbench.core.db.engine import make_engine, redact_url, resolve_url, translate

    opts = cli(ctx, db, json_mode)
    url = resolve_url(opts.db)
    engine = make_engine(url)
    try:
        before = schema.current_revision(engine)
        after = schema.ensure_schema(engine)
    except DBAPIError as error:
        raise translate(error, url) from None
    finally:
        engine.dispose()
    document = {
        "url": redact_url(url),
        "from_revision": before,
        "revision": after,
        "changed": before != after,
    }
    if opts.json:
        output.emit_json(document)
    elif before == after:
        output.print_lines([f"schema is current (revision {after})"])
    else:
        output.print_lines([f"schema upgraded from {before or 'nothing'} to revision {after}"])


def demo(
    ctx: typer.Context,
    workspace: Annotated[
        Path,
        typer.Option(
            "--workspace",
            metavar="DIR",
            help="Where the demo projects and their receipts go (created if missing).",
        ),
    ],
    runs: Annotated[int, typer.Option("--runs", metavar="N", help="How many runs.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", metavar="S", help="Same seed, same data.")] = 1,
    now: NowOption = None,
    append: Annotated[
        bool, typer.Option("--append", help="Add to a database that already has runs.")
    ] = False,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Fill the database with a realistic, deterministic data set (hostile text included)."""
    from parkbench.core import demo as demo_data

    opts = cli(ctx, db, json_mode)
    base = parse_time_ms(now) if now is not None else demo_data.DEMO_NOW_MS
    with opts.open_store(create=True) as store:
        existing = sum(store.counts_by_status().values())
        if existing and not append:
            raise ValidationError(
                f"the database already has {existing:,} runs; demo data goes into an empty one",
                hint="pass --db with a new file, or --append to add to this one",
            )
        summary = demo_data.generate(
            store.engine, runs=runs, seed=seed, workspace=workspace, now_ms=base
        )
    if opts.json:
        output.emit_json(summary.to_dict())
        return
    counts = ", ".join(f"{n:,} {s}" for s, n in summary.by_status.items() if n)
    output.print_lines(
        [
            f"demo: {summary.runs:,} runs in {len(summary.workspaces)} workspaces ({counts})",
            f"receipts written: {summary.receipts_written:,} under {safe_text(str(workspace))}",
            "next: parkbench list   (or `parkbench` for the review app)",
        ]
    )
