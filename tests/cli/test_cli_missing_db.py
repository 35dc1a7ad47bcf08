"""A mistyped --db is reported, never created (issue 19 item 7).

Only `enqueue` and `demo` (and the review app, which says so) create a database; every other
command on a path with no database ends in `not_found` (exit 4), names `parkbench db path`
and how to create one, and leaves nothing behind. A blank PARKBENCH_DB is a validation error,
not a silent fall-back to the default file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clitest_support import clean_env, invoke, run

TOKEN = "pkb_claim_" + "A" * 43

COMMANDS = {
    "list": ["list"],
    "list-all": ["list", "--status", "all"],
    "show": ["show", "1"],
    "stats": ["stats"],
    "causes": ["causes"],
    "claim": ["lease", "claim", "--worker", "w"],
    "heartbeat": ["lease", "heartbeat", "1", "--token", TOKEN],
    "complete": ["lease", "complete", "1", "--token", TOKEN],
    "lease-fail": ["lease", "fail", "1", "--token", TOKEN, "--reason", "x"],
    "lease-release": ["lease", "release", "1", "--token", TOKEN],
    "block": ["lease", "block", "1", "--token", TOKEN, "--reason", "x"],
    "requeue": ["requeue", "1", "--reason", "x"],
    "fail": ["fail", "1", "--reason", "x"],
    "release": ["release", "1", "--reason", "x"],
    "undo-requeue": ["undo-requeue", "1", "--reason", "x"],
    "all-matching": ["requeue", "--all-matching", "--yes", "--reason", "x"],
    "recover": ["recover"],
}


def _assert_not_found(code: int, error: dict[str, object], path: Path) -> None:
    assert code == 4, error
    assert error["code"] == "not_found"
    assert str(path) in str(error["message"])
    hint = str(error["hint"])
    assert "parkbench db path" in hint and "parkbench enqueue" in hint and "parkbench demo" in hint


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_command_that_does_not_create_reports_a_missing_file(name: str, tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    for db in (str(path), f"sqlite:///{path}"):
        done = invoke(*COMMANDS[name], "--db", db, "--json")
        _assert_not_found(done.code, done.error(), path)
        human = invoke(*COMMANDS[name], "--db", db)
        assert human.code == 4 and human.stdout == ""
        assert human.stderr.startswith("error[not_found]: ") and "hint: " in human.stderr
    assert sorted(tmp_path.iterdir()) == []  # no file, no -wal, no -shm


def test_watch_reports_a_missing_file_instead_of_watching_it(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    done = run("watch", "--db", str(path), "--json", timeout=60)
    _assert_not_found(done.code, done.error(), path)
    assert sorted(tmp_path.iterdir()) == []


def test_lease_claim_in_a_missing_directory_is_not_found_too(tmp_path: Path) -> None:
    path = tmp_path / "no-such-dir" / "parkbench.db"
    done = invoke("lease", "claim", "--worker", "w", "--db", str(path), "--json")
    _assert_not_found(done.code, done.error(), path)
    assert sorted(tmp_path.iterdir()) == []


def test_the_default_database_is_not_created_by_a_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"XDG_DATA_HOME": str(data), "HOME": str(tmp_path)}
    done = invoke("list", "--json", env=env)
    assert done.code == 4 and done.error()["code"] == "not_found"
    assert not data.exists()  # not even the data directory
    created = invoke("enqueue", "first", "--workspace", str(tmp_path), "--json", env=env)
    assert created.code == 0, created.stderr
    assert (data / "parkbench" / "parkbench.db").is_file()
    assert invoke("list", "--status", "all", "--json", env=env).json()["runs"][0]["id"] == 1


def test_enqueue_and_demo_create_the_database(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    done = invoke("enqueue", "t", "--workspace", str(tmp_path), "--db", str(fresh), "--json")
    assert done.code == 0 and done.json() == {"task_id": 1, "run_id": 1}
    demo = tmp_path / "demo.db"
    made = invoke(
        "demo", "--workspace", str(tmp_path / "ws"), "--runs", "5", "--db", str(demo), "--json"
    )
    assert made.code == 0, made.stderr
    assert invoke("stats", "--db", str(demo), "--json").json()["total"] == 5


def test_an_empty_file_is_reported_not_migrated(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    done = invoke("lease", "claim", "--worker", "w", "--db", str(empty), "--json")
    assert done.code == 5 and done.error()["code"] == "database"
    assert "parkbench db path" in done.error()["hint"]
    assert empty.stat().st_size == 0 and sorted(tmp_path.iterdir()) == [empty]


@pytest.mark.parametrize("value", ["", "   "])
@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["lease", "claim", "--worker", "w"],
        ["enqueue", "t", "--workspace", "."],
        ["db", "path"],
    ],
)
def test_a_blank_parkbench_db_is_refused(value: str, command: list[str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"PARKBENCH_DB": value, "XDG_DATA_HOME": str(data), "HOME": str(tmp_path)}
    done = invoke(*command, "--json", env=env)
    assert done.code == 2, done.stdout
    error = done.error()
    assert error["code"] == "validation" and "PARKBENCH_DB" in str(error["message"])
    assert "unset PARKBENCH_DB" in str(error["hint"])
    assert not data.exists()
    # --db still decides when given: the variable is not consulted then
    db = tmp_path / "given.db"
    given = invoke("enqueue", "t", "--workspace", str(tmp_path), "--db", str(db), "--json", env=env)
    assert given.code == 0, given.stderr


def test_through_the_executable_nothing_is_left_behind(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    done = run(
        "lease",
        "claim",
        "--worker",
        "w",
        "--db",
        str(path),
        "--json",
        env=clean_env(XDG_DATA_HOME=str(tmp_path / "data")),
    )
    _assert_not_found(done.code, done.error(), path)
    assert sorted(tmp_path.iterdir()) == []
