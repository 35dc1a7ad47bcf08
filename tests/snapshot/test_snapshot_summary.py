"""summary.json: counts and every parked run with its receipts, on both backends."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snapshottest_support import HOSTILE, park, seed_hostile, seed_review

from core.contracts import Contract, MissingPolicy, check_path, normalize_path
from core.errors import ValidationError
from core.records import RunFilter
from core.store import Store
from tui.cli.output import iso
from tui.snapshot_summary import (
    ReceiptChecker,
    _json_text,
    _Times,
    close_summary,
    contract_of,
    write_summary,
)


def summary_of(
    store: Store, page: int = 5000, limit: int | None = None, **header: object
) -> dict[str, object]:
    out = io.StringIO()
    totals = write_summary(store, out, dict(header), page=page, limit=limit)
    close_summary(out, {"screens": {"list": {"svg": "list.svg"}}})
    text = out.getvalue()
    assert text.isascii()  # every non-ASCII character is escaped: safe on any terminal
    document = json.loads(text)
    assert document["needs_attention_total"] == totals.parked
    assert document["needs_attention_total"] == document["counts"]["needs_attention"]
    assert document["needs_attention_listed"] == len(document["needs_attention"])
    assert document["counts"] == totals.counts
    return document


def test_counts_and_every_parked_run_in_list_order(store: Store, workspace: Path, clock) -> None:
    parked = seed_review(store, workspace, clock)
    hostile = seed_hostile(store, workspace, clock)
    document = summary_of(store, now="2026-09-01T01:00:00Z")
    assert document["parkbench_snapshot"] == 1 and document["now"] == "2026-09-01T01:00:00Z"
    assert document["counts"] == store.counts_by_status()
    assert document["total"] == sum(store.counts_by_status().values())
    listed = store.list_runs(RunFilter(), limit=1000).rows  # the TUI's default order
    assert [entry["id"] for entry in document["needs_attention"]] == [r.id for r in listed]
    assert set(parked) | set(hostile.values()) == {r.id for r in listed}
    assert document["screens"] == {"list": {"svg": "list.svg"}}
    for entry, row in zip(document["needs_attention"], listed, strict=True):
        detail = store.get_run(row.id)  # receipts checked on disk, as `parkbench show`
        assert entry == {
            "id": row.id,
            "task_id": row.task_id,
            "title": row.title,
            "reason": row.block_reason,
            "blocked_at": iso(row.blocked_at_ms),
            "worker": row.worker,
            "attempt": row.attempt,
            "max_attempts": row.max_attempts,
            "workspace": row.workspace_root,
            "receipts": [check.to_dict() for check in detail.artifacts],
            "receipts_present": sum(c.state.value == "present" for c in detail.artifacts),
        }
    first = document["needs_attention"][0]
    assert [r["state"] for r in first["receipts"]] == [
        "present", "missing", "not_a_file", "missing"]
    texts = {entry["title"] for entry in document["needs_attention"]}
    for name, text in HOSTILE.items():  # stored exactly, returned exactly
        assert f"{name} title {text}" in texts


def test_keyset_pages_neither_skip_nor_repeat_runs_blocked_at_the_same_instant(
    store: Store, workspace: Path
) -> None:
    # No clock advance: every run parks at the same instant, so only ids order them.
    ids = [park(store, workspace, f"run {n}", f"reason {n}") for n in range(7)]
    for page in (1, 2, 3, 7, 8):
        document = summary_of(store, page=page)
        assert [e["id"] for e in document["needs_attention"]] == sorted(ids), page


def test_a_limit_lists_the_oldest_parked_runs_and_still_counts_them_all(
    store: Store, workspace: Path, clock
) -> None:
    ids = [park(store, workspace, f"run {n}", f"reason {n}", clock=clock) for n in range(5)]
    for limit, page in ((2, 5000), (3, 2), (0, 5000), (9, 2)):
        document = summary_of(store, page=page, limit=limit)
        assert [e["id"] for e in document["needs_attention"]] == ids[:limit]
        assert document["needs_attention_total"] == 5


def test_an_empty_database_has_an_empty_list(store: Store) -> None:
    document = summary_of(store)
    assert document["needs_attention"] == [] and document["needs_attention_total"] == 0
    assert document["total"] == 0


def test_a_receipt_that_appears_on_disk_is_seen_by_the_next_summary(
    store: Store, workspace: Path, clock
) -> None:
    park(store, workspace, "t", "r", required=["out/late.txt"], clock=clock)
    before = summary_of(store)["needs_attention"][0]
    (workspace / "out").mkdir()
    (workspace / "out" / "late.txt").write_text("done")
    after = summary_of(store)["needs_attention"][0]
    assert before["receipts"] == [{"path": "out/late.txt", "state": "missing"}]
    assert after["receipts"] == [{"path": "out/late.txt", "state": "present"}]
    assert after["receipts_present"] == 1


# -- the fast paths agree with the slow ones ------------------------------------------------


def test_contract_of_reads_contracts_as_the_store_does() -> None:
    assert contract_of(None, None) == Contract()
    both = contract_of(
        '{"completion_contract": {"required_paths": ["a/b.txt", "./c//d"]}}',
        '{"completion_contract": {"required_paths": ["e"], "missing_policy": "park"}}',
    )
    assert both == Contract(("a/b.txt", "c/d", "e"), MissingPolicy.PARK)
    # A broken contract never breaks the list (core.queries.to_row's rule).
    assert contract_of('{"completion_contract": 3}', None) == Contract()
    assert contract_of('{"completion_contract": {"required_paths": ["../x"]}}', None) == (
        Contract()
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with every kind of entry a receipt path can meet."""
    base = tmp_path_factory.mktemp("receipts")
    root = base / "root"
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "file.txt").write_text("x")
    (root / "dir" / "file.txt").write_text("x")
    (root / "dir" / "sub" / "file.txt").write_text("x")
    (base / "outside.txt").write_text("x")
    (root / "link_in").symlink_to(root / "file.txt")
    (root / "link_out").symlink_to(base / "outside.txt")
    (root / "link_dir").symlink_to(root / "dir")
    (root / "link_up").symlink_to(base)
    (root / "dangling").symlink_to(root / "nowhere")
    os.mkfifo(root / "fifo")
    return root


