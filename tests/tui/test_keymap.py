"""Bindings have stable ids; a keymap file remaps them."""

from __future__ import annotations

from pathlib import Path

from textual.binding import Binding
from tuitest_support import make_app, press, running, settle

from parkbench.tui.app import ParkbenchApp
from parkbench.tui.keymap import (
    KEYMAP_ENV,
    declared_bindings,
    keymap_path,
    load_keymap,
    parse_keymap,
)
from parkbench.tui.screens.main import MainScreen
from parkbench.tui.screens.reason_modal import ReasonModal


def test_every_binding_has_a_unique_id():
    seen: dict[str, str] = {}
    for _, owner in ParkbenchApp.BINDING_OWNERS:
        owner = ParkbenchApp if owner.__name__ == "App" else owner
        for spec in owner.BINDINGS:
            assert isinstance(spec, Binding) and spec.id, f"{owner.__name__}: {spec}"
            assert spec.id not in seen, f"{spec.id} on {owner.__name__} and {seen[spec.id]}"
            seen[spec.id] = owner.__name__
    for expected in (
        "run-requeue",
        "run-fail",
        "run-release",
        "run-mark",
        "run-mark-all",
        "run-clear-marks",
        "filter",
        "filter-clear",
        "sort-cycle",
        "status-cycle",
        "help",
        "quit",
        "command-palette",
    ):
        assert expected in seen


def test_parse_keymap_reports_problems_and_keeps_the_rest(tmp_path):
    known = ["run-requeue", "list-down", "quit"]
    text = """
[keymap]
run-requeue = "R"
list-down = ["down", "ctrl+n"]
quit = ""
nonsense = "x"
"""
    loaded = parse_keymap(text, known, tmp_path / "k.toml")
    assert loaded.keymap == {"run-requeue": "R", "list-down": "down,ctrl+n"}
    assert any("unknown binding id 'nonsense'" in p for p in loaded.problems)
    assert any("quit must be a key string" in p for p in loaded.problems)
    broken = parse_keymap("[keymap\n", known, tmp_path / "k.toml")
    assert broken.keymap == {} and "not valid TOML" in broken.problems[0]
    flat = parse_keymap('run-requeue = "ctrl+r"', known, tmp_path / "k.toml")
    assert flat.keymap == {"run-requeue": "ctrl+r"}


def test_keymap_path_and_missing_file(tmp_path, monkeypatch):
    target = tmp_path / "mine.toml"
    monkeypatch.setenv(KEYMAP_ENV, str(target))
    assert keymap_path() == target
    assert load_keymap(["quit"]).keymap == {}
    monkeypatch.delenv(KEYMAP_ENV)
    assert keymap_path().name == "keymap.toml"


async def test_the_app_applies_the_keymap_file(store, parked, tmp_path: Path, monkeypatch):
    path = tmp_path / "keymap.toml"
    path.write_text('[keymap]\nrun-requeue = "R"\nno-such-binding = "z"\n')
    monkeypatch.setenv(KEYMAP_ENV, str(path))
    app = make_app(store, keymap=None)
    async with running(app) as (pilot, notices):
        assert any("unknown binding id 'no-such-binding'" in n.message for n in notices)
        await press(pilot, "r")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        await press(pilot, "R")
        assert isinstance(app.screen, ReasonModal)
        assert str(path) in app.keymap_note


def test_declared_bindings_map_ids_to_owners():
    found = declared_bindings([MainScreen])
    owner, binding = found["run-requeue"]
    assert owner is MainScreen and binding.key == "r" and binding.action == "requeue"
