"""Issue 17.3 on the command line: bulk requeue/fail/release show progress on stderr when it
is a terminal, stop between batches on Ctrl-C (what is done stays done and is reported),
and summarise like the review app ("9,812 requeued, 188 skipped: changed since you looked")."""

from __future__ import annotations

import io
import json
import os
import signal
from pathlib import Path

import pytest
from clitest_support import invoke

from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store
from parkbench.tui.cli import bulk
from parkbench.tui.cli.progress import Progress, stop_on_interrupt


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def parked(store: Store, workspace: Path, n: int) -> list[int]:
    ids = []
    for i in range(n):
        store.enqueue(f"task {i}", workspace)
        lease = store.claim_next("agent")
        assert lease is not None
        store.block(lease.run_id, lease.claim_token, reason=f"stuck #{i}")
        ids.append(lease.run_id)
    return ids


def test_progress_is_drawn_on_a_terminal_only() -> None:
    screen = Terminal()
    meter = Progress("fail", 10, stream=screen)
    meter.update(4, 1)
    assert "fail: 5 of 10 (4 ok, 1 skipped)" in screen.getvalue()
    assert "runs/s" in screen.getvalue()
    meter.update(4, 1, stopping=True)
    assert "stopping after this batch" in screen.getvalue()
    meter.close()
    assert screen.getvalue().endswith("\r\x1b[2K")  # the line is cleared for what follows
    piped = io.StringIO()
    quiet = Progress("fail", 10, stream=piped)
    quiet.update(4, 1)
    quiet.close()
    assert piped.getvalue() == ""


def test_first_ctrl_c_asks_to_stop_the_second_interrupts() -> None:
    heard: list[bool] = []
    with pytest.raises(KeyboardInterrupt), stop_on_interrupt(lambda: heard.append(True)) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.is_set() and heard == [True]
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _interrupt_after_first_batch(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Batches of two; Ctrl-C arrives while the first batch is written."""
    monkeypatch.setattr(bulk, "BATCH_SIZE", 2)
    real = Store.review
    calls: list[int] = []

    def review(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "review", review)
    return calls


def test_ctrl_c_stops_between_batches_and_reports_what_was_done(
    db_url: str, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(db_url) as store:
        runs = parked(store, workspace, 6)
    calls = _interrupt_after_first_batch(monkeypatch)
    done = invoke("fail", *map(str, runs), "--reason", "stop", "--yes", "--db", db_url)
    assert len(calls) == 1
    assert done.code == 130, (done.stdout, done.stderr)
    assert "fail: 2 ok, 0 failed of 2" in done.stdout
    assert "stopped (Ctrl-C): 4 of 6 runs not reached, left as they were" in done.stderr
    with Store.open(db_url) as store:
        statuses = [store.get_run(r, check_disk=False).run.status for r in runs]
    assert statuses == [RunStatus.FAILED] * 2 + [RunStatus.NEEDS_ATTENTION] * 4


def test_ctrl_c_with_json_says_it_stopped(
    db_url: str, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(db_url) as store:
        parked(store, workspace, 5)
    _interrupt_after_first_batch(monkeypatch)
    done = invoke(
        "release", "--all-matching", "--reason", "back", "--yes", "--db", db_url, "--json"
    )
    assert done.code == 130, (done.stdout, done.stderr)
    body = json.loads(done.stdout)
    assert (body["ok"], body["failed"], body["matched"]) == (2, 0, 5)
    assert body["stopped"] is True and body["not_reached"] == 3
    assert len(body["results"]) == 2


def test_the_summary_names_why_runs_were_skipped(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        runs = parked(store, workspace, 2)
    done = invoke("requeue", *map(str, runs), "987654", "--reason", "go", "--yes", "--db", db_url)
    assert done.code == 4
    assert "requeue: 2 ok, 1 failed of 3" in done.stdout
    assert "2 requeued, 1 skipped: no longer exist" in done.stdout
