"""Store.causes() on both backends: every parked run, folded by cause, in keyset pages."""

from __future__ import annotations

from pathlib import Path

from testkit import FakeClock

from parkbench.core.causes import CauseKind
from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import RunFilter
from parkbench.core.store import Store
from parkbench.core.store.causes import parked_causes


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
    assert disk.kind is CauseKind.REASON and disk.run_ids == (a, b, c) and disk.count == 3
    assert disk.workers == ("agent-1", "agent-2") and disk.worker_count == 2
    assert disk.example == "disk quota exceeded on runner 7 writing build/a1"  # the oldest
    parked_at = {r.id: r.blocked_at_ms for r in store.list_runs(RunFilter(run_ids=(a, c))).rows}
    assert (disk.oldest_ms, disk.newest_ms) == (parked_at[a], parked_at[c])
    assert human.run_ids == (other,) and human.workers == ("agent-3",)
    assert store.causes(limit=1).groups == (disk,)


def test_missing_receipts_group_by_the_missing_path_pattern(store: Store, workspace: Path) -> None:
    first = _park_missing(store, workspace, ["out/run-1/report.json"])
    second = _park_missing(store, workspace, ["out/run-2/report.json"])
    log = _park_missing(store, workspace, ["logs/7.txt"])
    # A worker's own words that start the same way are a reason like any other.
    words = _parked(store, workspace, "missing receipts: out/run-3/report.json")
    groups = {g.key: g for g in store.causes().groups}
    report = groups["missing receipts: out/run-<n>/report.json"]
    assert report.kind is CauseKind.MISSING_RECEIPTS and report.run_ids == (first, second)
    assert groups["missing receipts: logs/<n>.txt"].run_ids == (log,)
    assert groups["missing receipts: <path>"].run_ids == (words,)
    assert groups["missing receipts: <path>"].kind is CauseKind.REASON


def test_the_pass_pages_through_every_parked_run(store: Store, workspace: Path) -> None:
    ids = [_parked(store, workspace, f"stuck at step {i}") for i in range(7)]
    ids.append(_parked(store, workspace, "\x1b[31m[bold]hostile[/bold] 5"))
    # Pages of 2: the keyset pass joins them into the same groups as one read.
    paged = store.read(lambda conn: parked_causes(conn, page=2))
    assert paged == store.causes()
    steps, hostile = paged.groups
    assert steps.run_ids == tuple(ids[:7]) and hostile.run_ids == (ids[7],)
    assert hostile.example == "\x1b[31m[bold]hostile[/bold] 5"  # stored as written


def test_no_parked_runs_no_causes(store: Store, workspace: Path) -> None:
    store.enqueue("queued", workspace)
    causes = store.causes()
    assert (causes.groups, causes.groups_total, causes.runs_total) == ((), 0, 0)
