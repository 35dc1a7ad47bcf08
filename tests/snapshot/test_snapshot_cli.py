"""`parkbench snapshot` end to end: the README's CI recipe on demo data, the gate, the codes."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from snapshottest_support import SCRUBBED, assert_safe_svg, assert_safe_text, clean_env, run

from parkbench.core.errors import ValidationError
from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store
from parkbench.tui.cli.snapshot import parse_limit, parse_screens, parse_size, take_snapshot
from parkbench.tui.snapshot.headless import SCREENS, View

README = Path(__file__).resolve().parents[2] / "README.md"
DEMO_NOW = "2026-09-01T09:00:00Z"
DEMO_NOW_MS = 1_788_253_200_000


def recipe() -> tuple[list[str], str]:
    """The snapshot command and the uploaded path, as the README's workflow has them."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## CI: snapshot and gate on parked work", 1)[1]
    yaml = section.split("```yaml", 1)[1].split("```", 1)[0]
    (command,) = re.findall(r"^\s*run: (parkbench snapshot .*)$", yaml, re.MULTILINE)
    upload = yaml.split("actions/upload-artifact", 1)
    assert "if: always()" in upload[0].rsplit("- name:", 1)[1]  # the report outlives the gate
    (path,) = re.findall(r"^\s*path: (\S+)$", upload[1], re.MULTILINE)
    return shlex.split(command.split("#", 1)[0]), path


def test_the_readme_recipe_on_demo_data(tmp_path: Path) -> None:
    argv, uploaded = recipe()
    assert argv[:2] == ["parkbench", "snapshot"] and "--fail-on-attention" in argv
    db = tmp_path / "agents.db"
    env = clean_env(PARKBENCH_DB=str(db))
    # "Run the agents": the demo world stands in for them (parked runs, receipts on disk).
    demo = run(
        "demo",
        "--workspace",
        str(tmp_path / "ws"),
        "--runs",
        "60",
        "--seed",
        "3",
        "--now",
        DEMO_NOW,
        "--json",
        env=env,
    )
    assert demo.code == 0, demo.stderr
    parked = json.loads(demo.stdout)["by_status"]["needs_attention"]
    assert parked > 0

    gated = run(*argv[1:], cwd=tmp_path, env=env)
    assert gated.code == 1, gated.stderr  # the gate, after writing every file
    assert "gate failed" in gated.stderr and f"{parked} run(s) need attention" in gated.stdout
    report = tmp_path / uploaded
    assert sorted(p.name for p in report.iterdir()) == [
        "detail.svg",
        "detail.txt",
        "list.svg",
        "list.txt",
        "summary.json",
    ]
    summary = json.loads((report / "summary.json").read_text())
    assert summary["needs_attention_total"] == parked == len(summary["needs_attention"])
    assert summary["counts"]["needs_attention"] == parked
    for name in ("list", "detail"):
        assert_safe_svg((report / f"{name}.svg").read_text())
        assert_safe_text((report / f"{name}.txt").read_text())

    # Reviewers deal with everything parked: the same step passes.
    cleared = run("fail", "--all-matching", "--reason", "triaged in CI", "--yes", env=env)
    assert cleared.code == 0, cleared.stderr
    passed = run(*argv[1:], "--json", cwd=tmp_path, env=env)
    assert passed.code == 0, passed.stderr
    document = json.loads(passed.stdout)
    assert document["gate"] == "passed" and document["needs_attention"] == 0
    assert document["listed"] == 0
    assert json.loads((report / "summary.json").read_text())["needs_attention"] == []


