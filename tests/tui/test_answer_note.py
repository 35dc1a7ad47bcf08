"""Issue 20 §4 in the app: the requeue prompt is the answer to the agent (the block reason
it answers, several lines, ctrl+s sends, the new attempt's priority), and ``n`` adds a note
that changes nothing about the run."""

from __future__ import annotations

from textual import events
from textual.command import CommandPalette
from textual.widgets import Input, TextArea
from tuitest_support import (
    drain,
    make_app,
    press,
    refreshed,
    running,
    screen_text,
    settle,
    type_text,
)

from parkbench.core.lifecycle import RunStatus
from parkbench.tui.screens.answer_modal import AnswerModal
from parkbench.tui.screens.main import MainScreen


async def test_the_requeue_prompt_shows_the_reason_and_sends_several_lines(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await press(pilot, "r")
        modal = app.screen
        assert isinstance(modal, AnswerModal)
        shown = screen_text(app)
        assert "Your answer handed to the next attempt" in shown
        assert "Block reason it answers:" in shown
        # The block reason, literally and line by line.
        assert "  need an API key" in shown and "  see ticket 12" in shown
        assert "ctrl+s sends · Enter: new line" in shown
        await type_text(pilot, "key added")
        await press(pilot, "enter")  # a new line, not a send
        assert app.screen is modal
        await type_text(pilot, "use the vault")
        assert modal.query_one(TextArea).text == "key added\nuse the vault"
        await press(pilot, "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        detail = store.get_run(parked[0], check_disk=False)
        assert detail.run.status is RunStatus.REQUEUED
        assert detail.events[-1].reason == "key added\nuse the vault"
        assert notices[-1].message.startswith(f"1 requeued (run {parked[0]} → new run ")
    claimed = store.claim_next("agent-9")
    assert claimed is not None and claimed.handoff is not None
    assert claimed.handoff.decision is not None
    assert claimed.handoff.decision.text == "key added\nuse the vault"


async def test_escape_cancels_the_answer(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        before = store.change_marker()
        await press(pilot, "r")
        await type_text(pilot, "never mind")
        await press(pilot, "enter")
        await press(pilot, "escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert store.change_marker() == before
        assert notices == []


async def test_a_blank_answer_is_refused_in_the_prompt(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        before = store.change_marker()
        await press(pilot, "r")
        await press(pilot, "enter", "enter", "ctrl+s")
        assert isinstance(app.screen, AnswerModal)
        assert "reason is required and must not be blank" in screen_text(app)
        await press(pilot, "escape")
        await settle(pilot)
        assert store.change_marker() == before


async def test_a_multi_line_paste_keeps_its_lines(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "r")
        area = app.screen.query_one(TextArea)
        app.post_message(events.Paste("key rotated\nsee OPS-1234\n\nretry now"))  # as a terminal
        await drain(app)
        await refreshed(app)
        assert area.text == "key rotated\nsee OPS-1234\n\nretry now"
        await press(pilot, "ctrl+s")
        await settle(pilot)
        assert store.get_run(parked[0], check_disk=False).events[-1].reason == (
            "key rotated\nsee OPS-1234\n\nretry now"
        )


async def test_the_prompt_can_change_the_new_attempts_priority(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "down")  # the priority-5 run
        await settle(pilot)
        await press(pilot, "r")
        field = app.screen.query_one("#reason-priority", Input)
        assert field.value == "5"
        await type_text(pilot, "urgent now")
        await press(pilot, "tab")
        assert field.has_focus
        await press(pilot, "backspace")
        await type_text(pilot, "9")
        await press(pilot, "ctrl+s")
        await settle(pilot)
        detail = store.get_run(parked[1], check_disk=False)
        assert detail.run.status is RunStatus.REQUEUED
        assert detail.events[-1].details["priority"] == {"from": 5, "to": 9}  # type: ignore[index]
        new_run = detail.events[-1].details["new_run_id"]  # type: ignore[index]
        assert store.get_run(new_run, check_disk=False).run.priority == 9  # type: ignore[arg-type]


async def test_a_bad_priority_is_refused_in_the_prompt(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        before = store.change_marker()
        await press(pilot, "r")
        await type_text(pilot, "go")
        app.screen.query_one("#reason-priority", Input).value = str(2**31)
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, AnswerModal)
        assert "priority must be between" in screen_text(app)
        await press(pilot, "escape")
        await settle(pilot)
        assert store.change_marker() == before


async def test_a_marked_requeue_lists_the_distinct_reasons_with_counts(store, workspace, clock):
    from tuitest_support import park

    for i in range(5):
        park(store, workspace, f"task {i}", "disk full" if i % 2 else "need a key", clock=clock)
    park(store, workspace, "odd one", "which locale?", clock=clock)
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "a")
        await settle(pilot)
        await press(pilot, "y")
        await settle(pilot)
        await press(pilot, "r")
        await settle(pilot)
        shown = screen_text(app)
        assert "Block reasons it answers (3 distinct reasons):" in shown
        need, disk, locale = (shown.index(s) for s in ("3 runs: need a key", "2 runs: disk full",
                                                        "1 run: which locale?"))  # fmt: skip
        assert need < disk < locale  # the commonest first
        assert app.screen.query_one("#reason-priority", Input).value == ""  # blank: keep


async def test_n_adds_a_note_that_changes_nothing(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        before = store.get_run(parked[0], check_disk=False).run
        await press(pilot, "n")
        modal = app.screen
        assert isinstance(modal, AnswerModal)
        assert modal.title_text == f"Note on run {parked[0]}"
        assert "A note changes nothing about the run" in screen_text(app)
        await type_text(pilot, "looking at this")
        await press(pilot, "enter")
        await type_text(pilot, "back at 3")
        await press(pilot, "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        detail = store.get_run(parked[0], check_disk=False)
        assert detail.run == before  # same status, same version
        [note] = detail.notes
        assert (note.actor, note.reason, note.to_status) == (
            "alice",
            "looking at this\nback at 3",
            "needs_attention",
        )
        assert notices[-1].message == f"Note added to run {parked[0]}"
        # The detail pane lists it, line by line.
        shown = screen_text(app)
        assert "Notes (1)" in shown
        assert "    looking at this" in shown and "    back at 3" in shown


async def test_escape_and_a_blank_note(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        before = store.change_marker()
        await press(pilot, "n")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, AnswerModal)
        assert "note is required" in screen_text(app)
        await type_text(pilot, "never mind")
        await press(pilot, "escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert store.change_marker() == before and notices == []


async def test_the_palette_adds_a_note(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        names = [name for name, _, _ in app.main.palette_commands()]
        assert "Add note" in names
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await type_text(pilot, "add note")
        await settle(pilot)
        await press(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.screen, AnswerModal)
        assert app.screen.title_text == f"Note on run {parked[0]}"
        await type_text(pilot, "from the palette")
        await press(pilot, "ctrl+s")
        await settle(pilot)
        assert [n.reason for n in store.get_run(parked[0], check_disk=False).notes] == [
            "from the palette"
        ]


async def test_read_only_has_no_note(store, parked):
    app = make_app(store, read_only=True)
    async with running(app) as (pilot, notices):
        assert "Add note" not in [name for name, _, _ in app.main.palette_commands()]
        before = store.change_marker()
        await press(pilot, "n")
        assert isinstance(app.screen, MainScreen)
        assert notices[-1].message.startswith("Read-only: reviewing actions are off.")
        assert store.change_marker() == before


async def test_a_note_from_elsewhere_shows_in_the_detail(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        store.add_note(parked[0], text="waiting for the DBA", actor="bob")
        await press(pilot, "ctrl+r")
        await settle(pilot)
        assert "waiting for the DBA" in screen_text(app)


def test_a_large_marked_set_says_its_reasons_were_counted_over_the_first_runs(monkeypatch):
    from rich.text import Text

    from parkbench.core.records import Expectation
    from parkbench.tui.screens import actions

    monkeypatch.setattr(actions, "REASONS_SCANNED", 3)
    expected = {run_id: Expectation(RunStatus.NEEDS_ATTENTION, 1) for run_id in range(1, 6)}
    body = Text()
    actions.answered_reasons(body, expected, {}, [("disk full", 2), ("\x1b[31mred", 1)])
    assert body.plain.splitlines() == [
        "Block reasons it answers (2 distinct reasons among the first 3 of 5 runs):",
        "  2 runs: disk full",
        "  1 run: \\x1b[31mred",
    ]
