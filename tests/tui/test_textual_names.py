"""Issue 15.1: nothing in the app shadows a name Textual's own classes use, a double click
on a row does not crash, and an unexpected exception ends ``parkbench`` with a non-zero
status (Textual prints the traceback; the exit status must say it failed)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from textual.dom import DOMNode
from textual.message import Message
from textual.pilot import Pilot
from tuitest_support import make_app, running, settle

from parkbench.core.store import Store
from parkbench.tui import app as app_module
from parkbench.tui.app import ParkbenchApp


def _textual_bases(cls: type) -> list[type]:
    return [base for base in cls.__mro__[1:] if base.__module__.startswith("textual")]


def _shadowed(obj: object) -> list[str]:
    """Names ``obj`` (its class, its instance attributes) defines that a Textual base class
    defines differently: a method replaced by data, or data by a method."""
    cls = type(obj)
    found = []
    bases = _textual_bases(cls)
    own: dict[str, Any] = {}
    for klass in cls.__mro__:
        if klass.__module__.startswith("parkbench"):
            own.update({k: v for k, v in vars(klass).items() if k not in own})
    own.update(getattr(obj, "__dict__", {}))
    for name, value in own.items():
        if name.startswith("__"):
            continue
        for base in bases:
            if name in vars(base):
                theirs = vars(base)[name]
                if inspect.isfunction(theirs) != inspect.isfunction(value) or isinstance(
                    value, property
                ) != isinstance(theirs, property):
                    found.append(f"{cls.__name__}.{name} shadows {base.__name__}.{name}")
                break
    return found


async def test_no_widget_screen_or_app_shadows_a_textual_name(store, parked):
    app = make_app(store)
    async with running(app):
        nodes: list[DOMNode] = [app, *app.main.walk_children(with_self=True)]
        problems = [problem for node in nodes for problem in _shadowed(node)]
        assert not problems, problems
        assert not _shadowed(Message())


async def _double_click_row(pilot: Pilot, row_offset: int) -> None:
    await pilot.click("#runs", offset=(4, row_offset), times=2)


async def test_double_clicking_a_row_does_not_crash(store, parked):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        await _double_click_row(pilot, 2)  # the second run (line 0 is the column header)
        await settle(pilot)
        assert app.is_running
        assert app.main.runs.highlighted is not None
        assert app.main.runs.highlighted.id == parked[1]
        await pilot.click("#runs", offset=(4, 1), times=3)  # a triple click, too
        await settle(pilot)
        assert app.is_running


class _Crashing(ParkbenchApp):
    CSS_PATH = str(Path(app_module.__file__).parent / "styles" / "app.tcss")

    def on_mount(self) -> None:
        raise RuntimeError("a bug in the app")

    def run(self, **options: Any) -> Any:  # type: ignore[override]
        return super().run(headless=True, **options)


def test_an_unexpected_exception_exits_non_zero(tmp_path: Path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    Store.open(url).close()
    monkeypatch.setattr(app_module, "ParkbenchApp", _Crashing)
    status = app_module.run_app(url)
    assert status != 0
    captured = capsys.readouterr()
    assert "a bug in the app" in captured.err + captured.out
