"""Options every command shares, and the small context each command runs in.

``--db`` and ``--json`` are accepted both before the command (``parkbench --db X list``) and
on it (``parkbench list --db X``); the command's own value wins, then the global one, then
``PARKBENCH_DB`` (read by :func:`parkbench.core.db.engine.resolve_url`), then ``--profile``
and the config file (:mod:`parkbench.tui.cli.config`), then the default file.

Nothing heavy is imported at module level: :mod:`parkbench.core.store` pulls in SQLAlchemy and is
loaded only by commands that open the database.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from parkbench.core.errors import ValidationError
from parkbench.tui.cli.config import DbChoice, choose_db

if TYPE_CHECKING:
    from parkbench.core.store import Store

TOKEN_ENV = "PARKBENCH_TOKEN"

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        help="Database: a SQLAlchemy URL or a SQLite file path "
        "(default: $PARKBENCH_DB, else --profile or the config file's db, else the file "
        "in the user data directory).",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print exactly one JSON document on stdout (for programs)."),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        metavar="TOKEN",
        help=f"The claim token from `lease claim`; or set ${TOKEN_ENV}; "
        "or pass - to read it from stdin (keeps it out of the process list).",
        show_default=False,
    ),
]
LeaseOption = Annotated[
    float | None,
    typer.Option("--lease", metavar="SECONDS", help="Lease length (default 300, max 86400)."),
]
RunArgument = Annotated[int, typer.Argument(metavar="RUN", help="Run id.", show_default=False)]


@dataclass
class Globals:
    """What the root callback parsed: defaults for every command."""

    db: str | None = None
    json: bool = False
    profile: str | None = None


#: Set by whichever command runs, so the error handler knows the output mode it parsed.
ACTIVE: dict[str, bool] = {}


@dataclass
class Cli:
    """One command's view of the options: where the database is, which output mode."""

    db: str | None
    json: bool
    #: How ``db`` was chosen (tui/cli/config.py): --db, PARKBENCH_DB, profile, config, default.
    choice: DbChoice | None = None

    def open_store(self, *, reads_only: bool = False, create: bool = False) -> Store:
        """Open the database; a command that only reads falls back to a read-only open.

        Only ``create=True`` (``enqueue``, ``demo``, the review app once it has said so) may
        create a database: every other command on a path with none ends in ``not_found``
        and leaves nothing behind, so a mistyped ``--db`` is reported, not made.

        A read-only file, directory or mount cannot be opened for writing (SQLite wants to
        create its -wal/-shm files, an older schema would be migrated): `list`, `show` and
        `stats` still browse it through ``Store.open(read_only=True)``. If that fails too,
        the first error, the more telling one, is reported.
        """
        from parkbench.core.errors import DatabaseError
        from parkbench.core.store import Store

        try:
            return Store.open(self.db, create=create)
        except DatabaseError as error:
            if not reads_only:
                raise
            try:
                return Store.open(self.db, read_only=True)
            except DatabaseError:
                raise error from None


def cli(ctx: typer.Context, db: str | None, json_mode: bool) -> Cli:
    root = ctx.find_root().obj
    globals_ = root if isinstance(root, Globals) else Globals()
    choice = choose_db(db or globals_.db, globals_.profile)
    logging.getLogger("parkbench.tui.cli").info(
        "database chosen by %s%s (config file: %s)",
        choice.source,
        f" {choice.profile}" if choice.profile else "",
        choice.config or "none read",
    )
    resolved = Cli(db=choice.db, json=json_mode or globals_.json, choice=choice)
    ACTIVE["json"] = resolved.json
    return resolved


def read_token(value: str | None) -> str:
    """The claim token from ``--token``, ``$PARKBENCH_TOKEN`` or stdin (``--token -``)."""
    if value is None:
        value = os.environ.get(TOKEN_ENV)
    if value == "-":
        value = sys.stdin.readline()
    token = (value or "").strip()
    if not token:
        raise ValidationError(
            "a claim token is required",
            hint=f"pass --token TOKEN, set {TOKEN_ENV}, or pipe it in with --token -",
        )
    return token


#: Year ~5138 in milliseconds: anything larger is a typo, not a time.
MAX_EPOCH_MS = 1e14


def parse_time_ms(value: str, option: str = "--now") -> int:
    """ISO-8601 (a naive time is UTC) or epoch seconds -> epoch milliseconds."""
    from datetime import UTC, datetime

    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        # nan, inf and absurd magnitudes are not instants: refuse them like any bad value.
        if not math.isfinite(number) or abs(number) >= MAX_EPOCH_MS:
            raise ValidationError(
                f"{option} {value!r} is not a usable time",
                hint=f"e.g. {option} 2026-09-01T12:00:00Z or {option} 1788264000",
            )
        # Epoch seconds; a 13-digit number is unambiguously milliseconds.
        return int(number) if abs(number) >= 1e11 else int(number * 1000)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"{option} {value!r} is not an ISO-8601 time or an epoch number",
            hint=f"e.g. {option} 2026-09-01T12:00:00Z or {option} 1788264000",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


# -- the filters `list` and the bulk reviewer commands share ------------------------------

STATUS_ALL = "all"

StatusOption = Annotated[
    str,
    typer.Option(
        "--status",
        metavar="STATUS",
        help="needs_attention (default), queued, claimed, completed, failed, canceled, "
        "requeued, or all.",
    ),
]
TaskOption = Annotated[int | None, typer.Option("--task", metavar="ID", help="Only this task.")]
WorkspaceFilter = Annotated[
    str | None,
    typer.Option("--workspace", metavar="DIR", help="Only this workspace (root path or name)."),
]
WorkerFilter = Annotated[
    str | None, typer.Option("--worker", metavar="NAME", help="Only runs of this worker.")
]
SearchOption = Annotated[
    str | None,
    typer.Option(
        "--search", metavar="TEXT", help="Substring of title, reason, worker or workspace."
    ),
]


def run_filter(
    status: str,
    task: int | None,
    workspace: str | None,
    worker: str | None,
    search: str | None,
):  # -> parkbench.core.records.RunFilter (imported lazily: it pulls in SQLAlchemy)
    from parkbench.core.lifecycle import RunStatus
    from parkbench.core.records import RunFilter

    wanted = status.strip().lower()
    if wanted == STATUS_ALL:
        chosen = None
    else:
        try:
            chosen = RunStatus(wanted)
        except ValueError:
            names = ", ".join([*(s.value for s in RunStatus), STATUS_ALL])
            raise ValidationError(
                f"unknown status {status!r}", hint=f"use --status one of: {names}"
            ) from None
    return RunFilter(status=chosen, task_id=task, workspace=workspace, worker=worker, search=search)
