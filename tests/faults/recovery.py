"""After the crashes: sweep every lease as the spec says, then prove the queue still drains."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from parkbench.core.errors import ParkbenchError
from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import Recovered
from parkbench.core.store import Store


@dataclass
class RecoveryCheck:
    expired: int = 0
    recovered: Recovered | None = None
    drained: int = 0
    violations: list[str] = field(default_factory=list)


def sweep_past_every_lease(store: Store) -> RecoveryCheck:
    """Run the expiry sweep at an instant past every lease; check each run's fate.

    The spec: a run over its max runtime parks (one still heartbeating at the limit: a beat
    after the claim stretched its lease to the deadline); else it goes back to the queue (as
    a new attempt) while attempts remain, and parks with a reason saying so on its last one.
    """
    check = RecoveryCheck()
    with store.engine.connect() as conn:
        claimed = conn.execute(
            sa.text(
                "SELECT id, attempt, max_attempts, lease_until, runtime_deadline, "
                "claimed_at, heartbeat_at FROM runs WHERE status = 'claimed'"
            )
        ).all()
    check.expired = len(claimed)
    if not claimed:
        return check
    instant = max(max(r.lease_until, r.runtime_deadline or 0) for r in claimed) + 1
    recovered = store.recover_expired(now=instant)
    check.recovered = recovered
    expected_fate = {
        r.id: "runtime"
        if r.runtime_deadline is not None
        and r.lease_until >= r.runtime_deadline
        and r.heartbeat_at > r.claimed_at
        else ("requeued" if r.attempt < r.max_attempts else "parked")
        for r in claimed
    }
    actual_fate = {run_id: "runtime" for run_id in recovered.runtime_parked}
    actual_fate |= {run_id: "requeued" for run_id in recovered.requeued}
    actual_fate |= {run_id: "parked" for run_id in recovered.parked}
    if actual_fate != expected_fate:
        wrong = {k: (expected_fate.get(k), actual_fate.get(k)) for k in expected_fate | actual_fate}
        check.violations.append(
            "sweep fates (expected, actual): "
            + str({k: v for k, v in wrong.items() if v[0] != v[1]})
        )
    before = {r.id: r for r in claimed}
    for run_id, fate in actual_fate.items():
        run = store.get_run(run_id, check_disk=False).run
        if fate == "requeued":
            ok = run.status is RunStatus.QUEUED and run.attempt == before[run_id].attempt + 1
        else:
            ok = run.status is RunStatus.NEEDS_ATTENTION and bool(run.block_reason)
            if fate == "parked":
                ok = ok and "lease expired" in (run.block_reason or "")
        if not ok:
            check.violations.append(f"run {run_id} ({fate}) is {run.status} attempt {run.attempt}")
    return check


def drain(store: Store, check: RecoveryCheck, limit: int = 10_000) -> None:
    """Claim every queued run and finish it: no run is stuck where no worker can get it."""
    for _ in range(limit):
        claim = store.claim_next("drainer", lease_s=600)
        if claim is None:
            return
        try:
            store.complete(claim.run_id, claim.claim_token)
        except ParkbenchError as error:
            if error.code != "missing_artifacts":
                raise
            # Retried while attempts remain, then failed: the loop ends either way.
            store.fail(claim.run_id, claim.claim_token, reason="receipt never written")
        check.drained += 1
    check.violations.append(f"the queue did not drain within {limit} claims")