def test_the_cli_and_the_in_process_call_write_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SCRUBBED:  # the subprocess gets a clean environment; so does this one
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "demo.db"
    env = clean_env(PARKBENCH_DB=str(db))
    assert (
        run(
            "demo",
            "--workspace",
            str(tmp_path / "ws"),
            "--runs",
            "40",
            "--seed",
            "5",
            "--now",
            DEMO_NOW,
            env=env,
        ).code
        == 0
    )
    cli = run(
        "snapshot",
        "--out",
        str(tmp_path / "cli"),
        "--now",
        DEMO_NOW,
        "--screens",
        "all",
        "--size",
        "100x30",
        "--summary-limit",
        "5",
        env=env,
    )
    assert cli.code == 0, cli.stderr  # no gate asked for: parked runs do not fail it
    view = View(now_ms=DEMO_NOW_MS, size=(100, 30), screens=SCREENS)
    take_snapshot(str(db), tmp_path / "inproc", view, summary_limit=5)
    summary = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert summary["needs_attention_listed"] == 5 < summary["needs_attention_total"]
    names = sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "inproc").iterdir())
    assert len(names) == 2 * len(SCREENS) + 1
    for name in names:
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "inproc" / name).read_bytes()


def test_errors_keep_the_cli_codes_and_envelope(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    bad_size = run("snapshot", "--out", out, "--size", "10x5", "--json")
    assert bad_size.code == 2
    assert json.loads(bad_size.stderr)["error"]["code"] == "validation"
    bad_screen = run("snapshot", "--out", out, "--screens", "list,nope")
    assert bad_screen.code == 2 and "nope" in bad_screen.stderr
    missing = run(
        "snapshot",
        "--out",
        out,
        "--fail-on-attention",
        "--json",
        "--db",
        str(tmp_path / "nowhere.db"),
    )
    assert missing.code == 5  # database: a gate must not pass on a database it cannot read
    assert json.loads(missing.stderr)["error"]["code"] == "database"
    assert not (tmp_path / "out" / "summary.json").exists()
    assert not (tmp_path / "out" / "summary.json.part").exists()


def test_a_screen_that_cannot_be_shown_leaves_no_stale_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SCRUBBED:
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Store.open(url).close()
    out = tmp_path / "out"
    out.mkdir()
    (out / "action.svg").write_text("old")
    view = View(now_ms=DEMO_NOW_MS, status=RunStatus.NEEDS_ATTENTION, screens=("list", "action"))
    report = take_snapshot(url, out, view)
    assert report["needs_attention"] == 0 and "skipped" in report["screens"]["action"]
    assert not (out / "action.svg").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert "skipped" in summary["screens"]["action"] and "svg" in summary["screens"]["list"]


def test_option_parsing() -> None:
    assert parse_size("120x40") == (120, 40) and parse_size(" 80 X 24 ") == (80, 24)
    for bad in ("120", "x", "39x40", "120x9", "501x40", "-1x5"):
        with pytest.raises(ValidationError, match="--size"):
            parse_size(bad)
    assert parse_limit("all") is None and parse_limit(" 25 ") == 25 and parse_limit("0") == 0
    for bad in ("-1", "x", "", "1.5"):
        with pytest.raises(ValidationError, match="--summary-limit"):
            parse_limit(bad)
    assert parse_screens("all") == SCREENS
    assert parse_screens("detail, list,detail") == ("detail", "list")
    for bad in ("", ",", "list,all"):
        with pytest.raises(ValidationError) as raised:
            parse_screens(bad)
        assert "list, action, help, causes, detail" in raised.value.hint


def test_a_filter_it_does_not_understand_is_a_validation_error(tmp_path: Path) -> None:
    """Issue 20.3: --filter speaks the app's filter language, and says what it cannot read."""
    env = {**clean_env(), "PARKBENCH_DB": str(tmp_path / "none.db")}
    done = run("snapshot", "--out", str(tmp_path / "out"), "--filter", "wrker:x", "--json", env=env)
    assert done.code == 2, done.stderr
    error = json.loads(done.stderr)["error"]
    assert error["code"] == "validation"
    assert error["message"] == "--filter: unknown field wrker:"
    assert "worker:" in error["hint"]
    assert not (tmp_path / "out").exists()
