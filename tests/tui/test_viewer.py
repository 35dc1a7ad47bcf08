"""Issue 20 §2, look inside without leaving: the viewer (v), the pager (e), copying (y),
jumping to a run (: or #) and what the status browser's detail pane leads with."""

from __future__ import annotations

import os
from pathlib import Path

from textual.command import CommandPalette
from tuitest_support import make_app, park, press, running, screen_text, settle, type_text

from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store
from parkbench.tui.screens.choice_modal import ChoiceModal
from parkbench.tui.screens.confirm_modal import ConfirmModal
from parkbench.tui.screens.file_viewer import FileViewer
from parkbench.tui.screens.jump_modal import JumpModal, parse_run_id
from parkbench.tui.screens.main import MainScreen


def choice_keys(app) -> list[str]:  # type: ignore[no-untyped-def]
    screen = app.screen
    assert isinstance(screen, ChoiceModal)
    return [key for key, _ in screen.choices]


async def pick(pilot, key: str) -> None:  # type: ignore[no-untyped-def]
    """Move the chooser's highlight to ``key`` and press enter."""
    keys = choice_keys(pilot.app)
    for _ in range(keys.index(key)):
        await press(pilot, "down")
    await press(pilot, "enter")
    await settle(pilot)


async def test_v_offers_the_receipts_and_the_workspace_and_opens_a_receipt(
    store: Store, parked, workspace: Path
):
    (workspace / "out" / "a.txt").write_text("all \x1b[31mgood\x1b[0m [bold]here[/]\n")
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "v")
        assert choice_keys(app) == ["receipt:0", "receipt:1", "browse"]
        text = screen_text(app)
        assert "✓ present" in text and "out/a.txt" in text
        assert "✗ missing" in text and "out/b.txt" in text
        await pick(pilot, "receipt:0")
        assert isinstance(app.screen, FileViewer)
        text = screen_text(app)
        assert "out/a.txt · text · 32 B" in text
        assert r"all \x1b[31mgood\x1b[0m [bold]here[/]" in text  # literal, escaped
        await press(pilot, "escape")
        assert isinstance(app.screen, MainScreen) and app.main.runs.highlighted is not None
        assert app.main.runs.highlighted.id == parked[0]


async def test_a_missing_receipt_opens_as_missing(store: Store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "v")
        await pick(pilot, "receipt:1")
        assert "out/b.txt · missing" in screen_text(app)


async def test_browse_lists_descends_and_stays_inside_the_root(
    store: Store, parked, workspace: Path, tmp_path: Path
):
    outside = tmp_path / "secrets"
    outside.mkdir()
    (outside / "key.txt").write_text("s3cret")
    os.symlink(outside, workspace / "escape")
    (workspace / "notes.md").write_text("# notes\n")
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "v")
        await pick(pilot, "browse")
        viewer = app.screen
        assert isinstance(viewer, FileViewer)
        text = screen_text(app)
        assert ". · directory · 3 entries" in text
        lines = [line.strip() for line in text.splitlines()]
        assert lines.index("dir   out/") < lines.index("file  notes.md  8 B")
        assert "link  escape" in lines
        # The listing: out/, escape, notes.md (directories first). Enter on out/ descends.
        await press(pilot, "enter")
        await settle(pilot)
        assert viewer.relative == "out"
        assert "file  a.txt  2 B" in screen_text(app)
        await press(pilot, "backspace")  # up, back on out/
        await settle(pilot)
        assert viewer.relative == "." and viewer.entries.highlighted == 0
        await press(pilot, "down", "enter")  # the link that leads outside
        await settle(pilot)
        text = screen_text(app)
        assert "escape · refused" in text
        assert "validation: artifact path 'escape' resolves outside the workspace root" in text
        assert "s3cret" not in text
        await press(pilot, "backspace")
        await settle(pilot)
        assert viewer.relative == "."


