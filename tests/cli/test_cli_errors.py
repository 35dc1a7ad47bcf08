"""The error contract: every code, its exit status, and its envelope on stderr.

With --json: exactly one line `{"error": {"code", "message", "hint"}}` on stderr and nothing
on stdout. Without: `error[code]: message` and `hint: ...`. Exit statuses follow the spec:
2 validation (usage errors too), 3 token/lease/transition/receipts/conflict, 4 not_found,
5 database, 1 anything unexpected (no traceback unless PARKBENCH_DEBUG=1).
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest
from clitest_support import clean_env, entry_point, invoke, past_clock

from parkbench.core.errors import EXIT_CODES
from parkbench.core.store import Store


def expect(done, code: str) -> dict:
    assert done.code == EXIT_CODES.get(code, 1), (done.code, done.stderr)
    assert done.stdout == ""
    error = done.error()
    assert error["code"] == code
    assert "\n" not in error["message"]
    return error


def expect_human(done, code: str) -> None:
    assert done.code == EXIT_CODES.get(code, 1)
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"error[{code}]: ") and lines[1].startswith("hint: ")


@pytest.fixture
def claimed(db_url: str, workspace: Path) -> tuple[str, str, str]:
    with Store.open(db_url) as store:
        store.enqueue("t", workspace, metadata={"completion_contract": {"required_paths": ["r"]}})
        lease = store.claim_next("agent")
        assert lease is not None
        return db_url, str(lease.run_id), lease.claim_token


def test_validation_and_usage_errors(db_url: str) -> None:
    Store.open(db_url).close()  # an existing database: a missing one would be not_found
    cases = [
        ("lease", "claim", "--worker", "w", "--lease", "0"),  # core validation
        ("lease", "claim", "--worker", "   "),  # blank name
        ("lease", "claim"),  # missing required option (usage)
        ("lease", "claim", "--worker", "w", "--bogus"),  # unknown option (usage)
        ("no-such-command",),
        ("show", "not-a-number"),
        ("list", "--limit", "many"),
        ("recover", "--now", "yesterday-ish"),
    ]
    for args in cases:
        error = expect(invoke(*args, "--db", db_url, "--json"), "validation")
        assert error["hint"], args
        expect_human(invoke(*args, "--db", db_url), "validation")


def test_usage_error_hint_names_the_command_help(db_url: str) -> None:
    error = expect(invoke("lease", "claim", "--db", db_url, "--json"), "validation")
    assert "--worker" in error["message"]
    assert error["hint"] == "see `parkbench lease claim --help`"


def test_not_found(db_url: str) -> None:
    Store.open(db_url).close()
    expect(
        invoke("lease", "heartbeat", "999", "--token", "pkb_claim_x", "--db", db_url, "--json"),
        "not_found",
    )
    expect_human(invoke("show", "999", "--db", db_url), "not_found")


def test_invalid_token(claimed: tuple[str, str, str]) -> None:
    db, run, _ = claimed
    error = expect(
        invoke("lease", "complete", run, "--token", "pkb_claim_wrong", "--db", db, "--json"),
        "invalid_token",
    )
    assert "pkb_claim_wrong" not in error["message"] + error["hint"]


def test_invalid_transition(claimed: tuple[str, str, str]) -> None:
    db, run, token = claimed
    assert invoke("lease", "release", run, "--token", token, "--db", db).code == 0
    error = expect(
        invoke("lease", "heartbeat", run, "--token", token, "--db", db, "--json"),
        "invalid_transition",
    )
    assert "queued" in error["message"]
    assert error["details"]["status"] == "queued"


def test_missing_artifacts(claimed: tuple[str, str, str]) -> None:
    db, run, token = claimed
    error = expect(
        invoke("lease", "complete", run, "--token", token, "--db", db, "--json"),
        "missing_artifacts",
    )
    assert error["details"]["missing"] == ["r"]


def test_lease_expired(db_url: str, workspace: Path) -> None:
    # Claimed on a clock months in the past: the lease ran out long before "now".
    with Store.open(db_url, clock=past_clock()) as store:
        store.enqueue("t", workspace)
        lease = store.claim_next("agent", lease_s=60)
        assert lease is not None
    expect(
        invoke(
            "lease",
            "heartbeat",
            str(lease.run_id),
            "--token",
            lease.claim_token,
            "--db",
            db_url,
            "--json",
        ),
        "lease_expired",
    )


def test_conflict_in_bulk_ends_with_a_conflict_object(db_url: str, workspace: Path) -> None:
    """A run that moves between counting and acting comes back as `conflict` (exit 3).

    stdin is a terminal (so the command asks before acting on 2 runs); stdout and stderr are
    pipes, so the JSON document and the error object are read exactly as a program would.
    """
    with Store.open(db_url) as store:
        runs = []
        for title in ("a", "b"):
            store.enqueue(title, workspace)
            lease = store.claim_next("agent")
            assert lease is not None
            store.block(lease.run_id, lease.claim_token, reason="r")
            runs.append(lease.run_id)
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [
                *entry_point(),
                "requeue",
                "--all-matching",
                "--reason",
                "ok",
                "--db",
                db_url,
                "--json",
            ],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
        )
        os.close(follower)
        prompt = b""
        while b"[y/N]" not in prompt:
            chunk = os.read(proc.stderr.fileno(), 1024)  # type: ignore[union-attr]
            assert chunk, prompt
            prompt += chunk
        store.force_fail([runs[0]], reason="someone else got there first", actor="bob")
        os.write(leader, b"y\n")
        out, err = proc.communicate(timeout=120)
        os.close(leader)
    assert proc.returncode == 3
    body = json.loads(out)
    assert body["matched"] == 2 and (body["ok"], body["failed"]) == (1, 1)
    assert body["results"][0]["error"]["code"] == "conflict"
    error = json.loads(err.decode().splitlines()[-1])["error"]
    assert error["code"] == "conflict" and error["details"]["failed"][0]["run_id"] == runs[0]
    assert "changed since you looked" in error["message"]


def test_database_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    expect(invoke("stats", "--db", str(garbage), "--json"), "database")
    expect_human(invoke("list", "--db", str(garbage)), "database")
    nowhere = f"sqlite:///{tmp_path}/no/such/dir/x.db"
    # reading finds no database there; creating one needs the directory first
    expect(invoke("stats", "--db", nowhere, "--json"), "not_found")
    error = expect(
        invoke("enqueue", "t", "--workspace", str(tmp_path), "--db", nowhere, "--json"), "database"
    )
    assert "mkdir" in error["hint"]
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    expect(invoke("stats", "--db", unreachable, "--json"), "database")


def test_newer_schema_is_a_database_error_and_left_untouched(tmp_path: Path) -> None:
    import sqlite3

    url = f"sqlite:///{tmp_path}/newer.db"
    assert invoke("db", "upgrade", "--db", url, "--json").code == 0
    with sqlite3.connect(tmp_path / "newer.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    error = expect(invoke("stats", "--db", url, "--json"), "database")
    assert "9999" in error["message"]
    with sqlite3.connect(tmp_path / "newer.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("9999",)


def test_unexpected_error_exit_1_without_traceback(db_url: str, monkeypatch) -> None:
    def broken(self, *args, **kwargs):
        raise RuntimeError("something nobody planned for")

    Store.open(db_url).close()
    monkeypatch.setattr(Store, "counts_by_status", broken)
    error = expect(invoke("stats", "--db", db_url, "--json"), "internal")
    assert "RuntimeError: something nobody planned for" in error["message"]
    assert "PARKBENCH_DEBUG=1" in error["hint"]
    human = invoke("stats", "--db", db_url)
    assert human.code == 1 and "Traceback" not in human.stderr
    debug = invoke("stats", "--db", db_url, env={"PARKBENCH_DEBUG": "1"})
    assert debug.code == 1 and "Traceback (most recent call last)" in debug.stderr
    assert "error[internal]" in debug.stderr


def test_help_is_not_an_error(db_url: str) -> None:
    for args in (("--help",), ("lease", "--help"), ("requeue", "-h"), ("db", "path", "--help")):
        done = invoke(*args)
        assert done.code == 0 and "Usage" in done.stdout and done.stderr == "", args
    bare = invoke("lease")  # a group without a command shows its help
    assert "claim" in bare.stdout + bare.stderr
