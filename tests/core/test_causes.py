"""Causes (issue 20 §1): a reason's shape, and parked runs folded by it.

The masking is a pure function, property-tested: deterministic, a key is its own shape,
every reason has exactly one key, and what varies between two runs stuck on the same thing
(numbers, paths, ids, hashes, quoted values, timestamps) does not split a cause. Hostile
text stays text: the key is made of the reason's own characters and placeholders, nothing
is interpreted.
"""

from __future__ import annotations

import string

from hypothesis import example, given, settings
from hypothesis import strategies as st

from parkbench.core.causes import (
    EXAMPLE_CHARS,
    HASH,
    ID,
    KEY_CHARS,
    NO_REASON,
    NUMBER,
    PATH,
    QUOTED,
    TIME,
    WORKERS_LISTED,
    CauseKind,
    CauseTally,
    cause_of,
    fold_key,
    missing_paths,
    path_pattern,
    shape,
)

reasons = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
hostile = st.one_of(
    reasons,
    st.text(alphabet=string.printable + "\x1b\x07\x00\u202e“”…<>[]/", max_size=300),
    st.builds(
        lambda a, b: f"\x1b[31m{a}\x1b[0m [bold]{b}[/bold] \x1b]8;;http://x\x07link\x1b]8;;\x07",
        reasons,
        reasons,
    ),
)


@given(hostile)
@example("0''")  # a masked number beside quotes that were never a value
@example("\"''")  # a quoted value beside a stray double quote
@example('"\n"')  # quotes around a line break
@example("':'':'")  # masking the middle quote leaves another
@settings(max_examples=150, deadline=None)
def test_masking_is_deterministic_and_idempotent(reason: str) -> None:
    key = shape(reason)
    assert shape(reason) == key
    assert shape(key) == key  # a key is its own shape
    assert 0 < len(key) <= KEY_CHARS


@given(hostile, st.lists(st.sampled_from(["out/a1.json", "r/2.txt", "x"]), max_size=3))
@settings(max_examples=100, deadline=None)
def test_every_reason_lands_in_exactly_one_group(reason: str, required: list[str]) -> None:
    tally = CauseTally()
    tally.add(1, reason, 10, "w", tuple(required))
    tally.add(2, reason, 20, "w", tuple(required))
    causes = tally.result()
    assert causes.runs_total == 2
    assert [g.count for g in causes.groups] == [2]
    names_all = missing_paths(reason, required) is not None
    assert causes.groups[0].selector.holds(*fold_key(reason, names_all))  # its runs are found
    assert causes.groups[0].key == cause_of(reason, required)[1]


@given(
    st.lists(st.tuples(st.integers(1, 10**6), st.one_of(st.none(), hostile)), max_size=40),
)
@settings(max_examples=60, deadline=None)
def test_the_groups_partition_the_runs(runs: list[tuple[int, str | None]]) -> None:
    tally = CauseTally()
    for index, (run_id, reason) in enumerate(runs):
        tally.add(index, reason, run_id, None)
    causes = tally.result()
    for _, reason in runs:  # every run is held by exactly one group's selector
        holders = [g for g in causes.groups if g.selector.holds(*fold_key(reason, False))]
        assert len(holders) == 1
    assert sum(group.count for group in causes.groups) == len(runs) == causes.runs_total
    assert len({group.key for group in causes.groups}) == causes.groups_total


words = st.text(alphabet=string.ascii_lowercase + " :", min_size=1, max_size=30)


@given(
    words,
    st.lists(
        st.one_of(
            st.integers(0, 10**9).map(str),
            st.uuids().map(str),
            st.from_regex(r"[a-z]{1,8}(/[a-z0-9_.-]{1,8}){1,4}", fullmatch=True),
            st.from_regex(r"[0-9a-f]{12,40}", fullmatch=True).filter(
                lambda h: any(c.isalpha() for c in h) and any(c.isdigit() for c in h)
            ),
            st.from_regex(r"\"[a-z0-9 ]{0,20}\"", fullmatch=True),
            st.datetimes().map(lambda d: d.isoformat(timespec="seconds") + "Z"),
        ),
        min_size=2,
        max_size=2,
    ),
)
@settings(max_examples=100, deadline=None)
def test_varying_values_do_not_split_a_cause(prefix: str, values: list[str]) -> None:
    first, second = values
    masked = shape(f"{prefix} {first} end")
    assert "<" in masked or QUOTED in masked  # the value itself is masked
    if shape(first) == shape(second):  # values of one kind: the reasons are one cause
        assert masked == shape(f"{prefix} {second} end")


def test_the_issue_example_is_one_cause() -> None:
    a = shape("disk quota exceeded on runner 7 writing build/a1")
    b = shape("disk quota exceeded on runner 3 writing build/b9")
    assert a == b == f"disk quota exceeded on runner {NUMBER} writing {PATH}"
    assert shape("disk quota exceeded on runner 7") != shape("network down on runner 7")


