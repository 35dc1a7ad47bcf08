"""The error sweep: every `parkbench` command with missing, malformed, out-of-range arguments.

The command tree is read from typer itself (tests/faults/cli_sweep.py), so every command and
option is covered, including ones added later. For each bad argument list, with --json:
the exit status is the one the error table gives the code, stderr holds exactly one
``{"error": {code, message, hint}}`` line with all three non-empty and one-line, the code is
a stable one (never ``internal``: that is a bug), and no traceback or raw control character
is printed anywhere. Without --json: ``error[code]: ...`` and a ``hint:`` line.
Runs in-process through typer's runner for breadth; a sample also through the real process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from faults import cli_sweep
from faults.environments import populate
from parkbench.core.errors import EXIT_CODES
from parkbench.core.store import Store

FAKE_TOKEN = "pkb_claim_" + "A" * 43


@pytest.fixture
def world(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A database with a run in every interesting state, and a token for each lease.

    Runs in ``tmp_path``: a hostile but legal relative path (``--out``, ``--workspace``)
    is created where the command runs, which must not be the checkout.
    """
    monkeypatch.chdir(tmp_path)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    with Store.open(db_url) as store:
        populate(store, workspace)
        parked = store.list_runs().rows[0].id
        missing = store.enqueue(
            "needs a receipt", workspace, priority=9,
            metadata={"completion_contract": {"required_paths": ["never/written.txt"]}},
        ).run_id  # fmt: skip
        held = store.claim_next("sweeper", lease_s=3600)
        assert held is not None and held.run_id == missing
        store.enqueue("released", workspace, priority=8)
        released = store.claim_next("sweeper", lease_s=3600)
        assert released is not None
        store.release(released.run_id, released.claim_token)
    with Store.open(db_url, clock=lambda: 1_000_000_000_000) as past:  # 2001: long expired
        past.enqueue("expired", workspace, priority=100)  # claimed next, by this store
        expired = past.claim_next("sweeper", lease_s=60)
        assert expired is not None
    return {
        "db": db_url,
        "workspace": str(workspace),
        "out": str(tmp_path / "snapshots"),
        "parked": str(parked),
        "missing": str(missing),
        "missing_token": held.claim_token,
        "released": str(released.run_id),
        "released_token": released.claim_token,
        "expired": str(expired.run_id),
        "expired_token": expired.claim_token,
    }


def _plausible(world: dict[str, str]) -> dict[str, str]:
    """A sensible value for each parameter, by name: what a variant leaves unchanged."""
    return {
        "title": "sweep task", "--workspace": world["workspace"], "--priority": "1",
        "--max-attempts": "2", "--require": "receipts/x.txt", "--missing-policy": "park",
        "--metadata": '{"k": 1}', "runs": world["parked"], "--reason": "because",
        "--actor": "sweeper", "run": world["missing"], "--token": FAKE_TOKEN, "--lease": "60",
        "--result": '{"ok": true}', "--worker": "sweeper", "--status": "needs_attention",
        "--limit": "10", "--now": "2026-09-01T00:00:00Z", "--runs": "5", "--seed": "1",
        "--out": world["out"], "--size": "80x24",
    }  # fmt: skip


#: Known bugs outside core/: (option, value) pairs that still end as `internal`. None left:
#: parse_time_ms now refuses nan, inf and absurd magnitudes as `validation`.
KNOWN_CLI_BUGS: set[tuple[str, str]] = set()


def test_every_command_with_bad_arguments_fails_cleanly(world: dict[str, str]) -> None:
    plausible = _plausible(world)
    problems: list[str] = []
    known: set[tuple[str, str]] = set()
    codes: dict[str, int] = {}
    swept = 0
    for command, click_command in cli_sweep.leaf_commands():
        for variant in cli_sweep.variants(command, click_command, plausible):
            for json_mode in (True, False):
                outcome = cli_sweep.invoke(variant.argv, world["db"], json_mode=json_mode)
                code, problem = cli_sweep.verdict(outcome, json_mode=json_mode)
                swept += 1
                if code:
                    codes[code] = codes.get(code, 0) + 1
                if not problem:
                    continue
                pair = next((p for p in KNOWN_CLI_BUGS if _has(variant.argv, p)), None)
                if pair and "internal" in problem:
                    known.add(pair)
                else:
                    where = f"{' '.join(variant.argv)!r} ({variant.kind}, json={json_mode})"
                    problems.append(f"{where}: {problem}")
    print(f"\nswept {swept} invocations; error codes seen: {dict(sorted(codes.items()))}")
    assert problems == [], "\n".join(problems[:40])
    # Strict: once a known bug is fixed this fails, so KNOWN_CLI_BUGS gets emptied.
    assert known == KNOWN_CLI_BUGS
    assert {"validation", "not_found", "invalid_token"} <= set(codes)


def _has(argv: tuple[str, ...], pair: tuple[str, str]) -> bool:
    return any(argv[i : i + 2] == pair for i in range(len(argv) - 1))


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (("show", "999999"), "not_found"),
        (("lease", "heartbeat", "{missing}", "--token", FAKE_TOKEN), "invalid_token"),
        (("lease", "heartbeat", "{released}", "--token", "{released_token}"), "invalid_transition"),
        (("lease", "heartbeat", "{expired}", "--token", "{expired_token}"), "lease_expired"),
        (("lease", "complete", "{missing}", "--token", "{missing_token}"), "missing_artifacts"),
        (("list", "--limit", "0"), "validation"),
        (("requeue", "{missing}", "--reason", "r"), "invalid_transition"),
    ],
    ids=lambda value: value if isinstance(value, str) else " ".join(value)[:40],
)
def test_every_error_code_has_its_exit_status_and_envelope(
    world: dict[str, str], argv: tuple[str, ...], code: str
) -> None:
    """Each stable code, provoked on purpose (conflict needs a race: tests/cli covers it)."""
    filled = tuple(part.format(**world) for part in argv)
    outcome = cli_sweep.invoke(filled, world["db"], json_mode=True)
    seen, problem = cli_sweep.verdict(outcome, json_mode=True)
    assert problem is None, problem
    assert seen == code and outcome.code == EXIT_CODES[code]
    assert world["missing_token"] not in outcome.stdout + outcome.stderr


def _entry_point() -> list[str]:
    script = Path(sys.executable).with_name("parkbench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "parkbench.tui.cli"]


@pytest.mark.parametrize(
    "argv",
    [
        ("lease", "claim"),
        ("show", "not-a-number"),
        ("show", "99999999999999999999999"),
        ("list", "--status", "\x1b[2J\x1b]0;pwned\x07"),
        ("enqueue", "t", "--workspace", "/nonexistent/dir"),
        ("enqueue", "t", "--workspace", ".", "--metadata", "[" * 5000 + "]" * 5000),
        ("requeue", "--reason", "   "),
        ("no-such-command",),
    ],
    ids=lambda argv: " ".join(argv)[:30],
)
def test_the_real_process_agrees(world: dict[str, str], argv: tuple[str, ...]) -> None:
    done = subprocess.run(
        [*_entry_point(), *argv, "--db", world["db"], "--json"],
        capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    outcome = cli_sweep.Outcome(done.returncode, done.stdout, done.stderr)
    code, problem = cli_sweep.verdict(outcome, json_mode=True)
    assert problem is None, problem
    assert code is not None and done.returncode == EXIT_CODES[code] != 0
    assert done.stdout == ""
