"""Issue 15.8: light themes are readable (every colour from the theme, translucent ones
blended over the list's background), and the chosen theme is saved and restored."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.color import Color as RichColor
from textual.color import Color
from tuitest_support import make_app, running, settle


def _luminance(color: RichColor) -> float:
    r, g, b = color.get_truecolor()
    return Color(r, g, b).brightness


@pytest.mark.parametrize("theme", ["textual-light", "solarized-light", "textual-dark"])
async def test_every_cell_contrasts_with_the_background(store, parked, theme):
    app = make_app(store)
    async with running(app) as (pilot, _notices):
        app.theme = theme
        await settle(pilot)
        runs = app.main.runs
        strip = runs.render_line(2)  # the second run: not the cursor row
        for segment in strip:
            style = segment.style
            if not segment.text.strip() or style is None or style.color is None:
                continue
            assert style.bgcolor is not None
            gap = abs(_luminance(style.color) - _luminance(style.bgcolor))
            assert gap > 0.25, (theme, segment.text, style)


async def test_the_chosen_theme_is_saved_and_restored(store, parked, tmp_path: Path):
    theme_file = tmp_path / "config" / "settings.toml"
    app = make_app(store, settings_file=theme_file)
    async with running(app) as (pilot, _notices):
        app.theme = "solarized-light"
        await settle(pilot)
        await pilot.app.workers.wait_for_complete()
    assert 'theme = "solarized-light"' in theme_file.read_text(encoding="utf-8")
    again = make_app(store, settings_file=theme_file)
    async with running(again):
        assert again.theme == "solarized-light"


async def test_a_broken_settings_file_is_ignored(store, parked, tmp_path: Path):
    theme_file = tmp_path / "settings.toml"
    theme_file.write_text("theme = [not toml")
    app = make_app(store, settings_file=theme_file)
    async with running(app):
        assert app.theme == "textual-dark"
