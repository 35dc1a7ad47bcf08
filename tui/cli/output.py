"""Everything the command line writes: JSON documents, Rich tables and error envelopes.

Two audiences, two modes. With ``--json`` a command writes exactly one JSON document on
stdout and, when it fails, one ``{"error": {...}}`` line on stderr: programs parse these.
Without it, people get Rich tables; NO_COLOR and non-terminals are honoured (Rich does
both), and untrusted text only ever reaches the screen as :class:`rich.text.Text` built
from :func:`parkbench.tui.textsafe.safe_text`, never as markup.

Rich is imported lazily: ``lease claim`` in a worker loop must not pay for it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from parkbench.tui.textsafe import one_line, safe_text
from parkbench.tui.timefmt import iso  # also output.iso, for the commands

if TYPE_CHECKING:
    from rich.console import Console
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    from parkbench.core.errors import ParkbenchError

DEBUG_ENV = "PARKBENCH_DEBUG"
#: Exit status for a failure that is not a ParkbenchError: a bug.
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2

# Valid JSON may carry these raw inside strings; escaping them keeps the document's value
# identical while making `cat out.json` harmless on a terminal (C1 controls such as U+009B
# are a CSI on some terminals; bidi and invisible characters mislead readers).
_JSON_UNSAFE = re.compile(
    "[\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
    "\ufff9-\ufffb\U000e0000-\U000e007f]"
)


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def dumps(document: object) -> str:
    """One compact-but-readable JSON document; non-ASCII kept, dangerous chars escaped."""
    text = json.dumps(document, ensure_ascii=False, default=_default)
    return _JSON_UNSAFE.sub(_json_escape, text)


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return iso(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def emit_json(document: object) -> None:
    sys.stdout.write(dumps(document) + "\n")
    sys.stdout.flush()


def short_time(ms: int | None, *, year: bool = True) -> str:
    """A compact, deterministic UTC timestamp for tables: 2026-09-01 09:12Z."""
    if ms is None:
        return "-"
    pattern = "%Y-%m-%d %H:%MZ" if year else "%m-%d %H:%MZ"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(pattern)


# -- human output -------------------------------------------------------------------------


#: Width for output that goes to a file or a pipe (Rich would assume 80) unless $COLUMNS.
PIPE_WIDTH = 160


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and not os.environ.get("COLUMNS"):
        width = PIPE_WIDTH
    # markup/emoji/highlight off: nothing printed here is ever interpreted as markup.
    # Rich itself honours NO_COLOR and drops styles when the stream is not a terminal.
    return Console(
        file=stream,
        width=width,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=False,
    )


#: Status colours (Rich drops them under NO_COLOR and when output is not a terminal).
STATUS_STYLES = {
    "needs_attention": "bold yellow",
    "queued": "cyan",
    "claimed": "blue",
    "completed": "green",
    "failed": "red",
    "canceled": "dim",
    "requeued": "dim",
}


def status(value: str) -> Text:
    from rich.text import Text

    return Text(value, style=STATUS_STYLES.get(value, ""))


def text(value: object, max_len: int | None = 200) -> Text:
    """Untrusted text as a one-line Rich ``Text``: escaped, bounded, never markup; a line
    break shows as a visible ``\\n``, so agent text can never print a line of its own."""
    from rich.text import Text

    return Text(one_line("" if value is None else str(value), max_len, show_newlines=True))


#: Every line of a multi-line agent text (its own and those the terminal width wraps) starts
#: this far in: none can pass for a line the CLI printed (`error[...]`, `hint:`, `run N`).
BLOCK_INDENT = 4


def block_text(value: str, max_len: int | None = None) -> Padding:
    """Untrusted multi-line text (a reason in `show`): escaped, bounded, and indented."""
    from rich.padding import Padding
    from rich.text import Text

    body = Text(safe_text(value, max_len, multiline=True))
    return Padding(body, (0, 0, 0, BLOCK_INDENT), expand=False)


def table(
    *columns: str, flexible: Sequence[str] | dict[str, int] = (), title: str | None = None
) -> Table:
    """A plain table; ``flexible`` columns share what width the others leave (by ratio)."""
    from rich import box
    from rich.table import Table

    grid = Table(
        box=box.SIMPLE_HEAD,
        title=title,
        title_justify="left",
        pad_edge=False,
        expand=bool(flexible),  # ratios only apply to an expanded table
    )
    for name in columns:
        if name in flexible:
            ratio = flexible[name] if isinstance(flexible, dict) else 1
            grid.add_column(name, no_wrap=True, overflow="ellipsis", ratio=ratio, min_width=6)
        else:
            grid.add_column(name, no_wrap=True, overflow="ellipsis")
    return grid


def print_lines(lines: Iterable[str]) -> None:
    """Plain lines built from trusted text (or text already passed through safe_text)."""
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    sys.stdout.flush()


def note(message: str) -> None:
    """A human-facing remark on stderr (never part of a machine-readable stdout); -q drops it."""
    if VERBOSITY["quiet"]:
        return
    sys.stderr.write(safe_text(message) + "\n")
    sys.stderr.flush()


# -- -v / -q -------------------------------------------------------------------------------

#: Set from the root's -q/-v for the command that runs (reset by each run).
VERBOSITY: dict[str, int] = {"quiet": 0, "verbose": 0}
#: The stderr handler -v gave Parkbench's loggers, removed again when the run ends.
_LOG_HANDLERS: list[logging.Handler] = []
LOG_FORMAT = "parkbench: %(levelname)s %(name)s: %(message)s"


def set_verbosity(*, verbose: int = 0, quiet: bool = False) -> None:
    """-q drops notes (never errors); -v logs ``parkbench.*`` at INFO on stderr, -vv DEBUG."""
    reset_verbosity()
    VERBOSITY.update(quiet=int(quiet), verbose=verbose)
    if not verbose:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger = logging.getLogger("parkbench")
    logger.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)
    logger.addHandler(handler)
    _LOG_HANDLERS.append(handler)


def reset_verbosity() -> None:
    VERBOSITY.update(quiet=0, verbose=0)
    logger = logging.getLogger("parkbench")
    while _LOG_HANDLERS:
        logger.removeHandler(_LOG_HANDLERS.pop())
    logger.setLevel(logging.NOTSET)


# -- errors ------------------------------------------------------------------------------


def wants_json(argv: Sequence[str]) -> bool:
    """Whether ``--json`` was asked for, judged from argv (usage errors stop parsing early)."""
    for arg in argv:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def report(
    code: str,
    message: str,
    hint: str,
    exit_code: int,
    *,
    json_mode: bool,
    details: dict[str, object] | None = None,
) -> int:
    """Write the error envelope to stderr; return the exit status to use."""
    if json_mode:
        body: dict[str, object] = {"code": code, "message": message, "hint": hint}
        if details:
            body["details"] = details
        sys.stderr.write(dumps({"error": body}) + "\n")
    else:
        lines = [f"error[{code}]: {safe_text(message, 2000)}"]
        if hint:
            lines.append(f"hint: {safe_text(hint, 2000)}")
        sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()
    return exit_code


def report_error(error: ParkbenchError, *, json_mode: bool) -> int:
    from parkbench.core.errors import EXIT_CODES

    return report(
        error.code,
        error.message,
        error.hint,
        EXIT_CODES.get(error.code, EXIT_UNEXPECTED),
        json_mode=json_mode,
        details=dict(error.details) if error.details else None,
    )


def report_usage(message: str, hint: str, *, json_mode: bool) -> int:
    return report("validation", " ".join(message.split()), hint, EXIT_USAGE, json_mode=json_mode)


def report_unexpected(error: BaseException, *, json_mode: bool) -> int:
    if os.environ.get(DEBUG_ENV) == "1":
        traceback.print_exception(error, file=sys.stderr)
    first = str(error).splitlines()[0] if str(error) else ""
    return report(
        "internal",
        f"unexpected {type(error).__name__}: {first}".rstrip(": "),
        f"this is a bug; run again with {DEBUG_ENV}=1 for the traceback and report it",
        EXIT_UNEXPECTED,
        json_mode=json_mode,
    )
