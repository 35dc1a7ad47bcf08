"""Worker commands through the CLI: enqueue, lease claim/heartbeat/complete/fail/release/block.

Each test runs on both backends (the `db_url` fixture). Most go through typer's runner for
speed; test_cli_process.py repeats the essentials through the installed entry point.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from clitest_support import invoke

from parkbench.core.store import Store

TOKEN = re.compile(r"^pkb_claim_[A-Za-z0-9_\-]{43}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def enqueue(db: str, workspace: Path, *extra: str, title: str = "Write the summary") -> dict:
    done = invoke("enqueue", title, "--workspace", str(workspace), "--db", db, "--json", *extra)
    assert done.code == 0, done.stderr
    return done.json()  # type: ignore[return-value]


def claim(db: str, worker: str = "agent-1", *extra: str) -> dict:
    done = invoke("lease", "claim", "--worker", worker, "--db", db, "--json", *extra)
    assert done.code == 0, done.stderr
    return done.json()  # type: ignore[return-value]


def test_enqueue_prints_ids_and_stores_every_flag(db_url: str, workspace: Path) -> None:
    ids = enqueue(
        db_url,
        workspace,
        "--priority",
        "7",
        "--max-attempts",
        "2",
        "--require",
        "out/a.json",
        "--require",
        "reports/b.md",
        "--missing-policy",
        "park",
        "--metadata",
        '{"source": "ci", "completion_contract": {"required_paths": ["c.txt"]}}',
    )
    assert set(ids) == {"task_id", "run_id"}
    shown = invoke("show", str(ids["run_id"]), "--db", db_url, "--json").json()
    assert shown["priority"] == 7 and shown["max_attempts"] == 2
    assert shown["task_metadata"]["source"] == "ci"
    assert shown["required_artifacts"] == ["c.txt", "out/a.json", "reports/b.md"]
    assert shown["missing_policy"] == "park"
    assert [a["state"] for a in shown["artifacts"]] == ["missing"] * 3


def test_enqueue_human_output_and_bad_flags(db_url: str, workspace: Path) -> None:
    done = invoke("enqueue", "t", "--workspace", str(workspace), "--db", db_url)
    assert done.code == 0 and re.fullmatch(r"enqueued task \d+ as run \d+\n", done.stdout)
    bad = invoke(
        "enqueue",
        "t",
        "--workspace",
        str(workspace),
        "--db",
        db_url,
        "--json",
        "--missing-policy",
        "maybe",
    )
    assert bad.code == 2 and bad.error()["code"] == "validation" and bad.stdout == ""
    escape = invoke(
        "enqueue",
        "t",
        "--workspace",
        str(workspace),
        "--db",
        db_url,
        "--json",
        "--require",
        "../outside.txt",
    )
    assert escape.code == 2 and "'..'" in escape.error()["message"]
    metadata = invoke(
        "enqueue",
        "t",
        "--workspace",
        str(workspace),
        "--db",
        db_url,
        "--json",
        "--metadata",
        "[1, 2]",
    )
    assert metadata.code == 2 and "JSON object" in metadata.error()["message"]


def test_claim_json_shape_and_null_when_empty(db_url: str, workspace: Path) -> None:
    Store.open(db_url).close()
    empty = invoke("lease", "claim", "--worker", "w", "--db", db_url, "--json")
    assert (empty.code, empty.stdout, empty.stderr) == (0, "null\n", "")
    ids = enqueue(db_url, workspace)
    claimed = claim(db_url, "agent-1", "--lease", "120")
    assert set(claimed) == {
        "run_id",
        "task_id",
        "attempt",
        "max_attempts",
        "claim_token",
        "lease_until",
        "task",
        "contract",
        "handoff",
    }
    assert claimed["run_id"] == ids["run_id"] and claimed["task_id"] == ids["task_id"]
    assert (claimed["attempt"], claimed["max_attempts"]) == (1, 3)
    assert TOKEN.match(claimed["claim_token"]) and ISO.match(claimed["lease_until"])
    assert set(claimed["task"]) == {
        "id",
        "title",
        "workspace",
        "priority",
        "metadata",
        "run_metadata",
    }
    assert claimed["task"]["workspace"] == str(workspace.resolve())
    assert claimed["contract"] == {"required_paths": [], "missing_policy": "reject"}
    assert claimed["handoff"] is None  # new work
    human = invoke("lease", "claim", "--worker", "w", "--db", db_url)
    assert human.code == 0 and human.stdout == "" and "nothing to claim" in human.stderr


def test_the_next_attempt_hears_the_reviewers_answer(db_url: str, workspace: Path) -> None:
    enqueue(db_url, workspace)
    first = claim(db_url, "agent-1")
    blocked = invoke(
        "lease",
        "block",
        str(first["run_id"]),
        "--reason",
        "need the API key",
        "--db",
        db_url,
        env={"PARKBENCH_TOKEN": first["claim_token"]},
    )
    assert blocked.code == 0, blocked.stderr
    requeued = invoke(
        "requeue", str(first["run_id"]), "--reason", "key is in the vault", "--db", db_url, "--json"
    )
    assert requeued.code == 0, requeued.stderr
    second = claim(db_url, "agent-2")
    handoff = second["handoff"]
    assert handoff["previous_run"] == {
        "run_id": first["run_id"],
        "attempt": 1,
        "status": "requeued",
    }
    assert handoff["stopped"]["why"] == "blocked"
    assert handoff["stopped"]["reason"] == "need the API key"
    assert handoff["decision"]["action"] == "requeue"
    assert handoff["decision"]["text"] == "key is in the vault"
    assert ISO.match(handoff["decision"]["at"])


def test_claim_refuses_a_lease_below_one_second(db_url: str, workspace: Path) -> None:
    ids = enqueue(db_url, workspace)
    tiny = invoke("lease", "claim", "--worker", "w", "--db", db_url, "--json", "--lease", "0.0004")
    assert tiny.code == 2 and tiny.error()["code"] == "validation" and tiny.stdout == ""
    assert "between 1 and" in tiny.error()["message"]
    # The refused claim took nothing: the run is still there for a valid one.
    assert claim(db_url, "w", "--lease", "1")["run_id"] == ids["run_id"]


def test_human_claim_prints_the_token_once(db_url: str, workspace: Path) -> None:
    enqueue(db_url, workspace)
    done = invoke("lease", "claim", "--worker", "w", "--db", db_url)
    lines = done.stdout.splitlines()
    assert done.code == 0 and lines[0].startswith("claimed run ")
    token = lines[1].removeprefix("claim_token: ")
    assert TOKEN.match(token)
    # No other command ever prints it.
    run_id = lines[0].split()[2]
    for args in (
        ("show", run_id),
        ("show", run_id, "--json"),
        ("list", "--status", "all"),
        ("list", "--status", "all", "--json"),
    ):
        shown = invoke(*args, "--db", db_url)
        assert token not in shown.stdout + shown.stderr


def test_token_from_option_env_and_stdin(db_url: str, workspace: Path) -> None:
    enqueue(db_url, workspace)
    lease = claim(db_url)
    run, token = str(lease["run_id"]), lease["claim_token"]
    by_option = invoke(
        "lease", "heartbeat", run, "--token", token, "--db", db_url, "--json", "--lease", "600"
    )
    assert by_option.code == 0 and by_option.json()["status"] == "claimed"
    by_env = invoke(
        "lease", "heartbeat", run, "--db", db_url, "--json", env={"PARKBENCH_TOKEN": token}
    )
    assert by_env.code == 0 and ISO.match(by_env.json()["lease_until"])
    by_stdin = invoke(
        "lease", "heartbeat", run, "--token", "-", "--db", db_url, "--json", stdin=token + "\n"
    )
    assert by_stdin.code == 0
    missing = invoke("lease", "heartbeat", run, "--db", db_url, "--json")
    assert missing.code == 2
    assert "PARKBENCH_TOKEN" in missing.error()["hint"]
    empty_stdin = invoke(
        "lease", "heartbeat", run, "--token", "-", "--db", db_url, "--json", stdin=""
    )
    assert empty_stdin.code == 2 and empty_stdin.error()["code"] == "validation"


def test_complete_fail_release_block_json(db_url: str, workspace: Path) -> None:
    for n in range(4):
        enqueue(db_url, workspace, "--max-attempts", "1", title=f"task {n}")
    moves = [
        (("complete", "--result", '{"ok": true}'), "completed"),
        (("fail", "--reason", "tests failed"), "failed"),
        (("release",), "queued"),
        (("block", "--reason", "  need a human  "), "needs_attention"),
    ]
    for extra, status in moves:
        lease = claim(db_url)
        done = invoke(
            "lease",
            extra[0],
            str(lease["run_id"]),
            *extra[1:],
            "--token",
            lease["claim_token"],
            "--db",
            db_url,
            "--json",
        )
        assert done.code == 0, done.stderr
        body = done.json()
        assert body["run_id"] == lease["run_id"] and body["status"] == status
        if extra[0] == "complete":
            assert body["missing"] == []
            shown = invoke("show", str(lease["run_id"]), "--db", db_url, "--json").json()
            assert shown["result"] == {"ok": True}
        if extra[0] == "block":
            shown = invoke("show", str(lease["run_id"]), "--db", db_url, "--json").json()
            assert shown["block_reason"] == "need a human"


def test_retry_keeps_the_run_queued_with_a_new_attempt(db_url: str, workspace: Path) -> None:
    enqueue(db_url, workspace, "--max-attempts", "2")
    lease = claim(db_url)
    done = invoke(
        "lease",
        "fail",
        str(lease["run_id"]),
        "--reason",
        "flaky",
        "--token",
        lease["claim_token"],
        "--db",
        db_url,
        "--json",
    )
    assert done.json() == {"run_id": lease["run_id"], "status": "queued"}
    assert claim(db_url)["attempt"] == 2


def test_complete_with_missing_receipts_rejects_or_parks(db_url: str, workspace: Path) -> None:
    enqueue(db_url, workspace, "--require", "out/r.json", title="reject")
    lease = claim(db_url)
    refused = invoke(
        "lease",
        "complete",
        str(lease["run_id"]),
        "--token",
        lease["claim_token"],
        "--db",
        db_url,
        "--json",
    )
    assert refused.code == 3 and refused.stdout == ""
    error = refused.error()
    assert error["code"] == "missing_artifacts" and "out/r.json" in error["message"]
    assert error["details"] == {"missing": ["out/r.json"]}
    (workspace / "out").mkdir()
    (workspace / "out" / "r.json").write_text("{}")
    done = invoke(
        "lease",
        "complete",
        str(lease["run_id"]),
        "--token",
        lease["claim_token"],
        "--db",
        db_url,
        "--json",
    )
    assert done.code == 0 and done.json()["status"] == "completed"

    enqueue(db_url, workspace, "--require", "out/p.json", "--missing-policy", "park", title="park")
    lease = claim(db_url)
    parked = invoke(
        "lease",
        "complete",
        str(lease["run_id"]),
        "--token",
        lease["claim_token"],
        "--db",
        db_url,
        "--json",
    )
    assert parked.code == 0
    assert parked.json() == {
        "run_id": lease["run_id"],
        "status": "needs_attention",
        "missing": ["out/p.json"],
    }


def test_human_output_of_worker_commands(db_url: str, workspace: Path) -> None:
    enqueue(db_url, workspace)
    lease = claim(db_url)
    run, token = str(lease["run_id"]), lease["claim_token"]
    beat = invoke("lease", "heartbeat", run, "--token", token, "--db", db_url)
    assert beat.code == 0 and beat.stdout.startswith(f"run {run} leased until ")
    block = invoke("lease", "block", run, "--token", token, "--reason", "x", "--db", db_url)
    assert block.stdout == f"run {run} is needs_attention\n"
    assert json.dumps(token) not in block.stdout
