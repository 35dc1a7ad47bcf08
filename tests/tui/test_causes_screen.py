"""The Causes screen (issue 20 §1): `c` and the palette open it, Enter shows a cause's runs
in the list, `m` marks them after a confirmation that shows the count."""

from __future__ import annotations

from pathlib import Path

from rich.cells import cell_len
from textual.command import CommandPalette
from textual.widgets import DataTable
from tuitest_support import make_app, park, press, running, screen_text, settle, type_text

from parkbench.core.store import Store
from parkbench.tui.screens.causes import CausesScreen
from parkbench.tui.screens.confirm_modal import ConfirmModal
from parkbench.tui.screens.main import MainScreen
from parkbench.tui.textsafe import one_line
from parkbench.tui.widgets.run_columns import relative_time

HOSTILE = "\x1b[31mred\x1b]0;pwned\x07 [bold]x[/bold] \u202eevil 9"


def seed(store: Store, workspace: Path, clock) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    disk = [
        park(
            store,
            workspace,
            f"Build {i}",
            f"disk quota exceeded on runner {i} writing build/a{i}",
            worker=f"agent-{i % 2}",
            clock=clock,
        )
        for i in range(3)
    ]
    spec = [park(store, workspace, "Spec", "ambiguous spec: which locale?", clock=clock)]
    hostile = [park(store, workspace, "Hostile", HOSTILE, clock=clock)]
    store.enqueue("queued", workspace, actor="ci")
    return {"disk": disk, "spec": spec, "hostile": hostile}


async def test_c_opens_the_causes_and_enter_lists_a_cause_s_runs(
    store: Store, workspace: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    runs = seed(store, workspace, clock)
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "c")
        screen = app.screen
        assert isinstance(screen, CausesScreen)
        await settle(pilot)
        assert screen.loaded
        text = screen_text(app)
        assert "3 causes · 5 parked runs" in text
        assert "disk quota exceeded on runner 0 writing build/a0" in text  # the example
        assert "disk quota exceeded on runner <n> writing <path>" in text  # the key below
        assert "agent-0, agent-1" in text
        # Hostile text is shown literally, its control characters made visible.
        assert "[bold]x[/bold]" in text and "\x1b" not in text and "\u202e" not in text
        await press(pilot, "enter")  # the largest cause: disk quota
        assert isinstance(app.screen, MainScreen)
        await settle(pilot)
        main = app.main
        assert main.runs.view_query.cause == "disk quota exceeded on runner <n> writing <path>"
        assert main.runs.window.total == 3
        assert [row.id for row in main.runs.window.rows] == runs["disk"]
        assert "cause “disk quota exceeded" in screen_text(app)
        await press(pilot, "escape")  # clears the cause like a filter
        await settle(pilot)
        assert main.runs.view_query.cause is None and main.runs.window.total == 5


async def test_m_marks_every_run_of_a_cause_after_confirming_the_count(
    store: Store, workspace: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    runs = seed(store, workspace, clock)
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await press(pilot, "c")
        await settle(pilot)
        await press(pilot, "m")
        assert isinstance(app.screen, ConfirmModal)
        assert "Mark all 3 runs of this cause?" in screen_text(app)
        await press(pilot, "n")  # no: nothing marked, still on the causes
        assert isinstance(app.screen, CausesScreen)
        await press(pilot, "m", "y")
        await settle(pilot)
        main = app.main
        assert app.screen is main
        assert set(main.runs.marks) == set(runs["disk"])
        assert notices[-1].message == "3 runs marked"
        assert "marked 3" in screen_text(app)


async def test_the_palette_opens_causes_and_escape_goes_back(
    store: Store, workspace: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    seed(store, workspace, clock)
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await type_text(pilot, "Causes")
        await settle(pilot)
        await press(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.screen, CausesScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 3
        await press(pilot, "down", "down", "enter")  # the third cause: the hostile one
        await settle(pilot)
        assert app.main.runs.window.total == 1
        await press(pilot, "c")
        await settle(pilot)
        await press(pilot, "escape")
        assert app.screen is app.main and app.main.runs.window.total == 1  # kept


async def test_read_only_shows_causes_but_does_not_mark(
    store: Store, workspace: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    seed(store, workspace, clock)
    app = make_app(store, read_only=True)
    async with running(app) as (pilot, _notices):
        await press(pilot, "c")
        await settle(pilot)
        assert isinstance(app.screen, CausesScreen)
        await press(pilot, "m")
        assert isinstance(app.screen, CausesScreen)  # no question: marking is off
        assert app.screen.check_action("mark_cause", ()) is False


async def test_no_parked_runs_says_so(store: Store, workspace: Path) -> None:
    store.enqueue("queued", workspace, actor="ci")
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "c")
        await settle(pilot)
        assert "0 causes · 0 parked runs · nothing is parked" in screen_text(app)
        await press(pilot, "enter")
        assert isinstance(app.screen, CausesScreen)


async def test_reopening_regroups_only_after_a_change(store: Store, workspace: Path, clock) -> None:  # type: ignore[no-untyped-def]
    seed(store, workspace, clock)
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "c")
        await settle(pilot)
        first = app.screen.causes
        await press(pilot, "escape")
        await press(pilot, "c")
        await settle(pilot)
        assert app.screen.causes is first  # nothing changed: the same groups
        await press(pilot, "escape")
        park(store, workspace, "B", "disk quota exceeded on runner 9 writing b/c", priority=9)
        await press(pilot, "c")
        await settle(pilot)
        assert app.screen.causes is not first
        assert app.screen.causes.groups[0].count == 4
        assert "3 causes · 6 parked runs" in screen_text(app)
        await press(pilot, "ctrl+r")  # asked for: grouped again
        await settle(pilot)
        assert app.screen.loaded and app.screen.causes.groups[0].count == 4


async def test_the_columns_fit_their_cells_as_soon_as_the_groups_are_shown(
    store: Store, workspace: Path, clock
) -> None:  # type: ignore[no-untyped-def]
    # A frame drawn between the groups' arrival and the table's next idle (a headless
    # snapshot on a busy machine) must not cut the cells to the headers' widths. The
    # message is handled here without yielding, so the table cannot have gone idle.
    park(store, workspace, "Spec", "ambiguous spec: which locale?", clock=clock)
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "c")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CausesScreen)
        park(store, workspace, "Long", "a reason longer than any shown so far " * 2, clock=clock)
        screen._loaded(CausesScreen.Loaded(store.causes()))
        table = screen.table
        padding = 2 * table.cell_padding
        widths = [column.get_render_width(table) - padding for column in table.ordered_columns]
        assert screen.causes is not None
        groups = screen.causes.groups
        now = app.now_ms()
        oldest = max(len(relative_time(group.oldest_ms, now)) for group in groups)
        example = max(cell_len(one_line(group.example or group.key, 160)) for group in groups)
        assert widths[0] == len("Runs") and widths[1] == oldest > len("Oldest")
        assert widths[4] == example > len("Example reason")
        assert table.row_count == len(groups) == 2
