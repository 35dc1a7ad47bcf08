"""The CLI error sweep's machinery: walk the command tree, build bad argument lists, judge.

Every leaf command of the real ``parkbench`` tree (read from typer, so a new command or
option is swept without touching this file) is run with each required argument missing,
each parameter given malformed and out-of-range values, an unknown option and a surplus
argument. :func:`verdict` says what is wrong with one outcome, in words, or nothing.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import typer
from typer.testing import CliRunner

from faults.strategies import raw_controls
from parkbench.core.errors import EXIT_CODES
from parkbench.tui.cli import app

HOSTILE = "\x1b[2J\x1b]0;pwned\x07[bold][@click=app.quit]\u202e"
BAD_VALUES: dict[type, tuple[str, ...]] = {
    int: ("x", "", "1.5", "-1", "0", "2147483648", "99999999999999999999999"),
    float: ("x", "", "-1", "0", "nan", "inf", "-inf", "1e309"),
    str: ("", "   ", HOSTILE, "y" * 300),
    Path: ("", "/nonexistent/directory/x", HOSTILE),
    list: ("x", "-1", "0", "99999999999999999999999"),
}
#: Options whose text has a grammar of its own: malformed in that grammar too.
SPECIAL_VALUES: dict[str, tuple[str, ...]] = {
    "--metadata": ("{", "[]", "null", "[" * 5000 + "]" * 5000, '{"k": "\\ud800"}'),
    "--result": ("{", "[" * 5000 + "]" * 5000),
    "--status": ("bogus", "need_attention"),
    "--missing-policy": ("sometimes",),
    "--now": ("yesterday-ish", "nan", "inf", "-1e300", "1e300", "2026-13-45T99:00:00Z"),
    "--after": ("zzz", "e30="),
    "--size": ("0x0", "abc", "99999x99999", "-80x24"),
    "--screens": ("bogus", ""),
    "--require": ("../escape", "/etc/passwd", "a\\b"),
}
#: Commands that render or generate at length, or stream until Ctrl-C: swept for failures
#: only, never run whole (a command whose help mentions Ctrl-C is treated the same way).
#: `work` runs the command it is given and streams JSON lines: never run whole either.
FAILURES_ONLY = {("snapshot",), ("demo",), ("watch",), ("work",)}
SKIPPED_OPTIONS = {"--db", "--json", "--help", "--install-completion", "--show-completion"}


@dataclass(frozen=True)
class Variant:
    command: tuple[str, ...]
    kind: str  # complete | missing | malformed | unknown-option | surplus
    argv: tuple[str, ...]


def leaf_commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    root = typer.main.get_command(app)

    def walk(
        command: Any, path: tuple[str, ...], parent: Any
    ) -> Iterator[tuple[tuple[str, ...], Any]]:
        if hasattr(command, "list_commands"):
            ctx = typer.Context(command, parent=parent, info_name=path[-1] if path else "parkbench")
            for name in command.list_commands(ctx):
                yield from walk(command.get_command(ctx, name), (*path, name), ctx)
        else:
            yield path, command

    yield from walk(root, (), None)


def _annotation(click_command: Any, param: Any) -> Any:
    """The type a parameter was declared with, read from the command function's signature."""
    hints = get_type_hints(inspect.unwrap(click_command.callback), include_extras=True)
    annotation = hints.get(param.name, str)
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _kind(click_command: Any, param: Any) -> type:
    annotation = _annotation(click_command, param)
    origin = getattr(annotation, "__origin__", None)
    if origin is list or annotation is list or param.nargs == -1:
        # A list of words (work's COMMAND) is free text; the other lists are run ids.
        return str if getattr(annotation, "__args__", None) == (str,) else list
    for candidate in (bool, int, float, Path):
        if annotation is candidate or candidate in getattr(annotation, "__args__", ()):
            return candidate
    return str


