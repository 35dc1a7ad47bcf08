"""summary.json: counts and every parked run with its receipts, on both backends; the fast
paths (SQLite's direct writer, the receipts' plain reading) against the generic ones."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parkbench.core.contracts import Contract, MissingPolicy, check_path, normalize_path
from parkbench.core.errors import DatabaseError, ValidationError
from parkbench.core.records import RunFilter
from parkbench.core.store import Store
from parkbench.tui.cli.output import iso
from parkbench.tui.snapshot.receipts import (
    ENCODER,
    ReceiptChecker,
    Receipts,
    ascii_string,
    contract_of,
)
from parkbench.tui.snapshot.summary import (
    Times,
    close_summary,
    write_summary,
    write_summary_file,
)
from snapshottest_support import HOSTILE, park, seed_hostile, seed_review


def summary_text(
    store: Store, page: int = 5000, limit: int | None = None, generic: bool = False,
    **header: object,
) -> str:
    out = io.StringIO()
    totals = write_summary(store, out, dict(header), page=page, limit=limit, generic=generic)
    close_summary(out, {"screens": {"list": {"svg": "list.svg"}}})
    text = out.getvalue()
    document = json.loads(text)
    assert document["needs_attention_total"] == totals.parked
    assert document["counts"] == totals.counts
    assert document["needs_attention_listed"] == totals.listed
    return text


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


def _odd_rows(store: Store, workspace: Path, clock) -> None:
    """Rows no current writer makes but a database may hold: contracts in every unusual
    shape (an older version, another tool), a run never blocked, a run without a worker."""
    odd_contracts = [
        {"required_artifacts": [{"path": "out/a.txt"}, "out/b.txt"]},
        {"required_paths": ["out/a.txt"], "missing_policy": " Park "},
        {"required_paths": ["out/a.txt"], "missing_policy": "sometimes"},
        {"required_paths": ["./out//a.txt", "out/a.txt", "out/./b.txt"]},
        {"required_paths": ["out/r\u00e9sum\u00e9.txt", "out/x y.txt", "out/\u202ebad"]},
        {"required_paths": ["../outside", "out/a.txt"]},
        {"required_paths": ["out/pkb_claim_AAAAAAAAAAAAAAAAAAAAAAAA"]},
        {"required_paths": "out/a.txt"},
        {"required_paths": [7]},
        "not an object",
    ]
    ids = [park(store, workspace, f"odd {n}", "odd", required=["out/a.txt"], clock=clock)
           for n in range(len(odd_contracts) + 3)]
    with store.engine.begin() as conn:
        for run_id, contract in zip(ids, odd_contracts, strict=False):
            task_id = conn.exec_driver_sql(
                f"SELECT task_id FROM runs WHERE id = {run_id}").scalar_one()
            conn.execute(
                sa.text("UPDATE tasks SET metadata_json = :m WHERE id = :t"),
                {"m": json.dumps({"completion_contract": contract}), "t": task_id},
            )
        broken, run_contract, unblocked = ids[-3:]
        conn.execute(sa.text("UPDATE tasks SET metadata_json = :m WHERE id = "
                             "(SELECT task_id FROM runs WHERE id = :r)"),
                     {"m": '{"completion_contract": {"required_paths": [', "r": broken})
        conn.execute(sa.text("UPDATE runs SET metadata_json = :m WHERE id = :r"),
                     {"m": json.dumps({"completion_contract": {"required_paths": ["out/c.txt"],
                                                               "missing_policy": "park"}}),
                      "r": run_contract})
        conn.execute(sa.text("UPDATE runs SET blocked_at = NULL, worker = NULL, "
                             "block_reason = NULL WHERE id = :r"), {"r": unblocked})


def test_the_direct_and_the_generic_writers_write_the_same_bytes(
    store: Store, workspace: Path, clock
) -> None:
    seed_review(store, workspace, clock)
    seed_hostile(store, workspace, clock)
    _odd_rows(store, workspace, clock)
    for limit, page in ((None, 5000), (None, 3), (4, 3), (0, 5000)):
        direct = summary_text(store, page=page, limit=limit, now="2026-09-01T01:00:00Z")
        generic = summary_text(store, page=page, limit=limit, generic=True,
                               now="2026-09-01T01:00:00Z")
        assert direct == generic, (limit, page)
    everything = json.loads(summary_text(store))["needs_attention"]
    assert any(entry["blocked_at"] is None and entry["worker"] is None for entry in everything)
    assert len({entry["receipts"].__repr__() for entry in everything}) > 5  # odd ones included


def test_the_writer_process_reads_the_file_as_the_store_does(
    store: Store, db_url: str, workspace: Path, clock, tmp_path: Path
) -> None:
    seed_review(store, workspace, clock)
    seed_hostile(store, workspace, clock)
    for limit in (None, 2):
        path = tmp_path / f"summary-{limit}.json"
        totals = write_summary_file(db_url, path, {"now": "t"}, limit=limit)
        out = io.StringIO()
        assert write_summary(store, out, {"now": "t"}, limit=limit) == totals
        assert path.read_text(encoding="utf-8") == out.getvalue()


#: Runs write_summary_file with a helper sharing the list (a subprocess: a fork needs a
#: process with one thread), the helper's report forged or its half failing as asked.
_SHARING = """
import json, sys
from pathlib import Path
import parkbench.tui.snapshot.sqlite as sqlite_writer
from parkbench.tui.snapshot.summary import write_summary_file

