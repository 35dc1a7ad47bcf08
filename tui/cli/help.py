"""How ``--help`` reads, and what a group does without a (valid) subcommand.

Typer's own help shows parameter *types* (``<bool>``, ``<list[int]>``, ``{TITLE} <str>``)
where people expect metavars, and how it renders them changes between typer releases. So
every command here is a :class:`ParkbenchCommand` or a :class:`CommandGroup`, whose
``format_help`` writes the page itself from the parameters' public attributes (``opts``,
``metavar``, ``help``, ``required``, ``default``, ``is_flag``) through click's
``HelpFormatter``: the same page on every supported typer.

A group given no subcommand, or a name it does not know, fails as a usage error (exit 2)
naming the subcommands and the closest match ("did you mean `list`?"); only ``--help``
prints the help page.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

#: The section of the root help a command is listed in (typer's ``rich_help_panel``).
DEFAULT_SECTION = "Commands"


def metavar(param: Any) -> str:
    """What stands for a parameter's value: its metavar, else its name in capitals."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    shown = param.metavar or (param.name or "value").upper()
    if param.metavar is None and (param.nargs != 1 or getattr(param, "multiple", False)):
        shown += "..."
    return shown


def _default_text(param: Any) -> str | None:
    show = getattr(param, "show_default", None)
    if isinstance(show, str):
        return show
    if not show or getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    default = param.default
    if default is None or callable(default) or default in ((), []):
        return None
    return str(default)


def _help_text(param: Any) -> str:
    text = inspect.cleandoc(param.help or "") if getattr(param, "help", None) else ""
    extra = []
    default = _default_text(param)
    if default is not None:
        extra.append(f"default: {default}")
    if param.required:
        extra.append("required")
    if extra:
        text = f"{text} [{'; '.join(extra)}]".strip()
    return text


def _is_argument(param: Any) -> bool:
    return not any(opt.startswith("-") for opt in param.opts)


def _option_label(param: Any) -> str:
    names = sorted([*param.opts, *param.secondary_opts], key=lambda o: (o.startswith("--"), o))
    label = ", ".join(names)
    shown = metavar(param)
    return f"{label} {shown}" if shown else label


def usage_pieces(command: Any, ctx: Any) -> list[str]:
    pieces = ["[OPTIONS]"] if command.get_params(ctx) else []
    for param in command.get_params(ctx):
        if _is_argument(param) and not param.hidden:
            shown = metavar(param) if param.metavar is None else param.metavar
            pieces.append(shown if param.required else f"[{shown}]")
    return pieces


def subcommands(group: Any, ctx: Any) -> Iterator[tuple[str, Any]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            yield name, command


def write_help(command: Any, ctx: Any, formatter: Any) -> None:
    """One command's help page: usage, description, arguments, options, commands, examples."""
    params = [p for p in command.get_params(ctx) if not p.hidden]
    pieces = usage_pieces(command, ctx)
    if isinstance(command, TyperGroup):
        pieces.append("COMMAND [ARGS]...")
    formatter.write_usage(ctx.command_path, " ".join(pieces))
    if command.help:
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(inspect.cleandoc(command.help))
    arguments = [(metavar(p) or p.name.upper(), _help_text(p)) for p in params if _is_argument(p)]
    options = [(_option_label(p), _help_text(p)) for p in params if not _is_argument(p)]
    for title, rows in (("Arguments", arguments), ("Options", options)):
        if rows:
            with formatter.section(title):
                formatter.write_dl(rows)
    if isinstance(command, TyperGroup):
        sections: dict[str, list[tuple[str, str]]] = {}
        for name, sub in subcommands(command, ctx):
            section = getattr(sub, "rich_help_panel", None) or DEFAULT_SECTION
            # The whole first sentence: the formatter wraps it, as typer's own help did.
            sections.setdefault(section, []).append((name, sub.get_short_help_str(200)))
        for title, rows in sections.items():
            with formatter.section(title):
                formatter.write_dl(rows)
    if command.epilog:
        with formatter.section("Examples"):
            for line in inspect.cleandoc(command.epilog).splitlines():
                formatter.write(f"{'':>{formatter.current_indent}}{line}\n")


def command_names(group: Any, ctx: Any) -> list[str]:
    return [name for name, _ in subcommands(group, ctx)]


def unknown_command(group: Any, ctx: Any, name: str) -> str:
    """The message for a subcommand name ``group`` does not have."""
    names = command_names(group, ctx)
    close = difflib.get_close_matches(name, names, n=1)
    message = f"`{ctx.command_path}` has no command {name!r}"
    if close:
        return f"{message}; did you mean `{close[0]}`?"
    return f"{message}; its commands: {', '.join(names)}"


class HelpPage:
    """Mixin: the help page written by :func:`write_help`."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        write_help(self, ctx, formatter)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return usage_pieces(self, ctx)


class ParkbenchCommand(HelpPage, TyperCommand):
    """A leaf command."""


class CommandGroup(HelpPage, TyperGroup):
    """A group of commands: without a valid subcommand it is a usage error, not its help."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing and not self.invoke_without_command:
            ctx.fail(f"`{ctx.command_path}` needs a command: {', '.join(command_names(self, ctx))}")
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            ctx.fail(unknown_command(self, ctx, name))
        return super().resolve_command(ctx, args)


class CliTyper(typer.Typer):
    """A ``typer.Typer`` whose commands and sub-groups use the classes above by default."""

    def command(self, name: str | None = None, **kwargs: Any) -> Callable[..., Any]:
        kwargs.setdefault("cls", ParkbenchCommand)
        return super().command(name, **kwargs)

    def add_typer(self, typer_instance: typer.Typer, **kwargs: Any) -> None:
        kwargs.setdefault("cls", CommandGroup)
        super().add_typer(typer_instance, **kwargs)


def sub_app(name: str, help: str) -> CliTyper:
    """A command group (``lease``, ``db``): its subcommands are required."""
    return CliTyper(name=name, help=help, cls=CommandGroup, no_args_is_help=False)
