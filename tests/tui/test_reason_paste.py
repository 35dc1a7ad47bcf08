"""Issue 15.13: a multi-line paste into a one-line reason prompt (fail, release) keeps every
line (joined into one) and the modal says so. The requeue's answer and a note take several
lines, and a paste keeps them as they are: tests/tui/test_answer_note.py."""

from __future__ import annotations

from textual import events
from textual.widgets import Input
from tuitest_support import drain, make_app, press, refreshed, running, screen_text, settle

from parkbench.core.lifecycle import RunStatus


async def test_a_multi_line_paste_keeps_every_line_and_says_so(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "f")
        field = app.screen.query_one("#reason-input", Input)
        field.post_message(events.Paste("key rotated\nsee OPS-1234\n\nretry now\n"))
        await drain(app)
        await refreshed(app)
        assert field.value == "key rotated see OPS-1234 retry now"
        assert "3 pasted lines were joined into one line." in screen_text(app)
        await press(pilot, "enter")
        await settle(pilot)
        detail = store.get_run(parked[0], check_disk=False)
        assert detail.run.status is RunStatus.FAILED
        assert any("retry now" in (event.reason or "") for event in detail.events)


async def test_a_one_line_paste_is_unchanged(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "l")
        field = app.screen.query_one("#reason-input", Input)
        field.post_message(events.Paste("just this"))
        await drain(app)
        assert field.value == "just this"
        assert "pasted lines" not in screen_text(app)
