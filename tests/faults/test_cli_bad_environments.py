"""Bad environments through the command line: exit 5 with the envelope, data untouched.

The store-level cases (test_bad_environments.py and friends) again, as a worker or reviewer
meets them: through ``parkbench`` with --json, checking the exit status, the single error
object on stderr and that the database is left exactly as it was.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults import cli_sweep, invariants
from faults.environments import (
    Unprivileged,
    checkpoint,
    fill_disk,
    populate,
    shared_dir,
    sqlite_file,
    sqlite_write_lock,
    table_rootpage,
    tmpfs,
)
from parkbench.core.store import Store

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
READS = (("stats",), ("list",), ("show", "1"))
WRITES = (("lease", "claim", "--worker", "w"), ("requeue", "1", "--reason", "r"))


def _expect(argv: tuple[str, ...], db: str, code: str, *mentions: str, **env: str) -> dict:
    outcome = cli_sweep.invoke(argv, db, json_mode=True, env=env or None)
    seen, problem = cli_sweep.verdict(outcome, json_mode=True)
    assert problem is None, (argv, problem)
    assert seen == code, (argv, outcome.stderr)
    error = json.loads(outcome.stderr)["error"]
    for fragment in mentions:
        assert fragment in error["message"] + " " + error["hint"], (argv, error)
    return error


def _works(argv: tuple[str, ...], db: str, **env: str) -> None:
    outcome = cli_sweep.invoke(argv, db, json_mode=True, env=env or None)
    assert outcome.code == 0, (argv, outcome.stderr)


@pytest.fixture
def sqlite_db(db_url: str, workspace: Path) -> Path:
    with Store.open(db_url) as store:
        populate(store, workspace)
    path = sqlite_file(db_url)
    checkpoint(path)
    return path


@sqlite_only
@pytest.mark.parametrize("damage", ["not_sqlite", "runs_page_garbage", "newer_schema"])
def test_damaged_or_foreign_database(sqlite_db: Path, db_url: str, damage: str) -> None:
    blob = bytearray(sqlite_db.read_bytes())
    mentions: tuple[str, ...] = ("corrupt or not a SQLite database",)
    if damage == "not_sqlite":
        blob = bytearray(b"PK\x03\x04 a zip file, say\n" * 300)
    elif damage == "runs_page_garbage":
        root = table_rootpage(sqlite_db, "runs")
        blob[(root - 1) * 4096 : root * 4096] = random.Random(9).randbytes(4096)
    else:
        import sqlite3

        with sqlite3.connect(sqlite_db) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '9999'")
        checkpoint(sqlite_db)
        blob = bytearray(sqlite_db.read_bytes())
        mentions = ("9999", "newer")
    sqlite_db.write_bytes(bytes(blob))
    for argv in (("list",), ("show", "1"), *WRITES):
        _expect(argv, db_url, "database", *mentions)
    assert sqlite_db.read_bytes() == bytes(blob)


@sqlite_only
def test_locked_database(sqlite_db: Path, db_url: str) -> None:
    with Store.open(db_url) as store:
        before = invariants.snapshot(store.engine)
    with sqlite_write_lock(sqlite_db):
        for argv in READS:
            _works(argv, db_url, PARKBENCH_BUSY_TIMEOUT_MS="200")
        for argv in WRITES:
            _expect(argv, db_url, "database", "locked", "200 ms", PARKBENCH_BUSY_TIMEOUT_MS="200")
    with Store.open(db_url) as store:
        assert invariants.snapshot(store.engine) == before


def test_unreachable_server() -> None:
    db = "postgresql+psycopg://parkbench@127.0.0.1:1/parkbench?connect_timeout=2"
    for argv in (("stats",), WRITES[0]):
        _expect(argv, db, "database", "reach")


def test_full_disk(tmp_path: Path) -> None:
    small = tmp_path / "small"
    with tmpfs(small, "1m") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here; tests/faults/test_disk_and_workspace.py "
                        "covers a full disk through SQLite's page limit")  # fmt: skip
        db = f"sqlite:///{small / 'parkbench.db'}"
        workspace = small / "workspace"
        workspace.mkdir()
        _works(("enqueue", "first", "--workspace", str(workspace)), db)
        filler = fill_disk(small)
        big = json.dumps({"log": "x" * 200_000})
        # "disk is full" or, when the WAL itself cannot grow, "disk I/O error ... may be full"
        _expect(("enqueue", "second", "--workspace", str(workspace), "--metadata", big),
                db, "database", "full")  # fmt: skip
        filler.unlink()
        outcome = cli_sweep.invoke(("stats",), db, json_mode=True)
        assert '"queued": 1' in outcome.stdout


def test_vanished_workspace(db_url: str, tmp_path: Path) -> None:
    workspace = tmp_path / "gone"
    workspace.mkdir()
    with Store.open(db_url) as store:
        contract = {"completion_contract": {"required_paths": ["out/report.md"]}}
        run_id = store.enqueue("t", workspace, metadata=contract).run_id
        claim = store.claim_next("w", lease_s=600)
        assert claim is not None
    workspace.rmdir()
    shown = cli_sweep.invoke(("show", str(run_id)), db_url, json_mode=True)
    assert shown.code == 0 and '"state": "missing"' in shown.stdout
    error = _expect(("lease", "complete", str(run_id), "--token", claim.claim_token), db_url,
                    "missing_artifacts", "out/report.md")  # fmt: skip
    assert claim.claim_token not in str(error)


# -- read-only ---------------------------------------------------------------------------------

CLI = "import sys; from parkbench.tui.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture
def read_only_db() -> Iterator[tuple[Unprivileged, str]]:
    runner = Unprivileged()
    if runner.skip_reason:
        pytest.skip(runner.skip_reason)
    directory = shared_dir("pkb-cli-ro-")
    workspace = directory / "workspace"
    workspace.mkdir()
    url = f"sqlite:///{directory / 'parkbench.db'}"
    with Store.open(url) as store:
        populate(store, workspace)
    checkpoint(directory / "parkbench.db")
    (directory / "parkbench.db").chmod(0o444)
    directory.chmod(0o555)
    yield runner, url
    directory.chmod(0o755)
    shutil.rmtree(directory, ignore_errors=True)


def test_writes_on_a_read_only_database_say_so(read_only_db: tuple[Unprivileged, str]) -> None:
    runner, url = read_only_db
    for argv in WRITES:
        done = runner.run(CLI, *argv, "--db", url, "--json")
        outcome = cli_sweep.Outcome(done.returncode, done.stdout, done.stderr)
        code, problem = cli_sweep.verdict(outcome, json_mode=True)
        assert problem is None and code == "database", (argv, done.stderr)
        assert "read-only" in done.stderr


def test_read_commands_work_on_a_read_only_database(
    read_only_db: tuple[Unprivileged, str],
) -> None:
    runner, url = read_only_db
    for argv in READS:
        done = runner.run(CLI, *argv, "--db", url, "--json")
        assert done.returncode == 0, (argv, done.stderr)


def test_snapshot_honours_no_color(db_url: str, workspace: Path, tmp_path: Path) -> None:
    with Store.open(db_url) as store:
        populate(store, workspace)
    outcome = cli_sweep.invoke(
        ("snapshot", "--out", str(tmp_path / "shots"), "--size", "80x24"), db_url,
        json_mode=True, env={"NO_COLOR": "1"},
    )  # fmt: skip
    assert outcome.code == 0, outcome.stderr[-500:]
    assert (tmp_path / "shots" / "summary.json").exists()
