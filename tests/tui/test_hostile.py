"""Untrusted text is data: shown literally, escapes made visible, never interpreted."""

from __future__ import annotations

from textual.widgets import Static
from tuitest_support import (
    make_app,
    park,
    press,
    running,
    screen_text,
    settle,
    type_text,
    wait_until,
)

from parkbench.tui.widgets.detail_pane import REASON_MAX, DetailPane

MARKUP = "[bold red]x[/]"
BAD_CLOSE = "[/foo]"
CLICK = "[@click=app.quit]click me[/]"
ANSI = "\x1b[31mred\x1b[0m"
OSC_TITLE = "\x1b]0;pwned\x07"
BIDI = "abc\u202edef"
CONTROL = set(chr(c) for c in range(0x20) if c != 0x0A) | {"\x7f", "\x9b", "\u202e"}


def no_control(text: str) -> bool:
    return not (set(text) & CONTROL)


async def test_markup_and_escapes_in_list_detail_and_modal(store, workspace, clock):
    hostile_dir = workspace / "[bold]ws"
    hostile_dir.mkdir()
    run_id = park(
        store,
        hostile_dir,
        f"{MARKUP} {BAD_CLOSE} {OSC_TITLE}title",
        f"{CLICK} {ANSI} {BIDI}\nsecond {MARKUP}",
        worker=f"w{BAD_CLOSE}{ANSI}",
        clock=clock,
    )
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        text = screen_text(app)
        row = next(line for line in text.splitlines() if line.startswith(f"{run_id:>9} "))
        assert MARKUP in row and BAD_CLOSE in row
        assert "\\x1b]0;pwned\\x07title" in text  # the OSC sequence, visibly escaped
        assert "[@click=app.quit]click me[/]" in text
        assert "\\x1b[31mred\\x1b[0m" in text
        assert "abc\\u202edef" in text
        assert no_control(text)
        # every painted strip of the list, segment by segment: nothing for the terminal
        runs = app.main.runs
        for y in range(runs.size.height):
            assert no_control("".join(segment.text for segment in runs.render_line(y)))
        detail = app.main.query_one(DetailPane)
        body = detail.render_detail(detail.detail).plain
        assert (
            f"second {MARKUP}" in body and "[bold]ws" in body and no_control(body.replace("\n", ""))
        )
        # clicking the would-be link does nothing: no action runs from data
        await pilot.click(type(runs), offset=(100, 1))
        await settle(pilot)
        assert app.is_running
        # the modal names the run literally
        await press(pilot, "r")
        modal_text = screen_text(app)
        assert MARKUP in modal_text and "\\x1b]0;pwned" in modal_text and no_control(modal_text)
        await press(pilot, "escape")
        # the exported SVG carries the escapes as text, not as control bytes
        assert no_control(app.export_screenshot().replace("\n", ""))


async def test_hostile_actor_in_a_conflict_notification(store, workspace, clock):
    run_id = park(store, workspace, "Plain title", "plain reason", clock=clock)
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await press(pilot, "r")
        store.force_release([run_id], reason="x", actor=f"{CLICK}{ANSI}")
        await type_text(pilot, "go")
        await press(pilot, "ctrl+s")
        await settle(pilot)
        [notice] = notices
        assert notice.markup is False
        assert f"release by {CLICK}\\x1b[31mred\\x1b[0m" in notice.message
        assert no_control(notice.message.replace("\n", ""))
        assert app.is_running


async def test_filter_text_is_shown_literally(store, workspace, clock):
    park(store, workspace, f"has {MARKUP} inside", "why", clock=clock)
    park(store, workspace, "other", "why", clock=clock)
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "slash")
        await type_text(pilot, "[bold")
        await settle(pilot)
        assert [row.title for row in app.main.runs.window.rows] == [f"has {MARKUP} inside"]
        assert "filter “[bold”" in screen_text(app)


async def test_long_lines_are_cut_in_cells_and_bounded_in_the_detail(store, workspace, clock):
    long_title = "T" * 5_000
    long_reason = ("word " * 20_000).strip()  # 100k characters, one line
    park(store, workspace, long_title, long_reason, clock=clock)
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        text = screen_text(app)
        assert all(len(line) <= 120 for line in text.splitlines())
        row = next(line for line in text.splitlines() if "TTTT" in line)
        assert "…" in row
        detail = app.main.query_one(DetailPane)
        body = detail.query_one("#detail-body", Static).content.plain
        assert f"{len(long_reason) - REASON_MAX:,} more characters not shown" in body
        assert len(body) < REASON_MAX + 8_000
        await press(pilot, "tab")  # the pane wraps the reason and scrolls over it
        assert app.focused is detail
        await press(pilot, "end")
        await wait_until(  # End scrolls after a refresh; a focus change may re-wrap first
            pilot,
            lambda: detail.max_scroll_y > 100 and detail.scroll_y == detail.max_scroll_y,
            what="the pane to scroll to its end",
        )
        await settle(pilot)
        assert "Metadata" in screen_text(app)
