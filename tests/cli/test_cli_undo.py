"""``parkbench undo-requeue RUN``: the undo of a requeue from the command line, its JSON
document, and each refusal with its stable code and exit status (both backends)."""

from __future__ import annotations

from pathlib import Path

from clitest_support import invoke

from parkbench.core.store import Store


def _requeued(store: Store, workspace: Path) -> tuple[int, int]:
    store.enqueue("Deploy", workspace)
    claim = store.claim_next("agent-1")
    assert claim is not None
    store.block(claim.run_id, claim.claim_token, reason="need the API key")
    [result] = store.requeue([claim.run_id], reason="key added", actor="alice")
    assert result.new_run_id is not None
    return claim.run_id, result.new_run_id


def test_undo_requeue_prints_both_runs_and_audits_the_reviewer(
    db_url: str, workspace: Path
) -> None:
    with Store.open(db_url) as store:
        source, new = _requeued(store, workspace)
        done = invoke(
            "undo-requeue", str(source), "--reason", "wrong run", "--actor", "bob",
            "--db", db_url, "--json",
        )  # fmt: skip
        assert done.code == 0 and done.stderr == ""
        assert done.json() == {
            "run_id": source,
            "status": "needs_attention",
            "canceled_run_id": new,
            "canceled_status": "canceled",
            "actor": "bob",
        }
        last = store.get_run(source, check_disk=False).events[-1]
        assert (last.actor, last.action, last.reason) == ("bob", "undo_requeue", "wrong run")
        assert store.get_run(new, check_disk=False).run.status.value == "canceled"


def test_undo_requeue_in_words(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        source, new = _requeued(store, workspace)
    done = invoke("undo-requeue", str(source), "--reason", "wrong run", "--db", db_url)
    assert done.code == 0
    assert f"run {source} is needs_attention again; its new run {new} is canceled" in done.stdout


def test_undo_requeue_refusals_have_stable_codes(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        source, new = _requeued(store, workspace)
        assert store.claim_next("agent-2") is not None  # the new run is taken
    claimed = invoke("undo-requeue", str(source), "--reason", "x", "--db", db_url, "--json")
    assert claimed.code == 3 and claimed.stdout == ""
    error = claimed.error()
    assert error["code"] == "conflict"
    assert f"new run {new} was claimed already by agent-2" in error["message"]
    assert f"parkbench show {new}" in error["hint"]

    parked = invoke("undo-requeue", str(new), "--reason", "x", "--db", db_url, "--json")
    assert parked.code == 3 and parked.error()["code"] == "invalid_transition"
    missing = invoke("undo-requeue", "999", "--reason", "x", "--db", db_url)
    assert missing.code == 4 and "error[not_found]" in missing.stderr
    blank = invoke("undo-requeue", str(source), "--reason", "  ", "--db", db_url)
    assert blank.code == 2 and "error[validation]" in blank.stderr
    no_run = invoke("undo-requeue", "--reason", "x", "--db", db_url)
    assert no_run.code == 2
