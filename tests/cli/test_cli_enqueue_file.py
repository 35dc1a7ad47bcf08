"""`parkbench enqueue --from FILE.jsonl`: one task per line, all or nothing per file."""

from __future__ import annotations

import json
from pathlib import Path

from clitest_support import invoke

from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import RunFilter
from parkbench.core.store import Store


def _write(path: Path, *lines: object) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    )
    return path


def test_a_file_enqueues_every_line_with_the_options_as_defaults(
    db_url: str, workspace: Path, tmp_path: Path
) -> None:
    source = _write(
        tmp_path / "tasks.jsonl",
        {"title": "one"},
        "",
        {"title": "two", "priority": 7, "require": ["out/a.md"], "missing_policy": "park"},
        {"title": "three", "workspace": str(tmp_path), "max_attempts": 1, "metadata": {"k": 1}},
    )
    done = invoke(
        "enqueue",
        "--from",
        str(source),
        "--workspace",
        str(workspace),
        "--priority",
        "2",
        "--db",
        db_url,
        "--json",
    )
    assert done.code == 0, done.stderr
    body = done.json()
    assert body["enqueued"] == 3 and len(body["tasks"]) == 3  # type: ignore[index]
    with Store.open(db_url) as store:
        rows = {r.title: r for r in store.list_runs(RunFilter(status=RunStatus.QUEUED)).rows}
        assert (rows["one"].priority, rows["one"].workspace_root) == (2, str(workspace.resolve()))
        assert rows["two"].priority == 7
        assert rows["two"].contract.required == ("out/a.md",)
        assert rows["two"].contract.missing_policy.value == "park"
        assert (rows["three"].max_attempts, rows["three"].workspace_root) == (
            1,
            str(tmp_path.resolve()),
        )


def test_stdin_works_and_bad_lines_are_reported_by_number_with_nothing_written(
    db_url: str, workspace: Path
) -> None:
    lines = "\n".join(
        [
            json.dumps({"title": "fine", "workspace": str(workspace)}),
            "not json",
            json.dumps({"title": "x", "workspace": str(workspace / "missing")}),
            json.dumps({"title": "y", "workspace": str(workspace), "priority": "high"}),
            json.dumps(["not", "an", "object"]),
            json.dumps({"title": "z", "wrkspace": "typo"}),
        ]
    )
    done = invoke("enqueue", "--from", "-", "--db", db_url, "--json", stdin=lines)
    assert done.code == 2
    error = done.error()
    assert [e["line"] for e in error["details"]["errors"]] == [2, 3, 4, 5, 6]  # type: ignore[index]
    assert "5 of 6 lines are invalid" in str(error["message"])
    with Store.open(db_url) as store:
        assert store.count_runs(RunFilter(status=None)) == 0
    human = invoke("enqueue", "--from", "-", "--db", db_url, stdin=lines)
    assert human.code == 2
    assert "-:3: workspace " in human.stderr and "-:4: priority must be an integer" in human.stderr


def test_title_and_from_are_exclusive_and_a_title_is_otherwise_required(
    db_url: str, workspace: Path, tmp_path: Path
) -> None:
    source = _write(tmp_path / "t.jsonl", {"title": "a"})
    both = invoke(
        "enqueue",
        "T",
        "--from",
        str(source),
        "--workspace",
        str(workspace),
        "--db",
        db_url,
        "--json",
    )
    assert both.code == 2 and "exclusive" in str(both.error()["message"])
    neither = invoke("enqueue", "--workspace", str(workspace), "--db", db_url, "--json")
    assert neither.code == 2 and "TITLE" in str(neither.error()["message"])
    unreadable = invoke("enqueue", "--from", str(tmp_path / "nope.jsonl"), "--db", db_url, "--json")
    assert unreadable.code == 2 and "cannot read" in str(unreadable.error()["message"])
