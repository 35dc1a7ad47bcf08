"""The ``parkbench`` command line: the worker, reviewer and scripting contract.

Layout: one module per command group, each exposing ``register(app: typer.Typer)``:
:mod:`parkbench.tui.cli.worker` (``enqueue``, ``lease ...``),
:mod:`parkbench.tui.cli.review` (``requeue``, ``fail``, ``release``),
:mod:`parkbench.tui.cli.notes` (``note``),
:mod:`parkbench.tui.cli.undo` (``undo-requeue``),
:mod:`parkbench.tui.cli.read` (``list``, ``show``, ``stats``) and
:mod:`parkbench.tui.cli.ops` (``recover``, ``db ...``, ``demo``).
:mod:`parkbench.tui.cli.output` renders JSON, tables and the error envelope;
:mod:`parkbench.tui.cli.common` holds the shared options, :mod:`parkbench.tui.cli.config`
the config file and its profiles, :mod:`parkbench.tui.cli.help` the help pages and what a
group does without a subcommand, :mod:`parkbench.tui.cli.examples` each command's examples.

Every command is loaded on demand: :data:`COMMANDS` maps each name to the module that
registers it, and only that module is imported and turned into click commands when the
command runs (``--help`` loads them all). A worker's ``lease claim`` thus pays for one
module, not twenty commands.

Adding a command from another feature (``watch``, ``snapshot``): create
``tui/cli/<name>.py`` with ``register(app: typer.Typer) -> None`` that adds exactly one
command called ``<name>``, and list it in :data:`LAZY_COMMANDS` (it is skipped while the
module does not exist). It may import Textual or watchfiles at the top.

Errors: every failure ends in :meth:`ParkbenchGroup.main`, which writes the envelope
(``{"error": {...}}`` on stderr with ``--json``, ``error[code]: ...`` without) and exits with
the stable code from :data:`parkbench.core.errors.EXIT_CODES`; usage errors (typer's
``TyperException`` family) are ``validation`` (2), anything unexpected is 1 with no
traceback unless ``PARKBENCH_DEBUG=1``. Only typer's public API is used (no private hooks).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from parkbench.core.errors import ParkbenchError, ValidationError
from parkbench.tui.cli import examples, output
from parkbench.tui.cli.common import ACTIVE, DbOption, Globals, JsonOption, cli
from parkbench.tui.cli.help import CliTyper, CommandGroup

#: Command name -> the module (in tui/cli/) that registers it, in help order.
COMMANDS: dict[str, str] = {
    "enqueue": "worker",
    "lease": "worker",
    "requeue": "review",
    "fail": "review",
    "release": "review",
    "note": "notes",
    "undo-requeue": "undo",
    "list": "read",
    "show": "read",
    "stats": "read",
    "recover": "ops",
    "db": "ops",
    "demo": "ops",
}
#: Commands other features add, each in tui/cli/<name>.py; absent modules are skipped.
LAZY_COMMANDS: tuple[str, ...] = ("watch", "snapshot", "work", "causes")


class ParkbenchGroup(CommandGroup):
    """The root command: commands built on demand, and where every error ends."""

    def list_commands(self, ctx: Any) -> list[str]:
        extra = [name for name in LAZY_COMMANDS if name not in COMMANDS and _present(name)]
        return [*COMMANDS, *extra]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        module = COMMANDS.get(cmd_name)
        if module is None and cmd_name in LAZY_COMMANDS and _present(cmd_name):
            module = cmd_name
        if module is None:
            return super().get_command(ctx, cmd_name)
        return _load(module).get(cmd_name)

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        code = run(self, argv, prog_name or "parkbench", complete_var, extra)
        if standalone_mode:
            sys.exit(code)
        return code


def run(
    command: TyperGroup,
    argv: list[str],
    prog_name: str,
    complete_var: str | None,
    extra: dict[str, Any],
) -> int:
    """Invoke the command tree; turn every outcome into an exit status (and envelope)."""
    ACTIVE.clear()
    output.reset_verbosity()
    try:
        result = super(ParkbenchGroup, command).main(  # type: ignore[misc]
            args=argv,
            prog_name=prog_name,
            complete_var=complete_var,
            standalone_mode=False,
            **extra,
        )
        return result if isinstance(result, int) and not isinstance(result, bool) else 0
    except ParkbenchError as error:
        return output.report_error(error, json_mode=_json_mode(argv))
    except typer.Abort:
        return output.report_usage(
            "aborted: no input", "run it on a terminal, or pass --yes", json_mode=_json_mode(argv)
        )
    except typer.TyperException as error:
        # Typer's usage errors (bad option, missing argument, unknown command) derive from it.
        return output.report_usage(
            error.format_message(),
            _usage_hint(error, prog_name),
            json_mode=_json_mode(argv),
        )
    except BrokenPipeError:
        _silence_stdout()
        return output.EXIT_UNEXPECTED
    except Exception as error:
        return output.report_unexpected(error, json_mode=_json_mode(argv))
    finally:
        output.reset_verbosity()


def _json_mode(argv: list[str]) -> bool:
    return ACTIVE.get("json", False) or output.wants_json(argv)


def _usage_hint(error: Any, prog_name: str) -> str:
    ctx = getattr(error, "ctx", None)
    path = ctx.command_path if ctx is not None else prog_name
    return f"see `{path} --help`"


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _present(name: str) -> bool:
    try:
        return importlib.util.find_spec(f"parkbench.tui.cli.{name}") is not None
    except (ImportError, ValueError):
        return False


_LOADED: dict[str, dict[str, Any]] = {}


def _load(module_name: str) -> dict[str, Any]:
    """The click commands one module registers, built once per process."""
    if module_name not in _LOADED:
        module = importlib.import_module(f"parkbench.tui.cli.{module_name}")
        holder = CliTyper()
        module.register(holder)
        built = typer.main.get_command(holder)
        examples.attach(built, holder_is_group=isinstance(built, TyperGroup))
        commands = getattr(built, "commands", None)
        _LOADED[module_name] = dict(commands) if commands else {built.name: built}
    return _LOADED[module_name]


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="parkbench",
        cls=ParkbenchGroup,
        help="Review task runs that autonomous workers have parked. "
        "Without a command, opens the review app.",
        epilog=examples.ROOT,
        add_completion=True,
        context_settings={"help_option_names": ["-h", "--help"]},
        pretty_exceptions_enable=False,
    )
    app.callback(invoke_without_command=True)(root)
    return app


ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="NAME",
        help="Use the database of [profiles.NAME] in the config file "
        "($PARKBENCH_CONFIG, else config.toml in the user config directory).",
        show_default=False,
    ),
]
VerboseOption = Annotated[
    int,
    typer.Option(
        "--verbose", "-v", count=True, help="Log what Parkbench does on stderr (-vv: debug)."
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No notes on stderr (errors are still shown).")
]

#: What the review app says when it cannot run (no terminal, or a program asked for JSON).
NEEDS_TERMINAL = "the review app needs a terminal; use `parkbench list` or `parkbench snapshot`"


def root(
    ctx: typer.Context,
    db: DbOption = None,
    json_mode: JsonOption = False,
    profile: ProfileOption = None,
    verbose: VerboseOption = 0,
    quiet: QuietOption = False,
    read_only: Annotated[
        bool,
        typer.Option("--read-only", help="Open the review app without write actions."),
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)
    ] = False,
) -> None:
    """Review task runs that autonomous workers have parked."""
    if version:
        from importlib.metadata import version as dist_version

        output.print_lines([f"parkbench {dist_version('parkbench')}"])
        raise typer.Exit(0)
    if verbose and quiet:
        raise ValidationError("-v and -q contradict each other", hint="pass one of them")
    output.set_verbosity(verbose=verbose, quiet=quiet)
    ctx.obj = Globals(db=db, json=json_mode, profile=profile)
    if ctx.invoked_subcommand is None:
        if json_mode or not has_terminal():
            raise ValidationError(
                NEEDS_TERMINAL,
                hint="run `parkbench` on a terminal; `parkbench --help` lists the commands",
            )
        opts = cli(ctx, None, json_mode)
        raise typer.Exit(open_review_app(opts.db, read_only=read_only))


def has_terminal() -> bool:
    """Whether the review app can run: a full-screen app needs a terminal on both ends."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def open_review_app(db: str | None, *, read_only: bool) -> int:
    try:
        from parkbench.tui.app import run_app
    except ImportError as error:
        if error.name != "parkbench.tui.app":
            raise
        output.note(
            "the review app is not part of this build yet; meanwhile use "
            "`parkbench list`, `parkbench show RUN` and `parkbench --help`"
        )
        return 0
    return int(run_app(db, read_only=read_only) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """The console-script entry point (``parkbench = "parkbench.tui.cli:main"``)."""
    command = typer.main.get_command(app)
    return command.main(args=argv, prog_name="parkbench", standalone_mode=argv is None)


app = build_app()
