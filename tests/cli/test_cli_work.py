"""`parkbench work`: any command as a supervised worker, with real child processes.

Each settle rule, signals, a command that outlives its lease, a reviewer acting while the
command runs, and four `work --wait` loops draining one queue without a double claim.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from clitest_support import clean_env, entry_point, run

from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import events
from parkbench.core.store import Store

PY = sys.executable


def _py(code: str) -> list[str]:
    """A command that runs ``code`` in a fresh Python (the child process under test)."""
    return [PY, "-c", code]


def _work(db_url: str, *args: str, command: list[str], timeout: float = 120):
    return run(
        "work", "--worker", "w1", "--db", db_url, "--json", *args, "--", *command, timeout=timeout
    )


def _lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _settled(stdout: str) -> list[dict[str, object]]:
    return [line for line in _lines(stdout) if line["event"] == "settled"]


def _status(db_url: str, run_id: int) -> RunStatus:
    with Store.open(db_url) as store:
        return store.get_run(run_id, check_disk=False).run.status


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_exit_zero_completes_and_the_environment_carries_the_lease(
    db_url: str, workspace: Path
) -> None:
    with Store.open(db_url) as store:
        run_id = store.enqueue("Summarise", workspace).run_id
    probe = (
        "import json, os, pathlib; claim = json.loads(pathlib.Path(os.environ['PARKBENCH_CLAIM'])"
        ".read_text()); pathlib.Path('seen.json').write_text(json.dumps({'cwd': os.getcwd(), "
        "'run': os.environ['PARKBENCH_RUN_ID'], 'db': os.environ['PARKBENCH_DB'], "
        "'token_matches': claim['claim_token'] == os.environ['PARKBENCH_TOKEN'], "
        "'title': claim['task']['title']}))"
    )
    done = _work(db_url, "--once", command=_py(probe))
    assert done.code == 0, done.stderr
    (outcome,) = _settled(done.stdout)
    assert (outcome["settled"], outcome["status"], outcome["exit_code"]) == (
        "completed",
        "completed",
        0,
    )
    seen = json.loads((workspace / "seen.json").read_text())
    assert seen["cwd"] == str(workspace.resolve())
    assert (seen["run"], seen["title"], seen["token_matches"]) == (str(run_id), "Summarise", True)
    assert seen["db"] == db_url
    assert "pkb_claim_" not in done.stdout + done.stderr  # the token is only in the child's env


def test_a_failing_command_fails_the_run_with_the_end_of_its_stderr(
    db_url: str, workspace: Path
) -> None:
    with Store.open(db_url) as store:
        run_id = store.enqueue("Build", workspace, max_attempts=1).run_id
    noisy = "import sys; print('\\n'.join(f'line {i}' for i in range(100)), file=sys.stderr); "
    done = _work(db_url, "--once", command=_py(noisy + "sys.exit(3)"))
    assert done.code == 0, done.stderr
    (outcome,) = _settled(done.stdout)
    assert (outcome["settled"], outcome["status"], outcome["exit_code"]) == ("failed", "failed", 3)
    with Store.open(db_url) as store:
        reason = store.get_run(run_id, check_disk=False).run.failure_reason or ""
    assert reason.startswith("command exited with status 3: ")
    assert "line 99" in reason and "line 10\n" not in reason  # only the tail is kept
    assert "line 0" in done.stderr  # and the whole stderr went through to ours


def test_a_failure_with_attempts_left_is_retried(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        run_id = store.enqueue("Flaky", workspace, max_attempts=2).run_id
    done = _work(db_url, "--once", command=_py("import sys; sys.exit(1)"))
    (outcome,) = _settled(done.stdout)
    assert (outcome["settled"], outcome["status"]) == ("retried", "queued")
    with Store.open(db_url) as store:
        assert store.get_run(run_id, check_disk=False).run.attempt == 2


def test_exit_75_releases_and_the_loop_does_not_spin_on_it(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        run_id = store.enqueue("Later", workspace).run_id
    done = _work(db_url, command=_py("import sys; sys.exit(75)"), timeout=60)
    assert done.code == 0, done.stderr
    events_seen = [line["event"] for line in _lines(done.stdout)]
    assert events_seen == ["claimed", "settled", "skipped", "idle"]
    assert _settled(done.stdout)[0]["settled"] == "released"
    assert _status(db_url, run_id) is RunStatus.QUEUED


def test_a_command_that_blocks_the_run_itself_is_left_alone(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        run_id = store.enqueue("Ask", workspace).run_id
    block = [*entry_point(), "lease", "block", str(run_id), "--reason", "which region?"]
    code = (
        f"import os, subprocess, sys; sys.exit(subprocess.run({block!r}, env=os.environ)"
        ".returncode)"
    )
    done = _work(db_url, "--once", command=_py(code))
    assert done.code == 0, done.stderr
    (outcome,) = _settled(done.stdout)
    assert (outcome["settled"], outcome["status"], outcome["detail"]) == (
        "by_command",
        "needs_attention",
        "which region?",
    )


@pytest.mark.parametrize(
    ("policy", "settled", "status"),
    [("reject", "refused", "claimed"), ("park", "parked", "needs_attention")],
)
def test_the_completion_contract_applies(
    db_url: str, workspace: Path, policy: str, settled: str, status: str
) -> None:
    contract = {"completion_contract": {"required_paths": ["out.md"], "missing_policy": policy}}
    with Store.open(db_url) as store:
        run_id = store.enqueue("Report", workspace, metadata=contract).run_id
    done = _work(db_url, "--once", command=_py("pass"))
    (outcome,) = _settled(done.stdout)
    assert (outcome["settled"], outcome["status"]) == (settled, status)
    assert "out.md" in str(outcome["detail"])
    assert _status(db_url, run_id) is RunStatus(status)


def _start_work(db_url: str, *args: str, command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*entry_point(), "work", "--worker", "w1", "--db", db_url, "--json", *args, "--", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )


SLEEPER = (
    "import pathlib, signal, sys, time\n"
    "def stop(signum, frame):\n"
    "    pathlib.Path('got-signal').write_text(str(signum)); sys.exit(1)\n"
    "signal.signal(signal.SIGTERM, stop)\n"
    "pathlib.Path('started').write_text('yes')\n"
    "time.sleep(120)\n"
)


def test_sigterm_is_forwarded_and_the_run_released(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        run_id = store.enqueue("Long", workspace).run_id
    worker = _start_work(db_url, "--once", command=_py(SLEEPER))
    try:
        _wait_for(lambda: (workspace / "started").exists())
        worker.send_signal(signal.SIGTERM)
        stdout, stderr = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 128 + signal.SIGTERM, stderr
    assert (workspace / "got-signal").read_text() == str(int(signal.SIGTERM))
    (outcome,) = _settled(stdout)
    assert (outcome["settled"], outcome["status"]) == ("interrupted", "queued")
    assert _status(db_url, run_id) is RunStatus.QUEUED  # never left claimed


def test_a_command_that_outlives_its_lease_is_stopped(db_url: str, workspace: Path) -> None:
    # Heartbeats cannot keep a run alive past its max runtime: the lease ends under it.
    with Store.open(db_url) as store:
        run_id = store.enqueue("Hangs", workspace, max_runtime_s=2).run_id
    done = _work(db_url, "--once", "--lease", "1", command=_py(SLEEPER), timeout=90)
    assert done.code == 0, done.stderr
    (outcome,) = _settled(done.stdout)
    assert outcome["settled"] == "lease_lost"
    assert (workspace / "got-signal").exists()  # stopped, not waited for
    assert _status(db_url, run_id) is RunStatus.CLAIMED  # the sweep's to recover now


def test_a_reviewer_acting_while_the_command_runs_stops_it(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        run_id = store.enqueue("Taken", workspace).run_id
    worker = _start_work(db_url, "--once", "--lease", "1", command=_py(SLEEPER))
    try:
        _wait_for(lambda: (workspace / "started").exists())
        with Store.open(db_url) as store:
            (result,) = store.force_fail([run_id], reason="wrong task", actor="alice", force=True)
            assert result.ok, result.error
        stdout, stderr = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 0, stderr
    (outcome,) = _settled(stdout)
    assert (outcome["settled"], outcome["status"]) == ("lease_lost", "failed")
    assert (workspace / "got-signal").exists()


@pytest.mark.slow
def test_four_waiting_workers_drain_200_runs_without_a_double_claim(
    db_url: str, workspace: Path
) -> None:
    with Store.open(db_url) as store:
        # (PostgreSQL's ids may have gaps: compare with what was enqueued.)
        enqueued = [store.enqueue(f"task {i}", workspace).run_id for i in range(200)]
    workers = [
        subprocess.Popen(
            [
                *entry_point(),
                "work",
                "--worker",
                f"w{n}",
                "--db",
                db_url,
                "--wait",
                "--poll",
                "0.2",
                "--json",
                "--",
                PY,
                "-c",
                "pass",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=clean_env(),
        )
        for n in range(4)
    ]

    def drained() -> bool:
        with Store.open(db_url) as store:
            return store.counts_by_status().get("completed", 0) == 200

    try:
        _wait_for(drained, timeout=300)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=60)[0] for worker in workers]
    settled = [line for out in outputs for line in _settled(out)]
    assert sorted(line["run_id"] for line in settled) == sorted(enqueued)
    assert {line["settled"] for line in settled} == {"completed"}
    with Store.open(db_url) as store, store.engine.connect() as conn:
        claims = conn.execute(
            sa.select(events.c.run_id, sa.func.count())
            .where(events.c.action == "claim")
            .group_by(events.c.run_id)
        ).all()
    assert len(claims) == 200 and {count for _, count in claims} == {1}
    assert all(w.returncode == 128 + signal.SIGTERM for w in workers)


def test_wait_picks_up_work_enqueued_later(db_url: str, workspace: Path) -> None:
    Store.open(db_url).close()  # an empty queue (work never creates a database)
    worker = _start_work(db_url, "--wait", "--once", command=_py("pass"))
    try:
        assert worker.stdout is not None
        assert json.loads(worker.stdout.readline()) == {"event": "waiting"}
        with Store.open(db_url) as store:
            store.enqueue("Arrives late", workspace)
        stdout, stderr = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 0, stderr
    assert _settled(stdout)[0]["settled"] == "completed"


def test_bad_arguments_are_validation_errors(db_url: str) -> None:
    Store.open(db_url).close()
    both = run(
        "work",
        "--worker",
        "w",
        "--db",
        db_url,
        "--once",
        "--max-runs",
        "2",
        "--json",
        "--",
        PY,
        "-c",
        "pass",
    )
    assert both.code == 2 and "exclusive" in both.error()["message"]
    missing = run("work", "--worker", "w", "--db", db_url, "--json")
    assert missing.code == 2
