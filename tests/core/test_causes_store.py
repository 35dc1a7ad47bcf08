"""Store.causes() on both backends: every parked run, grouped by the database and folded by
cause; Store.cause_run_ids() finds a cause's runs again."""

from __future__ import annotations

from pathlib import Path

from testkit import FakeClock

from parkbench.core.causes import CauseKind
from parkbench.core.lifecycle import RunStatus
from parkbench.core.models import runs
from parkbench.core.records import RunFilter
from parkbench.core.store import Store


def _parked(store: Store, workspace: Path, reason: str, worker: str = "w", **kw: object) -> int:
    run_id = store.enqueue("t", workspace, **kw).run_id  # type: ignore[arg-type]
    claim = store.claim_next(worker)
    assert claim is not None and claim.run_id == run_id
    store.block(run_id, claim.claim_token, reason=reason)
    return run_id


def _park_missing(store: Store, workspace: Path, paths: list[str], worker: str = "w") -> int:
    contract = {"completion_contract": {"required_artifacts": paths, "missing_policy": "park"}}
    run_id = store.enqueue("t", workspace, metadata=contract).run_id
    claim = store.claim_next(worker)
    assert claim is not None and claim.run_id == run_id
    assert store.complete(run_id, claim.claim_token).status is RunStatus.NEEDS_ATTENTION
    return run_id


def test_parked_runs_fold_by_the_shape_of_their_reason(
    store: Store, workspace: Path, clock: FakeClock
) -> None:
    a = _parked(store, workspace, "disk quota exceeded on runner 7 writing build/a1", "agent-1")
    clock.advance(60)
    b = _parked(store, workspace, "disk quota exceeded on runner 3 writing build/b9", "agent-2")
    clock.advance(60)
    c = _parked(store, workspace, "disk quota exceeded on runner 4 writing build/c2", "agent-1")
    other = _parked(store, workspace, "needs a human: ambiguous spec", "agent-3")
    # Not parked: not counted.
    gone = _parked(store, workspace, "disk quota exceeded on runner 9 writing x/y")
    assert store.force_fail([gone], reason="obsolete", actor="rita")[0].ok
    store.enqueue("queued", workspace)

    causes = store.causes()
    assert causes.runs_total == 4 and causes.groups_total == 2
    disk, human = causes.groups
    assert disk.key == "disk quota exceeded on runner <n> writing <path>"
    assert disk.kind is CauseKind.REASON and disk.count == 3
    assert store.cause_run_ids(disk.selector) == (a, b, c)
    assert disk.workers == ("agent-1", "agent-2") and disk.worker_count == 2
    assert disk.example == "disk quota exceeded on runner 7 writing build/a1"  # the oldest
    parked_at = {r.id: r.blocked_at_ms for r in store.list_runs(RunFilter(run_ids=(a, c))).rows}
    assert (disk.oldest_ms, disk.newest_ms) == (parked_at[a], parked_at[c])
    assert store.cause_run_ids(human.selector) == (other,) and human.workers == ("agent-3",)
    assert store.causes(limit=1).groups == (disk,)


def test_missing_receipts_group_by_the_missing_path_pattern(store: Store, workspace: Path) -> None:
    first = _park_missing(store, workspace, ["out/run-1/report.json"])
    second = _park_missing(store, workspace, ["out/run-2/report.json"])
    log = _park_missing(store, workspace, ["logs/7.txt"])
    # A worker's own words that start the same way are a reason like any other.
    words = _parked(store, workspace, "missing receipts: out/run-3/report.json")
    groups = {g.key: g for g in store.causes().groups}
    report = groups["missing receipts: out/run-<n>/report.json"]
    assert report.kind is CauseKind.MISSING_RECEIPTS and report.count == 2
    assert store.cause_run_ids(report.selector) == (first, second)
    assert store.cause_run_ids(groups["missing receipts: logs/<n>.txt"].selector) == (log,)
    assert store.cause_run_ids(groups["missing receipts: <path>"].selector) == (words,)
    assert groups["missing receipts: <path>"].kind is CauseKind.REASON
    # The same text, one run parked by completion, one by its worker's own words: two causes,
    # each opening to its own run.
    again = _park_missing(store, workspace, ["out/run-3/report.json"])
    groups = {g.key: g for g in store.causes().groups}
    assert store.cause_run_ids(groups["missing receipts: <path>"].selector) == (words,)
    report = groups["missing receipts: out/run-<n>/report.json"]
    assert store.cause_run_ids(report.selector) == (first, second, again)


