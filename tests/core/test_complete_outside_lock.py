"""complete() checks receipts on disk outside the write transaction, then fences its write
on the version it read: a slow or hung file system never stalls other writers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from parkbench.core import contracts
from parkbench.core.db.info import ENV_BUSY_TIMEOUT
from parkbench.core.errors import InvalidTransitionError
from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store

CONTRACT = {"completion_contract": {"required_paths": ["receipts/ok.txt"]}}


def _claimed(store: Store, workspace: Path) -> tuple[int, str]:
    (workspace / "receipts").mkdir()
    (workspace / "receipts" / "ok.txt").write_text("ok")
    run_id = store.enqueue("t", workspace, metadata=CONTRACT).run_id
    claim = store.claim_next("w", lease_s=600)
    assert claim is not None and claim.run_id == run_id
    return run_id, claim.claim_token


def _during_check(monkeypatch: pytest.MonkeyPatch, action: Any) -> list[object]:
    """Run ``action`` while complete() looks at the disk; collect what it returned."""
    real = contracts.check_artifacts
    seen: list[object] = []
    started: list[bool] = []

    def slow_check(root: str, paths: Any, **options: Any) -> Any:
        if not started:  # only the first call: the action may check receipts itself
            started.append(True)
            try:
                seen.append(action())
            except Exception as error:  # recorded: the test asserts on it
                seen.append(error)
        return real(root, paths, **options)

    monkeypatch.setattr(contracts, "check_artifacts", slow_check)
    return seen


def test_a_writer_is_not_blocked_while_receipts_are_checked(
    store: Store, workspace: Path, db_url: str, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id, token = _claimed(store, workspace)
    monkeypatch.setenv(ENV_BUSY_TIMEOUT, "100")
    with Store.open(db_url, clock=clock) as other:
        seen = _during_check(
            monkeypatch,
            lambda: (
                other.enqueue("meanwhile", workspace).run_id,
                other.heartbeat(run_id, token, lease_s=600),
            ),
        )
        done = store.complete(run_id, token)
    assert not isinstance(seen[0], Exception), seen[0]
    assert done.status is RunStatus.COMPLETED
    assert store.get_run(run_id, check_disk=False).run.status is RunStatus.COMPLETED


def test_a_run_that_moves_during_the_check_is_re_read_and_refused_precisely(
    store: Store, workspace: Path, db_url: str, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id, token = _claimed(store, workspace)
    monkeypatch.setenv(ENV_BUSY_TIMEOUT, "100")
    with Store.open(db_url, clock=clock) as other:
        seen = _during_check(
            monkeypatch, lambda: other.block(run_id, token, reason="parked meanwhile")
        )
        with pytest.raises(InvalidTransitionError):
            store.complete(run_id, token)
    assert seen == [RunStatus.NEEDS_ATTENTION]
    row = store.get_run(run_id, check_disk=False).run
    assert (row.status, row.block_reason) == (RunStatus.NEEDS_ATTENTION, "parked meanwhile")