_PARTS = ["file.txt", "dir", "sub", "link_in", "link_out", "link_dir", "link_up", "dangling",
          "fifo", "missing", "outside.txt", ".", "..", ""]


@given(parts=st.lists(st.sampled_from(_PARTS), min_size=1, max_size=4),
       absolute=st.booleans())
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_receipt_checker_answers_as_check_path(
    tree: Path, parts: list[str], absolute: bool
) -> None:
    relative = ("/" if absolute else "") + "/".join(parts)
    checker = ReceiptChecker()  # fresh: listings are cached per checker
    for root in (str(tree), str(tree / "link_dir"), str(tree / "missing-root")):
        expected = check_path(root, relative)
        got = checker.check(root, relative)
        assert (got.path, got.state, got.detail) == (expected.path, expected.state,
                                                      expected.detail), (root, relative)


@given(st.text(alphabet=st.sampled_from("ab./ \\x:"), min_size=1, max_size=12))
def test_normalize_path_still_gives_what_pure_posix_path_gave(text: str) -> None:
    try:
        normalized = normalize_path(text)
    except ValidationError:
        return
    if normalized is not None:
        assert normalized == str(PurePosixPath(text.strip()))


@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_the_cached_timestamps_are_the_cli_timestamps(ms: int) -> None:
    assert _Times().iso(ms) == iso(ms)


@given(st.text())
def test_hand_written_json_strings_decode_to_the_text(text: str) -> None:
    encoded = _json_text(text)
    assert encoded.isascii() and json.loads(encoded) == text