def test_distinct_reasons_of_one_shape_merge_and_open_to_exactly_their_runs(
    store: Store, workspace: Path, clock: FakeClock
) -> None:
    first = _parked(store, workspace, "stuck at step 4 on node3", "agent-2")
    clock.advance(30)
    same_text = _parked(store, workspace, "stuck at step 4 on node3", "agent-1")
    clock.advance(30)
    other_text = _parked(store, workspace, "stuck at step 9 on node7", "agent-3")
    clock.advance(30)
    unrelated = _parked(store, workspace, "needs a human", "agent-1")
    hostile = _parked(store, workspace, "\x1b[31m[bold]hostile[/bold] 5", "agent-1")
    # A long reason is grouped by its start (what masking reads), and found again by it.
    long_a = _parked(store, workspace, "traceback " + "x" * 700 + " 1", "agent-4")
    long_b = _parked(store, workspace, "traceback " + "x" * 700 + " 2", "agent-4")
    gone = _parked(store, workspace, "stuck at step 5 on node1", "agent-9")
    assert store.force_fail([gone], reason="obsolete", actor="rita")[0].ok
    causes = store.causes()
    groups = {g.key: g for g in causes.groups}
    steps = groups["stuck at step <n> on <id>"]
    assert steps.count == 3 and causes.runs_total == 7
    times = {r.id: r.blocked_at_ms for r in store.list_runs(RunFilter()).rows}
    assert (steps.oldest_ms, steps.newest_ms) == (times[first], times[other_text])
    assert steps.workers == ("agent-1", "agent-2", "agent-3") and steps.worker_count == 3
    assert steps.example == "stuck at step 4 on node3"  # the oldest run's
    assert store.cause_run_ids(steps.selector) == (first, same_text, other_text)
    assert store.cause_run_ids(groups["needs a human"].selector) == (unrelated,)
    (hostile_group,) = [g for g in causes.groups if "hostile" in g.key]
    assert hostile_group.example == "\x1b[31m[bold]hostile[/bold] 5"  # stored as written
    assert store.cause_run_ids(hostile_group.selector) == (hostile,)
    (long,) = [g for g in causes.groups if g.key.startswith("traceback")]
    assert long.count == 2 and store.cause_run_ids(long.selector) == (long_a, long_b)
    # Every parked run is in exactly one cause.
    found = store.causes_and_runs()[1]
    assert sorted(i for ids in found for i in ids) == sorted(set(times) - {gone})
    assert [len(ids) for ids in found] == [g.count for g in causes.groups]
    # A run that leaves the parked list leaves the cause's runs.
    assert store.force_fail([same_text], reason="done", actor="rita")[0].ok
    assert store.cause_run_ids(steps.selector) == (first, other_text)


def test_a_run_without_a_reason_is_its_own_cause(store: Store, workspace: Path) -> None:
    run_id = _parked(store, workspace, "x")
    store.engine.dispose()
    with store.engine.begin() as conn:  # an old row, written before reasons were required
        conn.execute(
            runs.update().where(runs.c.id == run_id).values(block_reason=None, cause_key=None)
        )
    (group,) = store.causes().groups
    assert group.kind is CauseKind.NO_REASON and store.cause_run_ids(group.selector) == (run_id,)


def test_no_parked_runs_no_causes(store: Store, workspace: Path) -> None:
    store.enqueue("queued", workspace)
    causes = store.causes()
    assert (causes.groups, causes.groups_total, causes.runs_total) == ((), 0, 0)
