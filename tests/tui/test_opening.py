"""Issues 15.3 and 15.7: `--read-only` opens the database read-only; a database that cannot
be written is opened read-only by itself, and the app says so; a missing database is an
error (never silently created and shown as "parked 0"); the help names the open database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tuitest_support import make_app, press, running, screen_text

from parkbench.core.errors import ParkbenchError
from parkbench.core.store import Store
from parkbench.tui import app as app_module
from parkbench.tui import opening
from parkbench.tui.app import ParkbenchApp


class _Opened:
    """Stands in for the app: records what run_app opened, runs nothing."""

    seen: dict[str, Any] = {}

    def __init__(self, store: Store, **options: Any) -> None:
        _Opened.seen = {"store_read_only": store.read_only, **options}
        self.return_code = 0

    def run(self) -> None:
        return None


@pytest.fixture
def db_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'review.db'}"
    Store.open(url).close()
    return url


def test_read_only_flag_opens_the_store_read_only(db_file, monkeypatch):
    monkeypatch.setattr(app_module, "ParkbenchApp", _Opened)
    assert app_module.run_app(db_file, read_only=True) == 0
    assert _Opened.seen["store_read_only"] is True and _Opened.seen["read_only"] is True


def test_an_unwritable_database_opens_read_only_and_says_so(db_file, monkeypatch):
    monkeypatch.setattr(app_module, "ParkbenchApp", _Opened)
    monkeypatch.setattr(opening, "database_writable", lambda _url: False)
    assert app_module.run_app(db_file) == 0
    seen = _Opened.seen
    assert seen["store_read_only"] is True and seen["read_only"] is True
    assert seen["open_note"].startswith("opened read-only:")
    assert seen["database"].endswith("review.db")


def test_a_writable_database_opens_for_review(db_file, monkeypatch):
    monkeypatch.setattr(app_module, "ParkbenchApp", _Opened)
    assert app_module.run_app(db_file) == 0
    assert _Opened.seen["store_read_only"] is False and _Opened.seen["open_note"] == ""


def test_a_missing_database_is_an_error(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(app_module, "ParkbenchApp", _Opened)
    _Opened.seen = {}
    with pytest.raises(ParkbenchError):
        app_module.run_app(f"sqlite:///{tmp_path / 'mistyped.db'}")
    assert _Opened.seen == {}  # the app never started on an empty new database


async def test_the_help_names_the_database_and_the_note_is_shown(store, parked):
    app: ParkbenchApp = make_app(
        store,
        read_only=True,
        database="sqlite:////data/review.db",
        open_note="opened read-only: /data/review.db cannot be written by this user",
    )
    async with running(app) as (pilot, notices):
        assert any(n.message.startswith("opened read-only:") for n in notices)
        assert "read-only" in screen_text(app).splitlines()[1]
        await press(pilot, "question_mark")
        assert "Database: sqlite:////data/review.db (read-only)" in screen_text(app)
