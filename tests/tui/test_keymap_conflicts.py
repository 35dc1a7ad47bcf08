"""Issue 15.14: a keymap that gives a binding another live binding's key is reported at
start, like keymap errors are (Textual would silently unbind one of them)."""

from __future__ import annotations

from pathlib import Path

from tuitest_support import make_app, running


async def test_a_conflicting_keymap_file_is_reported(store, parked, tmp_path: Path, monkeypatch):
    path = tmp_path / "keymap.toml"
    path.write_text('[keymap]\nrun-requeue = "j"\n')
    monkeypatch.setenv("PARKBENCH_KEYMAP", str(path))
    app = make_app(store, keymap=None)
    async with running(app) as (_pilot, notices):
        [notice] = [n for n in notices if n.title == "Keymap"]
        assert notice.severity == "warning"
        assert "'j' is given to run-requeue but list-down has it too" in notice.message


async def test_a_keymap_without_conflicts_says_nothing(store, parked):
    # `j` moves to requeue and the list's down key drops it: no conflict left.
    app = make_app(store, keymap={"run-requeue": "j", "list-down": "down"})
    async with running(app) as (_pilot, notices):
        assert [n for n in notices if n.title == "Keymap"] == []


async def test_defaults_that_share_a_key_on_purpose_are_not_reported(store, parked):
    # escape clears the filter on the list and in the bar (the focused one wins by design)
    app = make_app(store, keymap={"help": "f1"})
    async with running(app) as (_pilot, notices):
        assert [n for n in notices if n.title == "Keymap"] == []