async def test_binary_and_large_files_say_so(store: Store, workspace: Path, clock):
    (workspace / "out").mkdir()
    (workspace / "out" / "blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (workspace / "out" / "big.log").write_text(("x" * 99 + "\n") * 31_457 + "y" * 28)  # 3 MB
    park(store, workspace, "Images", "look", required=["out/blob.bin", "out/big.log"], clock=clock)
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await press(pilot, "v")
        await pick(pilot, "receipt:0")
        text = screen_text(app)
        assert "binary (contains NUL bytes) · 10 B" in text
        assert "00000000  89 50 4e 47 0d 0a 1a 0a 00 00" in text
        await press(pilot, "escape", "v")
        await pick(pilot, "receipt:1")
        assert isinstance(app.screen, FileViewer)
        assert app.screen.seen is not None and app.screen.seen.bytes_read == 64 * 1024
        assert "first 64 KB of 3 MB" in screen_text(app)


async def test_e_without_a_terminal_to_hand_over_says_so(store: Store, parked, monkeypatch):
    monkeypatch.setenv("PAGER", "my-pager --flag")
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await press(pilot, "v")
        await pick(pilot, "receipt:0")
        await press(pilot, "e")
        assert isinstance(app.screen, FileViewer)  # still here
        (notice,) = [n for n in notices if "pager" in n.message]
        assert "cannot be handed to a pager (headless)" in notice.message
        assert "my-pager --flag " in notice.message and notice.message.endswith("out/a.txt")


async def test_y_copies_what_was_picked(store: Store, parked, workspace: Path):
    app = make_app(store)
    root = store.get_run(parked[0]).run.workspace_root
    expected = {
        "run-id": str(parked[0]),
        "workspace": root,
        "receipt:0": os.path.join(root, "out/a.txt"),
        "receipt:1": os.path.join(root, "out/b.txt"),
        "reason": "need an API key\nsee ticket 12",
    }
    async with running(app) as (pilot, notices):
        for key, value in expected.items():
            await press(pilot, "y")
            assert choice_keys(app) == list(expected)
            await pick(pilot, key)
            assert app.clipboard == value
            assert notices[-1].title == "Clipboard"
            assert notices[-1].message.startswith("Copied the ")
            assert "\n" not in notices[-1].message  # one line, literal
        assert notices[-1].message == "Copied the block reason: need an API key see ticket 12"
        await press(pilot, "y", "escape")
        assert isinstance(app.screen, MainScreen) and app.clipboard == expected["reason"]


def test_run_ids_are_parsed_leniently_and_nothing_else() -> None:
    assert [parse_run_id(t) for t in ("945", "#945", " run 945 ", "run #945")] == [945] * 4
    assert [parse_run_id(t) for t in ("", "#", "-3", "0", "9a", "٣", "1e3")] == [None] * 7


async def test_jump_to_a_run_in_view_scrolls_to_it(store: Store, workspace: Path, clock):
    ids = [park(store, workspace, f"Run {n}", f"reason {n}", clock=clock) for n in range(300)]
    app = make_app(store, page_size=40, window_rows=120)
    async with running(app) as (pilot, _notices):
        await press(pilot, "colon")
        assert isinstance(app.screen, JumpModal)
        await type_text(pilot, f"#{ids[250]}")
        await press(pilot, "enter")
        await settle(pilot)
        runs = app.main.runs
        assert runs.highlighted is not None and runs.highlighted.id == ids[250]
        assert runs.cursor == 250
        assert "Run 250" in screen_text(app)
        await press(pilot, "number_sign")  # the other key
        await type_text(pilot, "nonsense")
        await press(pilot, "enter")
        assert "A run id is a positive number" in screen_text(app)
        await press(pilot, "escape")
        await press(pilot, "colon")
        await type_text(pilot, "99999")
        await press(pilot, "enter")
        await settle(pilot)
        assert runs.highlighted is not None and runs.highlighted.id == ids[250]


async def test_jump_to_a_run_out_of_view_opens_its_detail_and_offers_its_view(
    store: Store, parked, workspace: Path
):
    queued = store.enqueue("Waiting work", workspace, actor="ci").run_id
    app = make_app(store)
    async with running(app) as (pilot, notices):
        await press(pilot, "colon")
        await type_text(pilot, str(queued))
        await press(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        text = screen_text(app)
        assert f"Run {queued} is queued, not in this view." in text
        await press(pilot, "n")
        text = screen_text(app)
        assert f"Run {queued} is queued: not in this view (it is in the queued view)." in text
        assert (
            "Waiting work" in text and app.main.runs.view_query.status is RunStatus.NEEDS_ATTENTION
        )
        await press(pilot, "colon")
        await type_text(pilot, str(queued))
        await press(pilot, "enter")
        await settle(pilot)
        await press(pilot, "y")  # switch to the queued view, on the run
        await settle(pilot)
        runs = app.main.runs
        assert runs.view_query.status is RunStatus.QUEUED
        assert runs.highlighted is not None and runs.highlighted.id == queued
        await press(pilot, "colon")
        await type_text(pilot, "424242")
        await press(pilot, "enter")
        await settle(pilot)
        assert "not_found: run 424242 does not exist" in notices[-1].message


async def test_the_palette_offers_view_copy_and_jump(store: Store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        names = [name for name, _, _ in app.main.palette_commands()]
        assert f"View a receipt or the workspace of run {parked[0]}" in names
        assert f"Copy from run {parked[0]}" in names and "Jump to run" in names
        for typed, screen in (
            ("jump to run", JumpModal),
            ("view a receipt", ChoiceModal),
            ("copy from run", ChoiceModal),
        ):
            await press(pilot, "ctrl+p")
            assert isinstance(app.screen, CommandPalette)
            await type_text(pilot, typed)
            await settle(pilot)
            await press(pilot, "enter")
            await settle(pilot)
            assert isinstance(app.screen, screen), typed
            await press(pilot, "escape")
            assert isinstance(app.screen, MainScreen)


async def test_the_status_browser_leads_with_the_lease_or_result_and_last_events(
    store: Store, workspace: Path, clock
):
    done = store.enqueue("Finished work", workspace, actor="ci").run_id
    claim = store.claim_next("agent-d")
    assert claim is not None and claim.run_id == done
    store.complete(claim.run_id, claim.claim_token, result={"rows": 12, "note": "ok"})
    held = store.enqueue("Running work", workspace, actor="ci").run_id
    assert store.claim_next("agent-h") is not None
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        app.main.show_status(RunStatus.CLAIMED)
        await settle(pilot)
        text = screen_text(app)
        assert app.main.runs.highlighted is not None and app.main.runs.highlighted.id == held
        assert "Lease" in text and "held by agent-h · until " in text
        assert "Last events (newest first)" in text
        lines = text.splitlines()
        last = lines.index(next(line for line in lines if "Last events" in line))
        assert "claim by worker:agent-h  queued → claimed" in lines[last + 1]
        app.main.show_status(RunStatus.COMPLETED)
        await settle(pilot)
        text = screen_text(app)
        assert "Result" in text and '"rows": 12' in text
        assert text.index("Result") < text.index("Receipts")  # near the top, not at the end
        assert "complete by worker:agent-d  claimed → completed" in text
