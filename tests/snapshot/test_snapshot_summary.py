"""summary.json: counts and every parked run with its receipts, on both backends (one
writer, through the store's keyset read side); the receipt checker and the hand-written
JSON against check_path and the generic encoder."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path, PurePosixPath

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snapshottest_support import HOSTILE, park, seed_hostile, seed_review

from parkbench.core.contracts import check_path, normalize_path
from parkbench.core.errors import DatabaseError, ValidationError
from parkbench.core.records import RunFilter
from parkbench.core.store import Store, parked_reads
from parkbench.tui.snapshot.receipts import (
    _PLAIN_PATH,
    ENCODER,
    ReceiptChecker,
    ascii_string,
)
from parkbench.tui.snapshot.summary import Times, close_summary, write_summary
from parkbench.tui.timefmt import iso


def summary_text(store: Store, page: int = 1000, limit: int | None = None, **header: object) -> str:
    out = io.StringIO()
    totals = write_summary(store, out, dict(header), page=page, limit=limit)
    close_summary(out, {"screens": {"list": {"svg": "list.svg"}}})
    text = out.getvalue()
    document = json.loads(text)
    assert document["needs_attention_total"] == totals.parked
    assert document["counts"] == totals.counts
    assert document["needs_attention_listed"] == totals.listed
    return text


def summary_of(
    store: Store, page: int = 1000, limit: int | None = None, **header: object
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
        "present",
        "missing",
        "not_a_file",
        "missing",
    ]
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
    for limit, page in ((2, 1000), (3, 2), (0, 1000), (9, 2)):
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
    ids = [
        park(store, workspace, f"odd {n}", "odd", required=["out/a.txt"], clock=clock)
        for n in range(len(odd_contracts) + 3)
    ]
    with store.engine.begin() as conn:
        for run_id, contract in zip(ids, odd_contracts, strict=False):
            task_id = conn.exec_driver_sql(
                f"SELECT task_id FROM runs WHERE id = {run_id}"
            ).scalar_one()
            conn.execute(
                sa.text("UPDATE tasks SET metadata_json = :m WHERE id = :t"),
                {"m": json.dumps({"completion_contract": contract}), "t": task_id},
            )
        no_contract, run_contract, unblocked = ids[-3:]
        conn.execute(
            sa.text(
                "UPDATE tasks SET metadata_json = :m WHERE id = "
                "(SELECT task_id FROM runs WHERE id = :r)"
            ),
            {"m": '{"note": "completion_contract is not a key here"}', "r": no_contract},
        )
        conn.execute(
            sa.text("UPDATE runs SET metadata_json = :m WHERE id = :r"),
            {
                "m": json.dumps(
                    {
                        "completion_contract": {
                            "required_paths": ["out/c.txt"],
                            "missing_policy": "park",
                        }
                    }
                ),
                "r": run_contract,
            },
        )
        conn.execute(
            sa.text(
                "UPDATE runs SET blocked_at = NULL, worker = NULL, "
                "block_reason = NULL WHERE id = :r"
            ),
            {"r": unblocked},
        )


def test_odd_rows_are_listed_with_the_stores_reading_of_their_contract(
    store: Store, workspace: Path, clock
) -> None:
    seed_review(store, workspace, clock)
    seed_hostile(store, workspace, clock)
    _odd_rows(store, workspace, clock)
    (workspace / "out" / "c.txt").write_text("c")
    text = summary_text(store, page=3, now="2026-09-01T01:00:00Z")
    assert text.isascii()
    # Page size, however the list is cut, never changes a byte.
    for page in (1, 4, 1000):
        assert summary_text(store, page=page, now="2026-09-01T01:00:00Z") == text, page
    everything = json.loads(text)["needs_attention"]
    listed = store.list_runs(RunFilter(), limit=1000).rows
    assert [entry["id"] for entry in everything] == [row.id for row in listed]
    for entry, row in zip(everything, listed, strict=True):
        # The store's reading (list_runs, parkbench show), however odd the contract.
        expected = [
            check_path(row.workspace_root, path).to_dict() for path in row.contract.required
        ]
        assert entry["receipts"] == expected, entry["title"]
        assert entry["receipts_present"] == sum(c["state"] == "present" for c in expected)
    assert any(entry["blocked_at"] is None and entry["worker"] is None for entry in everything)
    assert len({entry["receipts"].__repr__() for entry in everything}) > 5  # odd ones included


def test_metadata_that_is_not_json_fails_as_the_store_fails(
    store: Store, workspace: Path, clock
) -> None:
    run_id = park(store, workspace, "t", "r", required=["out/a.txt"], clock=clock)
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE tasks SET metadata_json = :m WHERE id = "
                "(SELECT task_id FROM runs WHERE id = :r)"
            ),
            {"m": '{"completion_contract": {"required_paths": [', "r": run_id},
        )
    with pytest.raises(DatabaseError, match="damaged data") as listing:
        store.list_runs(RunFilter())
    with pytest.raises(DatabaseError, match="damaged data") as summary:
        summary_of(store)
    assert summary.value.code == listing.value.code == "database"


def test_the_lines_are_what_the_generic_encoder_writes(
    store: Store, workspace: Path, clock
) -> None:
    seed_review(store, workspace, clock)
    seed_hostile(store, workspace, clock)
    _odd_rows(store, workspace, clock)
    text = summary_text(store, now="2026-09-01T01:00:00Z")
    document = json.loads(text)
    opening, _, rest = text.partition('"needs_attention": [\n')
    lines, _, _ = rest.partition("\n],\n")
    assert lines.split(",\n") == [ENCODER.encode(entry) for entry in document["needs_attention"]]
    assert (
        opening
        == ENCODER.encode(
            {k: document[k] for k in ("parkbench_snapshot", "now", "counts", "total")}
        )[:-1]
        + ",\n"
    )


def test_the_summary_is_one_snapshot_of_the_database(
    store: Store, db_url: str, workspace: Path, clock
) -> None:
    """The counts and every page are read in one read transaction: a run that parks while
    the list is being written is in neither (the old writer process checked this by hand)."""
    ids = [park(store, workspace, f"run {n}", "r", clock=clock) for n in range(4)]
    parks_meanwhile = [True]

    class Tap(io.StringIO):
        def write(self, text: str) -> int:
            if parks_meanwhile and '"needs_attention": [' in text:
                parks_meanwhile.clear()
                with Store.open(db_url, clock=clock) as other:  # another connection
                    ids.append(park(other, workspace, "late", "r", clock=clock))
            return super().write(text)

    out = Tap()
    totals = write_summary(store, out, {}, page=1)
    close_summary(out, {})
    document = json.loads(out.getvalue())
    assert not parks_meanwhile  # the run parked mid-write
    assert [e["id"] for e in document["needs_attention"]] == ids[:4]
    assert document["counts"]["needs_attention"] == totals.parked == 4
    assert summary_of(store)["needs_attention_total"] == 5  # the next summary sees it


_PATH_PARTS = [
    "out",
    "a.txt",
    "b.txt",
    "dir",
    "sub",
    ".",
    "..",
    "",
    " ",
    "x y",
    "r\u00e9",
    "pkb_claim_",
    "AAAAAAAAAAAAAAAAAAAA",
    "link_dir",
    "fifo",
    "file.txt",
    "c:",
    "\\",
]
_paths = st.lists(st.sampled_from(_PATH_PARTS), min_size=1, max_size=3).map("/".join)


@given(path=_paths)
def test_a_plain_path_is_one_normalize_path_returns_unchanged(path: str) -> None:
    if _PLAIN_PATH.fullmatch(path):
        assert normalize_path(path) == path


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


_PARTS = [
    "file.txt",
    "dir",
    "sub",
    "link_in",
    "link_out",
    "link_dir",
    "link_up",
    "dangling",
    "fifo",
    "missing",
    "outside.txt",
    ".",
    "..",
    "",
    " ",
    "c:",
]


@given(parts=st.lists(st.sampled_from(_PARTS), min_size=1, max_size=4), absolute=st.booleans())
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_receipt_checker_answers_as_check_path(
    tree: Path, parts: list[str], absolute: bool
) -> None:
    relative = ("/" if absolute else "") + "/".join(parts)
    checker = ReceiptChecker()  # fresh: listings are cached per checker
    for root in (str(tree), str(tree / "link_dir"), str(tree / "missing-root")):
        expected = check_path(root, relative)
        got = checker.check(root, relative)
        assert (got.path, got.state, got.detail) == (
            expected.path,
            expected.state,
            expected.detail,
        ), (root, relative)


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


def test_a_page_deep_in_the_parked_list_seeks_its_key_on_sqlite(tmp_path: Path) -> None:
    """The keyset condition lets SQLite start at the key (an index range), not walk the
    parked list from its start and filter: with bound parameters it did the latter, and a
    page 90,000 runs deep cost four times the first."""

    with Store.open(f"sqlite:///{tmp_path / 'plan.db'}") as store:

        def plan(conn: sa.Connection) -> str:
            captured: list[tuple[str, object]] = []

            @sa.event.listens_for(conn, "before_cursor_execute")
            def keep(
                _conn: object,
                _cursor: object,
                statement: str,
                parameters: object,
                _context: object,
                _many: bool,
            ) -> None:
                captured.append((statement, parameters))

            parked_reads.parked_runs(conn, (1_788_220_800_000, 7), 10)
            statement, parameters = captured[-1]
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            return " | ".join(str(row[-1]) for row in rows)

        described = store.read(plan)
    assert "USING INDEX ix_runs_status_changed (status=? AND status_changed_at>?)" in described