def test_each_kind_of_value_has_its_placeholder() -> None:
    assert shape("at 2026-01-02T10:00:00Z and 10:32:01") == f"at {TIME} and {TIME}"
    assert shape("job 550e8400-e29b-41d4-a716-446655440000") == f"job {ID}"
    assert shape("commit 3fa9c2b1e0 broke it") == f"commit {HASH} broke it"
    assert shape("node3 and x86") == f"{ID} and {ID}"
    assert shape("took 5s and 12MB") == f"took {NUMBER}s and {NUMBER}MB"
    assert shape("""cannot parse "foo bar" or 'x'""") == f"cannot parse {QUOTED} or {QUOTED}"
    assert shape("can't find it, don't ask") == "can't find it, don't ask"
    assert shape("see https://ci.example/run/5?x=1") == "see <url>"
    assert shape("  lots \n of\t space  ") == "lots of space"
    assert shape("   ") == NO_REASON


def test_hostile_text_stays_literal() -> None:
    reason = "\x1b[0m red alert [bold]x [link]y"
    key = shape(reason)
    assert key == "\x1b[<n>m red alert [bold]x [link]y"  # nothing interpreted or lost
    huge = "error " + "A" * 1_000_000
    assert len(shape(huge)) <= KEY_CHARS and shape(huge).startswith("error A")


def test_missing_receipts_group_by_the_missing_path_pattern() -> None:
    required = ("out/run-17/report.json", "out/run-17/log.txt")
    kind, key = cause_of("missing receipts: out/run-17/report.json", required)
    assert kind is CauseKind.MISSING_RECEIPTS
    assert key == "missing receipts: out/run-<n>/report.json"
    other = cause_of("missing receipts: out/run-18/report.json", ("out/run-18/report.json",))
    assert other[1] == key
    log = cause_of("missing receipts: out/run-17/log.txt", required)
    assert log[1] != key  # another receipt missing: another cause
    # A worker's own words that start the same way, naming nothing of its contract.
    words = cause_of("missing receipts: the test report was not uploaded", required)
    assert words[0] is CauseKind.REASON
    assert cause_of("missing receipts: out/a.json", ())[0] is CauseKind.REASON
    assert path_pattern("out/2026-01-02/a1b2c3d4e5f6/x-3.json") == "out/<time>/<hash>/x-<n>.json"


def test_a_tally_reports_times_workers_and_an_example() -> None:
    tally = CauseTally()
    for i in range(WORKERS_LISTED + 5):
        tally.add(100 + i, f"stuck on step {i}", 1000 + i, f"w{i:02d}")
    tally.add(1, "x" * (EXAMPLE_CHARS + 50), 5, None)
    tally.add(2, None, 7, "w")
    causes = tally.result()
    big, *rest = causes.groups
    assert big.count == WORKERS_LISTED + 5 and big.key == f"stuck on step {NUMBER}"
    assert (big.oldest_ms, big.newest_ms) == (1000, 1000 + WORKERS_LISTED + 4)
    assert big.worker_count == WORKERS_LISTED + 5 and len(big.workers) == WORKERS_LISTED
    assert big.workers == tuple(sorted(big.workers)) and big.example == "stuck on step 0"
    assert [g.kind for g in rest] == [CauseKind.REASON, CauseKind.NO_REASON]  # oldest first
    assert len(rest[0].example) == EXAMPLE_CHARS and rest[1].key == NO_REASON
    assert tally.result(limit=1).groups == (big,) and tally.result(limit=1).groups_total == 3
    doc = big.to_dict()
    assert doc["count"] == big.count and "run_ids" not in doc  # runs: by the selector
    assert big.selector.texts == {f"stuck on step {i}" for i in range(WORKERS_LISTED + 5)}
    assert rest[1].selector.null and not rest[1].selector.texts
    assert doc["oldest_blocked_at"] == "1970-01-01T00:00:01Z"


def test_groups_of_one_shape_merge_as_the_database_hands_them() -> None:
    tally = CauseTally()
    # (text, worker) groups as the store's GROUP BY returns them, newest text first.
    tally.add_many("quota on runner 9", None, "w2", 3, 500, 900, 40)
    tally.add_many("quota on runner 3", None, "w1", 2, 200, 600, 50)
    tally.add_many("quota on runner 3", None, "w2", 1, 700, 700, 60)
    tally.add_many("quota on runner 3", None, None, 1, 800, 800, 70)
    (group,) = tally.result().groups
    assert (group.count, group.oldest_ms, group.newest_ms) == (7, 200, 900)
    assert (group.workers, group.worker_count) == (("w1", "w2"), 2)  # united, not summed
    assert group.example == "quota on runner 3"  # the oldest run's
    assert group.selector.texts == {"quota on runner 3", "quota on runner 9"}
    assert tally.runs == 7
