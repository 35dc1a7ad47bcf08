"""Issue 20 §4: ``parkbench note`` (a comment that changes nothing), ``requeue --priority``,
and ``show`` printing notes and a requeue's multi-line answer literally."""

from __future__ import annotations

from pathlib import Path

from clitest_support import invoke

from parkbench.core.store import Store

ANSWER = "Key added to the vault.\n  Use the billing role:\n    vault read billing/key"


def _parked(store: Store, workspace: Path) -> int:
    store.enqueue("Deploy", workspace, priority=2)
    lease = store.claim_next("agent")
    assert lease is not None
    store.block(lease.run_id, lease.claim_token, reason="need the API key")
    return lease.run_id


def test_note_adds_an_event_and_changes_nothing(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        run = _parked(store, workspace)
        before = store.get_run(run, check_disk=False).run
        done = invoke(
            "note", str(run), "--text", " looking at this ", "--actor", "bob", "--db", db_url,
            "--json",
        )  # fmt: skip
        assert done.code == 0 and done.stderr == ""
        note = done.json()["note"]  # type: ignore[index]
        assert (note["action"], note["actor"], note["actor_kind"]) == ("note", "bob", "human")
        assert (note["from_status"], note["to_status"]) == ("needs_attention",) * 2
        assert note["reason"] == "looking at this"
        after = store.get_run(run, check_disk=False)
        assert after.run == before
        assert [n.id for n in after.notes] == [note["id"]]
        human = invoke("note", str(run), "--text", "-", "--actor", "bob", "--db", db_url,
                       stdin="two\nlines\n")  # fmt: skip
        assert human.code == 0, human.stderr
        assert human.stdout == f"note {note['id'] + 1} on run {run} (needs_attention) by bob\n"
        assert store.get_run(run, check_disk=False).notes[-1].reason == "two\nlines"


def test_note_errors_are_stable(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        run = _parked(store, workspace)
    blank = invoke("note", str(run), "--text", "  ", "--db", db_url, "--json")
    assert blank.code == 2
    assert blank.error()["code"] == "validation"
    assert "--text" in str(blank.error()["hint"])
    missing = invoke("note", str(run), "--db", db_url, "--json")
    assert missing.code == 2 and missing.error()["code"] == "validation"
    gone = invoke("note", "999", "--text", "hi", "--db", db_url, "--json")
    assert gone.code == 4
    assert gone.error()["code"] == "not_found"
    assert gone.error()["message"] == "run 999 does not exist"


def test_show_prints_notes_and_the_answer_line_by_line(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        run = _parked(store, workspace)
        store.add_note(run, text="waiting for the DBA\n\x1b[31mOPS-7", actor="bob")
        (result,) = store.requeue([run], reason=ANSWER, actor="alice")
    shown = invoke("show", str(run), "--db", db_url)
    assert shown.code == 0, shown.stderr
    lines = [line.rstrip() for line in shown.stdout.splitlines()]
    head = next(i for i, line in enumerate(lines) if line.startswith("note by bob "))
    assert lines[head].startswith("note by bob (needs_attention), ") and lines[head][-1] == ":"
    assert lines[head + 1 : head + 3] == ["    waiting for the DBA", "    \\x1b[31mOPS-7"]
    start = lines.index(f"answer handed to run {result.new_run_id} by alice:")
    assert lines[start + 1 : start + 4] == [
        "    Key added to the vault.",
        "      Use the billing role:",
        "        vault read billing/key",
    ]
    successor = invoke("show", str(result.new_run_id), "--db", db_url)
    assert f"answer from the requeue of run {run} by alice:" in successor.stdout
    body = invoke("show", str(run), "--db", db_url, "--json").json()
    assert body["notes"][0]["text"] == "waiting for the DBA\n\x1b[31mOPS-7"  # type: ignore[index]
    assert body["events"][-1]["reason"] == ANSWER  # type: ignore[index]


def test_requeue_priority_sets_the_new_attempts_priority(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        run = _parked(store, workspace)
        done = invoke(
            "requeue", str(run), "--reason", "urgent", "--priority", "7", "--db", db_url, "--json"
        )
        assert done.code == 0, done.stderr
        [result] = done.json()["results"]  # type: ignore[index]
        assert store.get_run(result["new_run_id"], check_disk=False).run.priority == 7
        again = _parked(store, workspace)
    bad = invoke(
        "requeue", str(again), "--reason", "x", "--priority", str(2**31), "--db", db_url, "--json"
    )
    assert bad.code == 2 and bad.error()["code"] == "validation"
    # Only a requeue makes a new attempt: fail and release have no --priority.
    refused = invoke("fail", str(again), "--reason", "x", "--priority", "1", "--db", db_url)
    assert refused.code == 2 and "--priority" in refused.stderr


def test_a_note_after_the_commands_own_block_is_not_a_reviewers_move(
    db_url: str, workspace: Path
) -> None:
    """`work` reads the run's last move to see who settled it: a reviewer's note ("looking
    at this") right after the command blocked the run moves nothing and must not count."""
    import json
    import sys

    from clitest_support import entry_point, run

    with Store.open(db_url) as store:
        run_id = store.enqueue("Ask", workspace).run_id
    block = [*entry_point(), "lease", "block", str(run_id), "--reason", "which region?"]
    note = [*entry_point(), "note", str(run_id), "--text", "looking at this", "--actor", "bob"]
    code = (
        "import os, subprocess, sys\n"
        f"subprocess.run({block!r}, env=os.environ, check=True)\n"
        f"subprocess.run({note!r}, env=os.environ, check=True)\n"
    )
    done = run(
        "work", "--worker", "w1", "--db", db_url, "--json", "--once", "--",
        sys.executable, "-c", code, timeout=120,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    settled = [
        line
        for line in map(json.loads, filter(str.strip, done.stdout.splitlines()))
        if line["event"] == "settled"
    ]
    assert [(s["settled"], s["status"], s["detail"]) for s in settled] == [
        ("by_command", "needs_attention", "which region?")
    ]
