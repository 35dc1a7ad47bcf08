"""``parkbench undo-requeue RUN``: take back a requeue whose new run has not started.

The run named is the requeue's *source* (the one that was parked). Its successor is
canceled and the source goes back to ``needs_attention`` as it was parked, in one
transaction (:meth:`parkbench.core.store.Store.undo_requeue`); once a worker has claimed the
successor the undo is refused as ``conflict`` (exit 3).
"""

from __future__ import annotations

import typer

from parkbench.tui.cli import output
from parkbench.tui.cli.common import DbOption, JsonOption, RunArgument, cli
from parkbench.tui.cli.review import ActorOption, ReasonOption


def register(app: typer.Typer) -> None:
    app.command("undo-requeue", rich_help_panel="Reviewer")(undo_requeue)


def undo_requeue(
    ctx: typer.Context,
    run: RunArgument,
    reason: ReasonOption = None,
    actor: ActorOption = None,
    db: DbOption = None,
    json_mode: JsonOption = False,
) -> None:
    """Undo the requeue of RUN while its new run is still queued: cancel the new run and
    park RUN again (audited)."""
    from parkbench.core import inputs
    from parkbench.core.store import default_actor

    opts = cli(ctx, db, json_mode)
    why = inputs.reason(reason)
    who = inputs.name("actor", actor or default_actor())
    with opts.open_store() as store:
        undone = store.undo_requeue(run, reason=why, actor=who)
    if opts.json:
        output.emit_json({**undone.to_dict(), "actor": who})
    else:
        output.print_lines(
            [
                f"run {undone.run_id} is needs_attention again; "
                f"its new run {undone.canceled_run_id} is canceled"
            ]
        )
