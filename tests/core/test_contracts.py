"""Completion contracts: parsing, path safety at enqueue and at completion, both policies."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import parkbench.core.contracts as contracts_module
from parkbench.core import tokens
from parkbench.core.contracts import (
    ArtifactState,
    Contract,
    MissingPolicy,
    check_artifacts,
    check_path,
    normalize_path,
    parse_contract,
)
from parkbench.core.errors import MissingArtifactsError, ValidationError
from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store


def contract(**section: object) -> dict[str, object]:
    return {"completion_contract": section}


# -- parsing ------------------------------------------------------------------------------


def test_parse_accepts_objects_and_strings_and_ignores_blanks() -> None:
    parsed = parse_contract(
        contract(
            required_artifacts=[
                {"path": "reports/summary.md"},
                "out/result.json",
                "  ",
                {"path": ""},
            ],
            required_paths=["receipts/ok.txt", "", "   "],
            missing_policy="reject",
        )
    )
    assert parsed == Contract(
        ("reports/summary.md", "out/result.json", "receipts/ok.txt"), MissingPolicy.REJECT
    )


def test_parse_merges_task_and_run_metadata() -> None:
    task = contract(required_paths=["a.txt", "shared.txt"])
    run = contract(required_artifacts=["shared.txt", {"path": "b.txt"}], missing_policy="park")
    parsed = parse_contract(task, run)
    assert parsed.required == ("a.txt", "shared.txt", "b.txt")  # first occurrence keeps order
    assert parsed.missing_policy is MissingPolicy.PARK
    # The last explicit policy wins; a section without one keeps the earlier policy.
    assert parse_contract(run, task).missing_policy is MissingPolicy.PARK
    assert parse_contract(run, contract(missing_policy="reject")).missing_policy is (
        MissingPolicy.REJECT
    )


def test_parse_defaults_and_normalises() -> None:
    assert parse_contract(None, {}, {"other": 1}) == Contract()
    assert parse_contract(contract()).empty
    assert parse_contract(contract(required_paths=["./a//b/c.txt"])).required == ("a/b/c.txt",)
    assert parse_contract(contract(missing_policy=" PARK ")).missing_policy is MissingPolicy.PARK


@pytest.mark.parametrize(
    "section",
    [
        {"missing_policy": "ignore"},
        {"missing_policy": 3},
        {"required_artifacts": "a.txt"},
        {"required_paths": {"a": 1}},
        {"required_artifacts": [{"name": "a.txt"}]},
        {"required_artifacts": [7]},
        {"required_paths": [None]},
        {"required_paths": ["."]},
    ],
)
def test_parse_refuses_malformed_contracts(section: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse_contract({"completion_contract": section})


def test_parse_refuses_a_contract_that_is_not_an_object() -> None:
    for value in (["a.txt"], "a.txt", 1):
        with pytest.raises(ValidationError):
            parse_contract({"completion_contract": value})


# -- path safety at enqueue -------------------------------------------------------------------


def _unsafe_paths(workspace: Path, outside: Path) -> dict[str, str]:
    """name -> a required path that must be refused (symlinks made on disk here)."""
    (workspace / "a" / "b").mkdir(parents=True)
    os.symlink(outside, workspace / "top-link")
    os.symlink(outside, workspace / "a" / "b" / "deep-link")
    os.symlink(outside / "secret.txt", workspace / "a" / "file-link.txt")
    os.symlink("../../..", workspace / "a" / "b" / "relative-up")
    os.symlink(outside / "not-there.txt", workspace / "dangling.txt")
    return {
        "absolute": "/etc/passwd",
        "absolute-in-workspace": str(workspace / "x.txt"),
        # A drive is only absolute where paths have drives: on POSIX C:/x.txt is relative.
        **({"drive-letter": "C:/x.txt"} if os.name == "nt" else {}),
        "dotdot": "../outside.txt",
        "dotdot-inside": "a/../../outside.txt",
        "dotdot-trailing": "a/b/..",
        "backslash": "a\\..\\..\\x.txt",
        "backslash-plain": "a\\b.txt",
        "token": f"out/{tokens.mint()}.txt",
        "token-fragment": f"out/{tokens.mint()[:30]}",
        "symlink-top": "top-link/secret.txt",
        "symlink-deep": "a/b/deep-link/secret.txt",
        "symlink-leaf": "a/file-link.txt",
        "symlink-relative": "a/b/relative-up/etc/passwd",
        "symlink-dangling": "dangling.txt",
    }


def test_enqueue_refuses_every_unsafe_path(store: Store, tmp_path: Path, workspace: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    for name, path in _unsafe_paths(workspace, outside).items():
        for metadata_field in ("metadata", "run_metadata"):
            for section in (
                {"required_paths": [path]},
                {"required_artifacts": [{"path": path}]},
                {"required_artifacts": ["fine.txt", path]},
            ):
                with pytest.raises(ValidationError) as refused:
                    store.enqueue("t", workspace, **{metadata_field: contract(**section)})
                message = f"{refused.value.message} {refused.value.hint}"
                assert not tokens.contains_token(message), name
                assert "pkb_claim_" not in path or "pkb_claim_" in message, name
    assert store.count_runs(run_filter=None) == 0
    assert sum(store.counts_by_status().values()) == 0


def test_enqueue_accepts_paths_and_symlinks_that_stay_inside(store: Store, workspace: Path) -> None:
    (workspace / "real").mkdir()
    os.symlink(workspace / "real", workspace / "inner-link")
    os.symlink("real", workspace / "relative-link")
    required = ["inner-link/x.txt", "relative-link/y.txt", "not/yet/made.txt", "./a/./b.txt"]
    run_id = store.enqueue("t", workspace, metadata=contract(required_paths=required)).run_id
    row = store.get_run(run_id).run
    assert row.contract.required == (
        "inner-link/x.txt",
        "relative-link/y.txt",
        "not/yet/made.txt",
        "a/b.txt",
    )


# -- checking receipts -------------------------------------------------------------------------


def test_check_artifacts_reports_each_state(tmp_path: Path, workspace: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "f.txt").write_text("x")
    (workspace / "present.txt").write_text("x")
    (workspace / "a-dir").mkdir()
    os.symlink(outside / "f.txt", workspace / "escape.txt")
    os.symlink(workspace / "present.txt", workspace / "inside-link.txt")
    os.mkfifo(workspace / "fifo")
    checks = {
        c.path: c.state
        for c in check_artifacts(
            str(workspace),
            [
                "present.txt",
                "missing.txt",
                "a-dir",
                "escape.txt",
                "inside-link.txt",
                "fifo",
                "present.txt/child",
                "../x",
            ],
        )
    }
    assert checks == {
        "present.txt": ArtifactState.PRESENT,
        "missing.txt": ArtifactState.MISSING,
        "a-dir": ArtifactState.NOT_A_FILE,
        "escape.txt": ArtifactState.UNSAFE,
        "inside-link.txt": ArtifactState.PRESENT,
        "fifo": ArtifactState.NOT_A_FILE,
        "present.txt/child": ArtifactState.MISSING,
        "../x": ArtifactState.UNSAFE,
    }
    assert check_path(str(tmp_path / "no-such-root"), "a.txt").state is ArtifactState.MISSING


def _claimed(store: Store, workspace: Path, **section: object) -> tuple[int, str]:
    run_id = store.enqueue("t", workspace, metadata=contract(**section)).run_id
    claim = store.claim_next("w")
    assert claim is not None and claim.run_id == run_id
    return run_id, claim.claim_token


def test_reject_lists_every_missing_path_and_keeps_the_run_claimed(
    store: Store, tmp_path: Path, workspace: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "late.txt").write_text("planted")
    required = ["ok.txt", "missing.txt", "dir.txt", "late-link/late.txt", "late.txt"]
    run_id, token = _claimed(store, workspace, required_paths=required)
    (workspace / "ok.txt").write_text("done")
    (workspace / "dir.txt").mkdir()  # a directory does not count
    os.symlink(outside, workspace / "late-link")  # a symlink that appeared after enqueue
    os.symlink(outside / "late.txt", workspace / "late.txt")
    before = store.get_run(run_id)
    with pytest.raises(MissingArtifactsError) as refused:
        store.complete(run_id, token)
    missing = ["missing.txt", "dir.txt", "late-link/late.txt", "late.txt"]
    assert refused.value.details["missing"] == missing
    for path in missing:
        assert path in refused.value.message
    after = store.get_run(run_id)
    assert after.run.status is RunStatus.CLAIMED and after.run.version == before.run.version
    assert len(after.events) == len(before.events)
    states = {a.path: a.state for a in after.artifacts}
    assert states == {
        "ok.txt": ArtifactState.PRESENT,
        "missing.txt": ArtifactState.MISSING,
        "dir.txt": ArtifactState.NOT_A_FILE,
        "late-link/late.txt": ArtifactState.UNSAFE,
        "late.txt": ArtifactState.UNSAFE,
    }
    # Fix every receipt; the same lease completes.
    (workspace / "missing.txt").write_text("x")
    (workspace / "dir.txt").rmdir()
    (workspace / "dir.txt").write_text("x")
    (workspace / "late-link").unlink()
    (workspace / "late-link").mkdir()
    (workspace / "late-link" / "late.txt").write_text("x")
    (workspace / "late.txt").unlink()
    (workspace / "late.txt").write_text("x")
    assert store.complete(run_id, token).status is RunStatus.COMPLETED


def test_park_moves_the_run_to_needs_attention_naming_the_missing_receipts(
    store: Store, workspace: Path
) -> None:
    run_id, token = _claimed(
        store,
        workspace,
        required_artifacts=[{"path": "reports/summary.md"}, "out/result.json"],
        required_paths=["receipts/ok.txt"],
        missing_policy="park",
    )
    (workspace / "out").mkdir()
    (workspace / "out" / "result.json").mkdir()  # a directory, not the file
    (workspace / "receipts").mkdir()
    (workspace / "receipts" / "ok.txt").write_text("ok")
    done = store.complete(run_id, token, result={"ok": True})
    assert done.status is RunStatus.NEEDS_ATTENTION
    assert done.missing == ("reports/summary.md", "out/result.json")
    detail = store.get_run(run_id)
    assert detail.run.status is RunStatus.NEEDS_ATTENTION
    assert detail.run.block_reason == "missing receipts: reports/summary.md, out/result.json"
    assert detail.run.lease_until_ms is None and detail.result == {"ok": True}
    last = detail.events[-1]
    assert (last.action, last.from_status, last.to_status) == (
        "park_missing",
        "claimed",
        "needs_attention",
    )
    assert last.reason == detail.run.block_reason


def test_run_metadata_contract_is_enforced_too(store: Store, workspace: Path) -> None:
    run_id = store.enqueue(
        "t",
        workspace,
        metadata=contract(required_paths=["task.txt"]),
        run_metadata=contract(required_paths=["run.txt"], missing_policy="park"),
    ).run_id
    claim = store.claim_next("w")
    assert claim is not None
    (workspace / "task.txt").write_text("x")
    done = store.complete(run_id, claim.claim_token)
    assert done.status is RunStatus.NEEDS_ATTENTION and done.missing == ("run.txt",)


def test_a_run_without_a_contract_completes(store: Store, workspace: Path) -> None:
    run_id, token = _claimed(store, workspace)
    assert store.complete(run_id, token).status is RunStatus.COMPLETED


# -- what counts as absolute (issue 19 item 8) ----------------------------------------------

_NAME_CHARS = "ab.:-_ x"


@pytest.mark.skipif(os.name == "nt", reason="POSIX path rules")
@pytest.mark.parametrize("text", ["a:b.txt", "C:/x.txt", "x:", "out/run:1/log.txt", "::", "a/b:"])
def test_a_colon_is_an_ordinary_character_on_posix(text: str, workspace: Path) -> None:
    assert normalize_path(text) == text
    target = workspace / text
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("ok")
    assert check_path(str(workspace), text).state is ArtifactState.PRESENT


@pytest.mark.skipif(os.name == "nt", reason="POSIX path rules")
@given(
    parts=st.lists(st.text(alphabet=_NAME_CHARS, min_size=1, max_size=6), min_size=1, max_size=4)
)
def test_on_posix_only_a_leading_slash_makes_a_path_absolute(parts: list[str]) -> None:
    text = "/".join(parts)
    assume(text.strip() and text.strip() == text)
    assume(all(part != ".." for part in parts))
    expected = str(PurePosixPath(text))
    if expected == ".":
        with pytest.raises(ValidationError, match="workspace root itself"):
            normalize_path(text)
    else:
        assert normalize_path(text) == expected
    with pytest.raises(ValidationError, match="is absolute"):
        normalize_path("/" + text)


@pytest.mark.parametrize("text", ["C:/x.txt", "c:x.txt", "Z:"])
def test_a_drive_letter_is_absolute_on_windows(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contracts_module, "WINDOWS_PATHS", True)
    with pytest.raises(ValidationError, match="is absolute"):
        normalize_path(text)
    monkeypatch.setattr(contracts_module, "WINDOWS_PATHS", False)
    assert normalize_path(text) == text


@pytest.mark.parametrize(
    "text", ["/a:b.txt", "a:b/../../x", "a\\b:c", "x:/..", f"a:{tokens.mint()}"]
)
def test_colon_paths_still_meet_every_other_rule(text: str) -> None:
    with pytest.raises(ValidationError):
        normalize_path(text)


def test_a_colon_symlink_that_escapes_is_still_unsafe(tmp_path: Path, workspace: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    os.symlink(outside, workspace / "c:")
    check = check_path(str(workspace), "c:/secret.txt")
    assert check.state is ArtifactState.UNSAFE
