"""parkbench.tui.snapshot.headless: the real screens rendered to SVG and text, reproducibly
and safely; the text read back from Textual's SVG export."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from rich.style import Style
from rich.text import Text
from snapshottest_support import (
    HOSTILE,
    NOW_MS,
    SIZE,
    assert_safe_svg,
    assert_safe_text,
    park,
    seed_hostile,
    seed_review,
    svg_text,
)

from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store
from parkbench.tui.snapshot.headless import (
    SCREENS,
    Capture,
    View,
    _with_id_prefix,
    render_screens,
    svg_text_lines,
    write_captures,
)


class Clock:
    def __init__(self) -> None:
        self.now_ms = NOW_MS - 3_600_000

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, seconds: float) -> None:
        self.now_ms += int(seconds * 1000)


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, list[int]]]:
    root = tmp_path_factory.mktemp("review")
    workspace = root / "workspace"
    workspace.mkdir()
    with Store.open(f"sqlite:///{root / 'review.db'}", clock=Clock()) as store:
        yield store, seed_review(store, workspace, store.clock)


@pytest.fixture(scope="module")
def every_screen(review: tuple[Store, list[int]]) -> dict[str, Capture]:
    store, _ = review
    return {c.name: c for c in render_screens(store, View(now_ms=NOW_MS, screens=SCREENS))}


def test_the_same_database_clock_and_size_give_the_same_bytes(
    review: tuple[Store, list[int]], every_screen: dict[str, Capture]
) -> None:
    store, _ = review
    again = {c.name: c for c in render_screens(store, View(now_ms=NOW_MS, screens=SCREENS))}
    assert set(again) == set(SCREENS)
    for name, capture in every_screen.items():
        assert again[name].svg == capture.svg, name
        assert again[name].text == capture.text, name
        # A fixed id prefix instead of Rich's hash of the content.
        assert f"parkbench-{name}-r1" in capture.svg and "terminal-" not in capture.svg


def test_a_screen_does_not_depend_on_which_others_were_rendered(
    review: tuple[Store, list[int]], every_screen: dict[str, Capture]
) -> None:
    store, _ = review
    for name in ("detail", "help"):
        (alone,) = render_screens(store, View(now_ms=NOW_MS, screens=(name,)))
        assert alone.svg == every_screen[name].svg, name


def test_another_clock_changes_the_relative_times(
    review: tuple[Store, list[int]], every_screen: dict[str, Capture]
) -> None:
    store, _ = review
    (later,) = render_screens(store, View(now_ms=NOW_MS + 86_400_000 * 3, screens=("list",)))
    before = every_screen["list"].text.splitlines()
    after = later.text.splitlines()
    assert after != before and after[0] == before[0]  # the same counts, older "ago"s


def test_the_list_screen_shows_the_parked_runs(
    review: tuple[Store, list[int]], every_screen: dict[str, Capture]
) -> None:
    _, parked = review
    text = every_screen["list"].text
    assert_safe_text(text)
    for run_id in parked:
        assert str(run_id) in text
    assert "Summarise the logs" in text and "Rebuild the index" in text
    assert "Still queued" not in text  # queued, not parked
    assert "1/4" in text  # receipts checked on disk: 1 of 4 present
    root = assert_safe_svg(every_screen["list"].svg)
    assert "Summarise the logs" in svg_text(root)


def test_the_detail_screen_is_the_first_parked_run_in_full(
    every_screen: dict[str, Capture], review: tuple[Store, list[int]]
) -> None:
    _, parked = review
    text = every_screen["detail"].text
    assert_safe_text(text)
    assert f"run {parked[0]}" in text
    assert "need an API key" in text and "see ticket 12" in text  # the whole reason
    assert "present" in text and "missing" in text and "not a file" in text
    assert "Events" in text


def test_the_help_screen_lists_binding_ids(every_screen: dict[str, Capture]) -> None:
    text = every_screen["help"].text
    assert_safe_text(text)
    for binding_id in (
        "run-requeue",
        "run-fail",
        "run-release",
        "filter",
        "filter-ready",
        "run-note",
        "causes",
        "history",
        "quit",
        "confirm-no",
        "modal-send",
    ):  # the top of the help: it scrolls (tests/tui/test_view.py reads all of it)
        assert binding_id in text


def test_the_action_modal_is_shown_and_nothing_is_done(
    review: tuple[Store, list[int]], every_screen: dict[str, Capture]
) -> None:
    store, parked = review
    text = every_screen["action"].text
    assert_safe_text(text)
    assert f"Requeue run {parked[0]}" in text and "Reason" in text
    detail = store.get_run(parked[0])
    assert detail.run.status is RunStatus.NEEDS_ATTENTION
    assert [event.action for event in detail.events][-1] == "block"


def test_status_and_filter_shape_the_view(review: tuple[Store, list[int]]) -> None:
    store, parked = review
    view = View(now_ms=NOW_MS, status=None, search="index", screens=("list", "detail"))
    shown = {c.name: c.text for c in render_screens(store, view)}
    assert "Rebuild the index" in shown["list"] and "Summarise the logs" not in shown["list"]
    assert "all statuses" in shown["list"] and "index" in shown["list"]
    assert f"run {parked[1]}" in shown["detail"]
    queued = View(now_ms=NOW_MS, status=RunStatus.QUEUED, screens=("list",))
    (listed,) = render_screens(store, queued)
    assert "Still queued" in listed.text and "Summarise the logs" not in listed.text


def test_an_empty_database_renders_and_skips_the_action_modal(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'empty.db'}") as store:
        captures = {c.name: c for c in render_screens(store, View(NOW_MS, screens=SCREENS))}
    assert captures["action"].skipped and not captures["action"].svg
    assert "No runs" in captures["list"].text
    written = write_captures(list(captures.values()), tmp_path)
    assert written["action"] == {"skipped": captures["action"].skipped}
    assert (tmp_path / "list.svg").is_file() and not (tmp_path / "action.svg").exists()


# -- hostile text -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("hostile")
    workspace = root / "workspace"
    workspace.mkdir()
    with Store.open(f"sqlite:///{root / 'hostile.db'}", clock=Clock()) as store:
        seed_hostile(store, workspace, store.clock)
        yield store


def test_the_hostile_list_is_literal_and_safe(hostile: Store) -> None:
    (listed,) = render_screens(hostile, View(NOW_MS, screens=("list",)))
    assert_safe_text(listed.text)
    root = assert_safe_svg(listed.svg)
    drawn = svg_text(root)
    for name in HOSTILE:
        assert f"{name} title" in listed.text and f"{name} title" in drawn
    assert "[bold red]x[/]" in listed.text  # markup shown, not applied
    assert "\\x1b[31mred" in listed.text  # an escape sequence shown escaped


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_run_in_detail_is_literal_and_safe(hostile: Store, name: str) -> None:
    view = View(NOW_MS, search=f"{name} title", screens=("detail", "action"))
    captures = {c.name: c for c in render_screens(hostile, view)}
    for capture in captures.values():
        assert_safe_text(capture.text, SIZE)
        root = assert_safe_svg(capture.svg)
        assert f"{name} title" in svg_text(root)
    text = captures["detail"].text
    expected = {
        "markup": ["[bold red]x[/]", "[@click=app.quit]quit[/]", "[link=https://evil.example]"],
        "ansi": ["\\x1b[31mred\\x1b[0m", "\\x1b]0;pwned\\x07"],
        "svg": ["<script>alert(1)</script> & <b>bold</b>"],
        "bidi": ["\\u202efdp.exe\\u202c", "\\u200b"],
        "c1": ["\\x9b31m", "\\x85"],
        "nonchar": ["\\ufffe\\uffff"],
        "long": ["LLLLLLLLLL"],
    }[name]
    for fragment in expected:
        assert fragment in text, (fragment, text)
    if name == "svg":
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&#160;&amp;" in captures["detail"].svg


def test_a_character_the_app_passes_through_is_escaped_in_the_files(tmp_path: Path) -> None:
    # U+FFFE is harmless on a terminal, so the app shows it as is; XML forbids it, so the
    # export escapes it like every other unsafe character.
    workspace = tmp_path / "ws"
    workspace.mkdir()
    with Store.open(f"sqlite:///{tmp_path / 'x.db'}", clock=Clock()) as store:
        park(store, workspace, "odd \ufffe title", "odd \uffff reason")
        (listed,) = render_screens(store, View(NOW_MS, screens=("list",)))
    assert "odd \\ufffe title" in listed.text
    assert_safe_svg(listed.svg)


def test_a_store_failure_fails_the_snapshot_with_its_code(tmp_path: Path) -> None:
    import sqlite3

    from parkbench.core.errors import ParkbenchError

    db = tmp_path / "broken.db"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    with Store.open(f"sqlite:///{db}", clock=Clock()) as store:
        park(store, workspace, "t", "r")
        with sqlite3.connect(db) as raw:  # the table goes away under the open store
            raw.execute("ALTER TABLE runs RENAME TO runs_gone")
        with pytest.raises(ParkbenchError) as raised:
            render_screens(store, View(NOW_MS, screens=("list",)))
    assert raised.value.code == "database"


# -- the text read back from the SVG --------------------------------------------------------


def test_the_text_read_from_rich_svg_is_the_text_rich_printed() -> None:
    """Guards svg_text_lines' reading of Rich's SVG format (Textual has no public text
    export): a change in that format fails here, not in a CI artifact."""
    console = Console(
        width=40,
        height=6,
        record=True,
        force_terminal=True,
        color_system="truecolor",
        file=open(os.devnull, "w"),  # noqa: SIM115 - record=True: nothing is written there
    )
    lines = [
        Text.assemble(("  run", "bold"), "   ", ("42", Style(color="red", bgcolor="blue"))),
        Text("wide 漢字 then 🚧 emoji & <tags> \"q\" 'a'"),
        Text("no\u00a0break  &#160; literal"),
        Text(""),
        Text.assemble(("x", "italic"), " " * 30, ("end", "underline")),
    ]
    for line in lines:
        console.print(line, crop=True, soft_wrap=False)
    expected = console.export_text(clear=False).split("\n")[: len(lines)]
    svg = console.export_svg(title="t", unique_id="pb-test")
    read = svg_text_lines(svg, "pb-test", len(lines))
    assert [line.rstrip() for line in read] == [line.rstrip() for line in expected]
    assert read[1].startswith("wide 漢字 then 🚧 emoji & <tags>") and "\u00a0" in read[2]


def test_the_fixed_id_prefix_never_touches_the_text_drawn(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    with Store.open(f"sqlite:///{tmp_path / 'x.db'}", clock=Clock()) as store:
        park(store, workspace, 'see terminal-123-r1 and class="terminal-9-x"', "r")
        (listed,) = render_screens(store, View(NOW_MS, screens=("list",)))
    assert "terminal-123-r1" in listed.text and "terminal-123-r1" in listed.svg
    assert "terminal-9-x" in svg_text(assert_safe_svg(listed.svg))
    svg = '<style>.terminal-77-r1 { }</style><text class="terminal-77-r1">terminal-77-r1</text>'
    assert _with_id_prefix(svg, "p") == (
        '<style>.p-r1 { }</style><text class="p-r1">terminal-77-r1</text>'
    )
