"""``parkbench note RUN --text ...``: a reviewer's comment on a run that changes nothing.

The note is an audit event (``note``, the reviewer's name, the run's status then) shown by
``show`` and the review app's detail pane and passed on in the handoff to the run's next
attempt. Any status will do; the run's version is untouched, so nobody's pending action on
it turns into a conflict.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from parkbench.tui.cli import output
from parkbench.tui.cli.common import DbOption, JsonOption, RunArgument, cli

TextOption = Annotated[
    str | None,
    typer.Option(
        "--text",
        metavar="TEXT",
        help="The note (required; several lines are kept); - reads it from stdin.",
        show_default=False,
    ),
]
ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor", metavar="NAME", help="Reviewer name (default: the OS user).", show_default=False
    ),
]


def register(app: typer.Typer) -> None:
    app.command("note", rich_help_panel="Reviewer")(note)


def note(
    ctx: typer.Context,
    run: RunArgument,
    text: TextOption = None,
    actor: ActorOption = None,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Add a note to a run without changing it (any status; passed on to its next attempt)."""
    from parkbench.core import inputs
    from parkbench.core.store import default_actor

    opts = cli(ctx, db, json_mode)
    body = inputs.note(sys.stdin.read() if text == "-" else text)  # refused before opening
    who = inputs.name("actor", actor or default_actor())
    with opts.open_store() as store:
        event = store.add_note(run, text=body, actor=who)
    if opts.json:
        output.emit_json({"note": event.to_dict()})
        return
    from rich.text import Text

    line = Text(f"note {event.id} on run {run} ({event.to_status}) by ")
    line.append_text(output.text(who, 64))
    output.console().print(line)
