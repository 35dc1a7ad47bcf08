"""The real `parkbench` executable: lifecycle, import hygiene, the claim race, the TUI hook."""

from __future__ import annotations

import importlib.machinery
import json
import shlex
import subprocess
import sys
import types
from collections import Counter
from pathlib import Path

import pytest
from clitest_support import clean_env, entry_point, invoke, run

import parkbench.tui.cli
from parkbench.core.store import Store

# SQLModel (and pydantic) are the schema now (parkbench.core.models), and typer converts
# options through pydantic: every store-using command loads them. The UI stack stays out.
HEAVY = ("textual", "rich", "watchfiles", "parkbench.tui.app")


def test_full_lifecycle_through_the_executable(db_url: str, workspace: Path) -> None:
    """enqueue -> claim -> block (parked) -> requeue -> claim -> complete, all as processes."""
    db = ("--db", db_url)
    ids = run(
        "enqueue",
        "Write the summary",
        "--workspace",
        str(workspace),
        "--require",
        "out/summary.md",
        "--json",
        *db,
    ).json()
    first = run("lease", "claim", "--worker", "agent-1", "--json", *db).json()
    assert first["run_id"] == ids["run_id"]
    parked = run(
        "lease",
        "block",
        str(first["run_id"]),
        "--token",
        "-",
        "--reason",
        "need an API key",
        "--json",
        *db,
        stdin=first["claim_token"],
    )
    assert parked.json()["status"] == "needs_attention"
    listed = run("list", "--json", *db).json()["runs"]
    assert [(r["id"], r["block_reason"]) for r in listed] == [(first["run_id"], "need an API key")]
    requeued = run(
        "requeue", str(first["run_id"]), "--reason", "key added", "--actor", "alice", "--json", *db
    ).json()
    new_run = requeued["results"][0]["new_run_id"]
    second = run("lease", "claim", "--worker", "agent-2", "--json", *db).json()
    assert second["run_id"] == new_run and second["attempt"] == 2
    env = clean_env(PARKBENCH_TOKEN=second["claim_token"])
    refused = run("lease", "complete", str(new_run), "--json", *db, env=env)
    assert refused.code == 3 and refused.error()["code"] == "missing_artifacts"
    (workspace / "out").mkdir()
    (workspace / "out" / "summary.md").write_text("done")
    done = run(
        "lease", "complete", str(new_run), "--result", '{"pages": 3}', "--json", *db, env=env
    )
    assert done.json() == {"run_id": new_run, "status": "completed", "missing": []}
    shown = run("show", str(new_run), "--json", *db).json()
    assert [e["run_id"] for e in shown["lineage"]] == [first["run_id"], new_run]
    assert shown["artifacts"] == [{"path": "out/summary.md", "state": "present"}]
    assert shown["result"] == {"pages": 3}
    stats = run("stats", "--json", *db).json()["counts"]
    assert (stats["completed"], stats["requeued"], stats["needs_attention"]) == (1, 1, 0)