def variants(
    command: tuple[str, ...], click_command: Any, plausible: dict[str, str]
) -> Iterator[Variant]:
    """The bad argument lists for one command (``plausible`` fills what is not varied)."""
    params = [p for p in click_command.params if not set(p.opts) & SKIPPED_OPTIONS]
    params = [p for p in params if _kind(click_command, p) is not bool]
    long_running = command in FAILURES_ONLY or "ctrl-c" in (click_command.help or "").lower()

    def argv(overrides: dict[Any, str | None]) -> tuple[str, ...]:
        out: list[str] = list(command)
        for param in params:
            value = overrides[param] if param in overrides else plausible.get(param.opts[0])
            if value is not None:
                out += [value] if param.param_type_name == "argument" else [param.opts[0], value]
        return tuple(out)

    if not long_running:
        yield Variant(command, "complete", argv({}))
    for param in params:
        if param.required or (param.opts[0] in plausible and not long_running):
            yield Variant(command, "missing", argv({param: None}))
        special = SPECIAL_VALUES.get(param.opts[0], ())
        generic = BAD_VALUES[_kind(click_command, param)]
        if long_running and _kind(click_command, param) in (str, Path):
            generic = ()  # a plausible text or path would just run the long command
        for value in special + generic:
            yield Variant(command, "malformed", argv({param: value}))
    yield Variant(command, "unknown-option", (*argv({}), "--no-such-option"))
    variadic_words = [
        p
        for p in params
        if p.param_type_name == "argument" and p.nargs == -1 and _kind(click_command, p) is str
    ]
    if not variadic_words:
        # (After a variadic list of words, work's COMMAND, a surplus word is just one more.)
        yield Variant(command, "surplus", (*argv({}), "surplus-argument"))


_runner = CliRunner()


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def invoke(
    argv: tuple[str, ...], db: str, *, json_mode: bool, env: dict[str, str] | None = None
) -> Outcome:
    args = [*argv, "--db", db, *(["--json"] if json_mode else [])]
    scrub: dict[str, str | None] = dict.fromkeys(
        ("PARKBENCH_DB", "PARKBENCH_TOKEN", "PARKBENCH_DEBUG")
    )
    scrub |= {"NO_COLOR": None, "COLUMNS": "100"}  # stdout is not a terminal: no colour
    scrub |= {"PARKBENCH_CONFIG": "/nonexistent/parkbench-test-config.toml"}
    scrub.update(env or {})
    done = _runner.invoke(app, args, input="", env=scrub, catch_exceptions=False)
    return Outcome(done.exit_code, done.stdout, done.stderr)


def verdict(outcome: Outcome, *, json_mode: bool) -> tuple[str | None, str | None]:
    """(error code or None, what is wrong or None) for one invocation's outcome."""
    if "Traceback" in outcome.stderr or "Traceback" in outcome.stdout:
        return None, "a traceback was printed"
    for stream, text in (("stderr", outcome.stderr), ("stdout", outcome.stdout)):
        if raw_controls(text):
            return None, f"raw control characters on {stream}: {raw_controls(text)[:5]}"
    if outcome.code == 0:
        if json_mode and outcome.stdout.strip():
            try:
                json.loads(outcome.stdout)
            except ValueError:
                return None, "exit 0 but stdout is not one JSON document"
        return None, None
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    if json_mode:
        if len(lines) != 1:
            return (
                None,
                f"expected one error line on stderr, got {len(lines)}: {outcome.stderr[:300]!r}",
            )
        try:
            error = json.loads(lines[0])["error"]
        except (ValueError, KeyError, TypeError):
            return None, f"stderr is not an error envelope: {lines[0][:200]!r}"
        code = error.get("code")
        problems = [
            f"{name} is empty or not one line"
            for name in ("message", "hint")
            if not isinstance(error.get(name), str)
            or not error[name].strip()
            or "\n" in error[name]
        ]
        if code not in EXIT_CODES:
            problems.append(f"code {code!r} is not a stable code ({error.get('message')!r})")
        elif EXIT_CODES[code] != outcome.code:
            problems.append(f"exit {outcome.code} but {code} means exit {EXIT_CODES[code]}")
        return code, "; ".join(problems) or None
    if (
        not lines
        or not lines[0].startswith("error[")
        or not any(line.startswith("hint: ") for line in lines)
    ):
        return None, f"human error output lacks error[code]/hint lines: {outcome.stderr[:200]!r}"
    return lines[0][6 : lines[0].index("]")], None
