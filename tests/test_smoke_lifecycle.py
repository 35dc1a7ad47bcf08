"""The whole life of a run, end to end on each backend."""

from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import Expectation


def test_enqueue_claim_block_requeue_complete(store, workspace, clock):
    enqueued = store.enqueue(
        "Write the summary",
        workspace,
        metadata={"completion_contract": {"required_paths": ["out/summary.md"]}},
    )
    claim = store.claim_next("agent-1", lease_s=60)
    assert claim is not None and claim.run_id == enqueued.run_id
    assert store.block(claim.run_id, claim.claim_token, reason="  need an API key  ") == (
        RunStatus.NEEDS_ATTENTION
    )
    parked = store.list_runs().rows
    assert [r.id for r in parked] == [claim.run_id]
    assert parked[0].block_reason == "need an API key"

    clock.advance(30)
    [result] = store.requeue(
        [claim.run_id],
        reason="key added",
        actor="alice",
        expected={claim.run_id: Expectation(RunStatus.NEEDS_ATTENTION)},
    )
    assert result.ok and result.new_run_id is not None

    second = store.claim_next("agent-2")
    assert second is not None and second.run_id == result.new_run_id and second.attempt == 2
    (workspace / "out").mkdir()
    (workspace / "out" / "summary.md").write_text("done")
    assert store.complete(second.run_id, second.claim_token).status is RunStatus.COMPLETED
    detail = store.get_run(second.run_id)
    assert [e.run_id for e in detail.lineage] == [claim.run_id, second.run_id]
    assert store.counts_by_status()["completed"] == 1