@pytest.mark.parametrize("mode", [["--json"], []])
def test_lease_claim_loads_no_ui_modules(tmp_path: Path, workspace: Path, mode: list[str]) -> None:
    db = f"sqlite:///{tmp_path / 'hygiene.db'}"
    with Store.open(db) as store:
        store.enqueue("t", workspace)
    entry = entry_point()  # the console script is a Python file: run it under -X importtime
    command = [
        sys.executable,
        "-X",
        "importtime",
        *(entry[1:] if entry[0] == sys.executable else entry),
    ]
    done = subprocess.run(
        [*command, "lease", "claim", "--worker", "w", "--db", db, *mode],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pkb_claim_" in done.stdout
    loaded = {
        line.split("|")[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    # The probe saw real imports: the store's one path, and the CLI.
    assert "parkbench.core.store.worker" in loaded and "typer" in loaded
    # An existing current database needs no migration tooling, and no UI at all.
    heavy = sorted(m for m in loaded if m.split(".")[0] in (*HEAVY, "alembic"))
    assert heavy == []
    if mode:  # and the heartbeat that follows it in a worker loop
        token = json.loads(done.stdout)["claim_token"]
        beat = subprocess.run(
            [*command, "lease", "heartbeat", "1", "--token", "-", "--db", db, "--json"],
            input=token,
            capture_output=True,
            text=True,
            env=clean_env(),
            check=False,
        )
        assert beat.returncode == 0, beat.stderr[-2000:]
        assert json.loads(beat.stdout)["status"] == "claimed"
        loaded = {
            line.split("|")[-1].strip()
            for line in beat.stderr.splitlines()
            if line.startswith("import time:")
        }
        assert "parkbench.core.store.worker" in loaded
        assert sorted(m for m in loaded if m.split(".")[0] in HEAVY) == []


def test_lease_claim_on_a_new_file_is_not_found_and_creates_nothing(
    tmp_path: Path, workspace: Path
) -> None:
    """A worker pointed at a mistyped path hears so, instead of "nothing to claim" forever."""
    path = tmp_path / "sub" / "new.db"
    path.parent.mkdir()
    first = run("lease", "claim", "--worker", "w", "--db", str(path), "--json")
    assert first.code == 4 and first.stdout == ""
    error = first.error()
    assert error["code"] == "not_found" and str(path) in error["message"]
    assert "parkbench db path" in error["hint"] and "parkbench enqueue" in error["hint"]
    assert sorted(path.parent.iterdir()) == []
    # enqueue creates it (through the store); then the worker finds its work
    ids = run("enqueue", "t", "--workspace", str(workspace), "--db", str(path), "--json").json()
    assert path.is_file()
    second = run("lease", "claim", "--worker", "w", "--db", str(path), "--json").json()
    assert second["run_id"] == ids["run_id"] and second["claim_token"].startswith("pkb_claim_")


def test_version_and_help_through_the_executable() -> None:
    version = run("--version")
    assert version.code == 0 and version.stdout.startswith("parkbench ")
    helped = run("--help")
    assert helped.code == 0
    for name in (
        "enqueue",
        "lease",
        "requeue",
        "fail",
        "release",
        "list",
        "show",
        "stats",
        "recover",
        "db",
        "demo",
    ):
        assert name in helped.stdout


@pytest.mark.slow
def test_six_processes_claim_in_loops_without_double_lost_or_errors(
    tmp_path: Path, workspace: Path
) -> None:
    runs_total, workers = 48, 6
    db = f"sqlite:///{tmp_path / 'race.db'}"
    with Store.open(db) as store:
        expected = {store.enqueue(f"task {n}", workspace).run_id for n in range(runs_total)}
    claim = " ".join(shlex.quote(part) for part in entry_point())
    loop = (
        f'while out=$({claim} lease claim --worker "$1" --db {shlex.quote(db)} --json); do '
        '[ "$out" = null ] && exit 0; echo "$out"; done; echo "exit=$?" >&2; exit 1'
    )
    procs = [
        subprocess.Popen(
            ["bash", "-c", loop, "loop", f"worker-{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        for n in range(workers)
    ]
    claims: list[dict] = []
    errors: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        if proc.returncode != 0 or err.strip():
            errors.append(f"rc={proc.returncode} {err.strip()}")
        claims += [json.loads(line) for line in out.splitlines()]
    claimed = Counter(c["run_id"] for c in claims)
    doubles = [run_id for run_id, n in claimed.items() if n > 1]
    lost = expected - set(claimed)
    assert (doubles, sorted(lost), errors) == ([], [], [])
    assert len({c["claim_token"] for c in claims}) == runs_total
    with Store.open(db) as store:
        assert store.counts_by_status()["claimed"] == runs_total
        for run_id in expected:
            actions = [e.action for e in store.get_run(run_id, check_disk=False).events]
            assert actions == ["enqueue", "claim"]


# -- the no-argument path and the lazy command hook ---------------------------------------


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **attrs: object) -> None:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, loader=None)
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)


def test_no_arguments_opens_the_review_app(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []

    def run_app(store_url: str | None, *, read_only: bool = False) -> int:
        calls.append((store_url, read_only))
        return 0

    _fake_module(monkeypatch, "parkbench.tui.app", run_app=run_app)
    monkeypatch.setattr(parkbench.tui.cli, "has_terminal", lambda: True)
    assert invoke().code == 0
    assert invoke("--read-only", "--db", "sqlite:///x.db").code == 0
    assert calls == [(None, False), ("sqlite:///x.db", True)]


def test_no_arguments_without_the_app_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "parkbench.tui.app", None)  # importing it now fails
    monkeypatch.setattr(parkbench.tui.cli, "has_terminal", lambda: True)
    done = invoke()
    assert done.code == 0 and "parkbench list" in done.stderr


def test_lazy_commands_register_only_when_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    ran: list[str] = []

    def register(app: typer.Typer) -> None:
        @app.command("probe")
        def probe(flag: bool = False) -> None:
            """A command another feature adds."""
            ran.append(f"probe {flag}")

    monkeypatch.setattr(parkbench.tui.cli, "LAZY_COMMANDS", ("probe",))
    _fake_module(monkeypatch, "parkbench.tui.cli.probe", register=register)
    assert "probe" in invoke("--help").stdout
    assert invoke("probe", "--flag").code == 0 and ran == ["probe True"]
    monkeypatch.setattr(parkbench.tui.cli, "LAZY_COMMANDS", ("absent-feature",))
    missing = invoke("absent-feature", "--json")
    assert missing.code == 2 and missing.error()["code"] == "validation"
