"""Causes (issue 20 §1): a reason's shape, and parked runs folded by it.

The masking is a pure function, property-tested: deterministic, a key is its own shape,
every reason has exactly one key, and what varies between two runs stuck on the same thing
(numbers, paths, ids, hashes, quoted values, timestamps) does not split a cause. Hostile
text stays text: the key is made of the reason's own characters and placeholders, nothing
is interpreted.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

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
    Bucket,
    CauseKind,
    CauseTally,
    OldestReason,
    cause_key,
    cause_of,
    key_parts,
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


#: A parked run as the tests below hand it to a tally: (id, reason, parked at, worker).
Parked = tuple[int, str | None, int, str | None]


def _tallied(parked: list[Parked], required: tuple[str, ...] = ()) -> CauseTally:
    """What the store does, in memory: each run keyed (:func:`cause_key`), the runs grouped
    by (key, worker) as its GROUP BY does, the buckets folded by a tally."""
    buckets: dict[Bucket, list[int]] = {}
    for _, reason, at, worker in parked:
        bucket = buckets.setdefault((cause_key(reason, required), worker), [0, at, at])
        bucket[0] += 1
        bucket[1], bucket[2] = min(bucket[1], at), max(bucket[2], at)
    tally = CauseTally()
    for (key, worker), (count, oldest, newest) in buckets.items():
        tally.add(key, worker, count, oldest, newest)
    return tally


def _oldest(parked: list[Parked], required: tuple[str, ...] = ()) -> OldestReason:
    """The store's look-up of a cause's oldest run, in memory."""

    def oldest(at: int, buckets: Sequence[Bucket]) -> tuple[str | None, str | None] | None:
        held = [
            (run_id, cause_key(reason, required), reason)
            for run_id, reason, when, worker in parked
            if when == at and (cause_key(reason, required), worker) in buckets
        ]
        return min(held)[1:] if held else None

    return oldest


@given(hostile, st.lists(st.sampled_from(["out/a1.json", "r/2.txt", "x"]), max_size=3))
@settings(max_examples=100, deadline=None)
def test_every_reason_lands_in_exactly_one_group(reason: str, required: list[str]) -> None:
    stored = cause_key(reason, required)
    assert stored == cause_key(reason, required)  # deterministic
    assert key_parts(stored) == cause_of(reason, required)  # kind and key, as they were
    parked: list[Parked] = [(1, reason, 10, "w"), (2, reason, 20, "v")]
    causes = _tallied(parked, tuple(required)).result(oldest=_oldest(parked, tuple(required)))
    assert causes.runs_total == 2
    assert [g.count for g in causes.groups] == [2]
    (group,) = causes.groups
    assert group.selector.holds(stored)  # its runs are found
    assert (group.kind, group.key) == cause_of(reason, required)
    assert group.example == reason[:EXAMPLE_CHARS]  # the oldest run's, literally


@given(
    st.lists(st.tuples(st.integers(1, 10**6), st.one_of(st.none(), hostile)), max_size=40),
)
@settings(max_examples=60, deadline=None)
def test_the_groups_partition_the_runs(runs: list[tuple[int, str | None]]) -> None:
    parked: list[Parked] = [(i, reason, at, None) for i, (at, reason) in enumerate(runs)]
    causes = _tallied(parked).result()
    for _, reason in runs:  # every run is held by exactly one group's selector
        holders = [g for g in causes.groups if g.selector.holds(cause_key(reason))]
        assert len(holders) == 1
        assert holders[0].key == cause_of(reason)[1]
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
    parked: list[Parked] = [
        (100 + i, f"stuck on step {i}", 1000 + i, f"w{i:02d}") for i in range(WORKERS_LISTED + 5)
    ]
    parked += [(1, "x" * (EXAMPLE_CHARS + 50), 5, None), (2, None, 7, "w")]
    tally = _tallied(parked)
    causes = tally.result(oldest=_oldest(parked))
    big, *rest = causes.groups
    assert big.count == WORKERS_LISTED + 5 and big.key == f"stuck on step {NUMBER}"
    assert (big.oldest_ms, big.newest_ms) == (1000, 1000 + WORKERS_LISTED + 4)
    assert big.worker_count == WORKERS_LISTED + 5 and len(big.workers) == WORKERS_LISTED
    assert big.workers == tuple(sorted(big.workers)) and big.example == "stuck on step 0"
    assert [g.kind for g in rest] == [CauseKind.REASON, CauseKind.NO_REASON]  # oldest first
    assert len(rest[0].example) == EXAMPLE_CHARS and rest[1].key == NO_REASON
    assert rest[1].example == ""
    limited = tally.result(limit=1, oldest=_oldest(parked))
    assert limited.groups == (big,) and limited.groups_total == 3
    doc = big.to_dict()
    assert doc["count"] == big.count and "run_ids" not in doc  # runs: by the selector
    assert big.selector.keys == {f"r:stuck on step {NUMBER}"} and not big.selector.null
    assert rest[1].selector.null and not rest[1].selector.keys
    assert doc["oldest_blocked_at"] == "1970-01-01T00:00:01Z"


def test_buckets_of_one_cause_merge_as_the_database_hands_them() -> None:
    tally = CauseTally()
    # (key, worker) buckets as the store's GROUP BY returns them, in no particular order.
    key = cause_key("quota on runner 9")
    assert key == cause_key("quota on runner 3") == f"r:quota on runner {NUMBER}"
    tally.add(key, "w2", 3, 500, 900)
    tally.add(key, "w1", 2, 200, 600)
    tally.add(key, None, 2, 200, 800)
    asked: list[tuple[int, list[Bucket]]] = []

    def oldest(at: int, buckets: Sequence[Bucket]) -> tuple[str | None, str | None]:
        asked.append((at, list(buckets)))
        return key, "quota on runner 3"

    (group,) = tally.result(oldest=oldest).groups
    assert (group.count, group.oldest_ms, group.newest_ms) == (7, 200, 900)
    assert (group.workers, group.worker_count) == (("w1", "w2"), 2)  # united, not summed
    assert group.example == "quota on runner 3"  # what the look-up found
    assert asked == [(200, [(key, "w1"), (key, None)])]  # the buckets parked at the oldest
    assert group.selector.keys == {key} and tally.runs == 7


def test_two_kinds_that_read_the_same_are_one_cause_of_its_oldest_runs_kind() -> None:
    required = ("x.json",)
    completion = cause_key("missing receipts: x.json", required)
    words = cause_key("missing receipts: x.json")  # the worker's own words, no contract
    assert completion == "m:missing receipts: x.json" and words == "r:missing receipts: x.json"
    blank = cause_key("   ")  # a reason of spaces reads as none at all
    assert key_parts(blank) == key_parts(None) == (CauseKind.NO_REASON, NO_REASON)
    tally = CauseTally()
    tally.add(completion, "w", 1, 50, 50)
    tally.add(words, "w", 1, 10, 10)
    tally.add(blank, "w", 1, 5, 5)
    tally.add(None, "v", 1, 6, 6)
    found = {words: "missing receipts: x.json", blank: "   "}
    causes = tally.result(oldest=lambda at, buckets: (buckets[0][0], found[buckets[0][0]]))
    groups = {group.key: group for group in causes.groups}
    receipts, nothing = groups["missing receipts: x.json"], groups[NO_REASON]
    assert receipts.kind is CauseKind.REASON  # its oldest run's: the worker's words
    assert receipts.selector.keys == {completion, words} and receipts.count == 2
    assert nothing.selector.null and nothing.selector.keys == {blank} and nothing.count == 2
    assert nothing.example == "   " and causes.groups_total == 2
