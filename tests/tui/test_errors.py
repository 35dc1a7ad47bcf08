"""Failures are shown, never crash the app, and the list recovers."""

from __future__ import annotations

from tuitest_support import make_app, press, running, screen_text, settle, type_text

from parkbench.core.errors import DatabaseError
from parkbench.core.lifecycle import RunStatus
from parkbench.tui.screens import loading


async def test_a_failing_page_is_reported_and_asked_again(store, parked, monkeypatch):
    app = make_app(store)
    async with running(app) as (pilot, notices):
        real = loading.fetch_rows

        def broken(store_, fetch):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

        monkeypatch.setattr(loading, "fetch_rows", broken)
        await press(pilot, "o")  # a new sort order: the page read fails
        await settle(pilot)
        assert any("RuntimeError: boom" in n.message and n.severity == "error" for n in notices)
        assert app.is_running
        monkeypatch.setattr(loading, "fetch_rows", real)
        await press(pilot, "o")
        await settle(pilot)
        assert [row.id for row in app.main.runs.window.rows] == parked  # task order


async def test_store_errors_show_code_message_and_hint(store, parked, monkeypatch):
    app = make_app(store)
    async with running(app) as (pilot, notices):

        def locked(*_args, **_kwargs):  # type: ignore[no-untyped-def]
            raise DatabaseError("database is locked", hint="retry in a moment")

        monkeypatch.setattr(store, "review", locked)
        await press(pilot, "r")
        await type_text(pilot, "retry")
        await press(pilot, "ctrl+s")
        await settle(pilot)
        [notice] = notices
        assert notice.message == (
            "requeue failed: database: database is locked — retry in a moment"
        )
        assert notice.markup is False
        monkeypatch.setattr(store, "get_run", locked)
        await press(pilot, "down")
        await settle(pilot)
        assert "database: database is locked" in screen_text(app)
        assert store.counts_by_status()[RunStatus.NEEDS_ATTENTION.value] == 3