sqlite_writer.SHARED_MIN = 2
mode = sys.argv[3]
real_half, real_hand_over = sqlite_writer._helper_half, sqlite_writer._Helper.hand_over
if mode == "another-database":
    def half(*args):
        report = real_half(*args)
        report["fingerprint"][1] += 1  # as if a change had committed between the reads
        return report
    sqlite_writer._helper_half = half
elif mode == "helper-fails":
    def half(*args):
        raise RuntimeError("the helper failed")
    sqlite_writer._helper_half = half
handed = []
def hand_over(self, *args, **kwargs):
    handed.append(real_hand_over(self, *args, **kwargs))
    return handed[-1]
sqlite_writer._Helper.hand_over = hand_over
totals = write_summary_file(sys.argv[1], Path(sys.argv[2]), {"now": "t"}, limit=None,
                            share=True)
print(json.dumps({"handed": handed, "listed": totals.listed}))
"""


def test_a_helper_shares_the_list_and_only_with_what_this_process_read(
    tmp_path: Path, workspace: Path, clock
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with Store.open(url, clock=clock) as store:
        seed_review(store, workspace, clock)
        seed_hostile(store, workspace, clock)
        parked = len(store.list_runs(RunFilter(), limit=1000).rows)
    alone = tmp_path / "alone.json"
    write_summary_file(url, alone, {"now": "t"}, limit=None)
    for mode, handed in (("share", [True]), ("another-database", [False]),
                         ("helper-fails", [False])):
        shared = tmp_path / f"{mode}.json"
        done = subprocess.run([sys.executable, "-c", _SHARING, url, str(shared), mode],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"handed": handed, "listed": parked}, mode
        assert shared.read_bytes() == alone.read_bytes(), mode


def test_the_writer_process_leaves_what_is_wrong_with_a_file_to_the_store(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (x)")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    for path, message in (
        (tmp_path / "missing.db", "no database at"),
        (empty, "no Parkbench schema"),
        (foreign, "not a Parkbench database"),
        (garbage, "not a SQLite database"),
    ):
        with pytest.raises(DatabaseError, match=message):
            write_summary_file(f"sqlite:///{path}", tmp_path / "summary.json", {}, limit=None)


def _exact_receipts(root: str, task_metadata: str | None, run_metadata: str | None) -> tuple[
    str, int
]:
    """What parkbench show says, encoded by the generic encoder."""
    checks = [check_path(root, path) for path in contract_of(task_metadata, run_metadata).required]
    present = sum(check.state.value == "present" for check in checks)
    return ENCODER.encode([check.to_dict() for check in checks]), present


_PATH_PARTS = ["out", "a.txt", "b.txt", "dir", "sub", ".", "..", "", " ", "x y", "r\u00e9",
               "pkb_claim_", "AAAAAAAAAAAAAAAAAAAA", "link_dir", "fifo", "file.txt", "c:", "\\"]
_paths = st.lists(st.sampled_from(_PATH_PARTS), min_size=1, max_size=3).map("/".join)
_section = st.fixed_dictionaries(
    {},
    optional={
        "required_paths": st.one_of(st.lists(st.one_of(_paths, st.integers()), max_size=3),
                                    _paths, st.none()),
        "required_artifacts": st.lists(st.one_of(_paths, st.fixed_dictionaries({"path": _paths})),
                                       max_size=2),
        "missing_policy": st.sampled_from(["park", "reject", " Park", "never", None, 3]),
    },
)
_metadata = st.one_of(
    st.none(),
    st.just("{}"),
    st.just("[1, 2]"),
    st.just('{"completion_contract": '),
    st.builds(lambda section: json.dumps({"completion_contract": section}), _section),
    st.builds(lambda section: json.dumps({"completion_contract": section}, ensure_ascii=False),
              st.lists(_paths, max_size=2).map(lambda p: {"required_paths": p})),
)


@given(task=_metadata, run=_metadata)
@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_receipts_read_as_the_store_reads_them(
    tree: Path, task: str | None, run: str | None
) -> None:
    for root in (str(tree), str(tree / "link_dir"), str(tree / "missing-root")):
        assert Receipts().of(root, task, run) == _exact_receipts(root, task, run), root



def test_contract_of_reads_contracts_as_the_store_does() -> None:
    assert contract_of(None, None) == Contract()
    both = contract_of(
        '{"completion_contract": {"required_paths": ["a/b.txt", "./c//d"]}}',
        '{"completion_contract": {"required_paths": ["e"], "missing_policy": "park"}}',
    )
    assert both == Contract(("a/b.txt", "c/d", "e"), MissingPolicy.PARK)
    # A broken contract never breaks the list (parkbench.core.store.queries.to_row's rule).
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
          "fifo", "missing", "outside.txt", ".", "..", "", " ", "c:"]


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
    assert Times().iso(ms) == iso(ms)


@given(st.text())
def test_hand_written_json_strings_decode_to_the_text(text: str) -> None:
    encoded = ascii_string(text)
    assert encoded.isascii() and json.loads(encoded) == text
