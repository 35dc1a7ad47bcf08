"""SVG snapshots of the review screens at a fixed size, clock and data set (SQLite).

Update after an intended UI change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and review the SVGs in the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tuitest_support import SIZE, make_app, park, settle, type_text

from parkbench.core.store import Store

#: Paths show in the detail pane, so the workspace sits at the same place on every run.
WORKSPACE = Path("/tmp/parkbench-snapshot/workspace")


@pytest.fixture
def snap_store(tmp_path: Path, clock):  # type: ignore[no-untyped-def]
    WORKSPACE.mkdir(parents=True, exist_ok=True)
    (WORKSPACE / "reports").mkdir(exist_ok=True)
    (WORKSPACE / "reports" / "summary.md").write_text("done\n")
    (WORKSPACE / "out").mkdir(exist_ok=True)
    with Store.open(f"sqlite:///{tmp_path / 'snap.db'}", clock=clock) as store:
        first = park(
            store,
            WORKSPACE,
            "Summarise the nightly logs",
            "The API key for the log store expired.\nAsk ops to rotate it, then requeue.\n"
            "Ticket: OPS-1234",
            worker="agent-ada",
            required=["reports/summary.md", "out/digest.json"],
            clock=clock,
        )
        store.requeue([first], reason="key rotated", actor="sam")
        claim = store.claim_next("agent-ada")
        assert claim is not None
        clock.advance(120)
        store.block(
            claim.run_id,
            claim.claim_token,
            reason="Still failing: 403 from the log store\n(see OPS-1234)",
        )
        park(
            store,
            WORKSPACE,
            "Rebuild the search index",
            "disk full on /var (98%)",
            worker="agent-bob",
            priority=5,
            clock=clock,
        )
        park(
            store,
            WORKSPACE,
            "Translate the docs to German",
            "Which glossary? Two exist.",
            worker="agent-cy",
            required=["reports/summary.md"],
            clock=clock,
        )
        park(
            store,
            WORKSPACE,
            "Hostile [bold red]title[/] \x1b]0;pwned\x07",
            "[@click=app.quit]click[/] \x1b[31mred\x1b[0m",
            worker="agent-[x]",
            clock=clock,
        )
        for n in range(4):
            park(
                store,
                WORKSPACE,
                f"Backfill partition {n}",
                f"quota exceeded ({n})",
                worker=f"agent-{n}",
                clock=clock,
            )
        yield store


def snapshot_app(store: Store):  # type: ignore[no-untyped-def]
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    return make_app(store)


def test_main_screen(snap_compare, snap_store):
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("down", "space")  # marks the second run, moves to the third
        await settle(pilot)

    assert snap_compare(snapshot_app(snap_store), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=["80x24", "60x20"])
def test_main_screen_narrow(snap_compare, snap_store, size):
    """Issue 15.4: the header, the status line and the footer fit small terminals."""

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("space")  # marks the first run, moves to the second
        await settle(pilot)

    assert snap_compare(snapshot_app(snap_store), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("theme", ["textual-light", "solarized-light", "textual-dark", "nord"])
def test_main_screen_theme(snap_compare, snap_store, theme):
    """Issue 15.8: every colour comes from the theme; light themes stay readable."""

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        pilot.app.theme = theme
        await settle(pilot)
        await pilot.press("space")  # marks the first run, moves to the second
        await settle(pilot)

    assert snap_compare(snapshot_app(snap_store), terminal_size=SIZE, run_before=run_before)


def test_detail_pane(snap_compare, snap_store):
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("tab")  # focus the detail pane of the first (requeued-once) run
        await settle(pilot)

    assert snap_compare(snapshot_app(snap_store), terminal_size=SIZE, run_before=run_before)


def test_action_modal(snap_compare, snap_store):
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("space", "down", "down", "space", "up", "r")
        await settle(pilot)  # the marked runs' block reasons are counted first
        await pilot.press("ctrl+s")  # a blank answer: the prompt refuses it, with a message
        await type_text(pilot, "key rotated")
        await settle(pilot)

    assert snap_compare(snapshot_app(snap_store), terminal_size=SIZE, run_before=run_before)


def test_requeue_prompt_one_run(snap_compare, snap_store):
    """The answer to one run: its block reason shown literally, several lines typed, the
    new attempt's priority (issue 20 §4)."""

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        await type_text(pilot, "Key rotated by ops.")
        await pilot.press("enter")
        await type_text(pilot, "Retry the upload.")
        await settle(pilot)

    assert snap_compare(snapshot_app(snap_store), terminal_size=SIZE, run_before=run_before)


def test_note_prompt(snap_compare, snap_store):
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await type_text(pilot, "looking at this")
        await settle(pilot)

    assert snap_compare(snapshot_app(snap_store), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare, snap_store):
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(snapshot_app(snap_store), terminal_size=SIZE, run_before=run_before)


def test_filter_problem(snap_compare, snap_store):
    """Issue 20.3: a filter with a field it does not know says so under the bar (the list
    keeps the filter before it: the quota runs)."""

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("slash")
        await type_text(pilot, "reason:quota")
        await settle(pilot)
        pilot.app.main.filter_bar.insert_text_at_cursor(" wrker:agent-1")  # as pasted
        await settle(pilot)

    assert snap_compare(snapshot_app(snap_store), terminal_size=SIZE, run_before=run_before)


def test_save_filter_prompt(snap_compare, snap_store):
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("slash")
        await type_text(pilot, 'workspace:snapshot "quota exceeded"')
        await pilot.press("enter")
        await settle(pilot)
        pilot.app.main.action_save_filter()
        await settle(pilot)
        await type_text(pilot, "quota runs")
        await settle(pilot)

    assert snap_compare(snapshot_app(snap_store), terminal_size=SIZE, run_before=run_before)


def test_history_screen(snap_compare, snap_store):
    """The action history after a bulk requeue where one run changed under the reviewer:
    the entry's counts, each run's result, the conflict's code and message, the undo hint."""

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("space", "space", "r")
        await settle(pilot)
        *_, moved = pilot.app.main.runs.marks
        assert snap_store.force_fail([moved], reason="obsolete", actor="bob")[0].ok
        await type_text(pilot, "key rotated")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)
        pilot.app.clear_notifications()
        await settle(pilot)

    assert snap_compare(snapshot_app(snap_store), terminal_size=SIZE, run_before=run_before)
