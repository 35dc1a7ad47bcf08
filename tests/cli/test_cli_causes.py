"""``parkbench causes``: the parked runs folded by cause, for people and (``--json``) scripts."""

from __future__ import annotations

from pathlib import Path

from clitest_support import invoke

from parkbench.core.store import Store

HOSTILE = "[bold red]x[/] [@click=app.quit] \x1b[31mred\x1b]0;pwned\x07 \u202eevil"


def park(store: Store, workspace: Path, reason: str, worker: str = "agent-7") -> int:
    store.enqueue("t", workspace)
    lease = store.claim_next(worker)
    assert lease is not None
    store.block(lease.run_id, lease.claim_token, reason=reason)
    return lease.run_id


def test_causes_json_has_the_stable_shape(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        a = park(store, workspace, "disk quota exceeded on runner 7 writing build/a1", "w1")
        b = park(store, workspace, "disk quota exceeded on runner 3 writing build/b9", "w2")
        c = park(store, workspace, HOSTILE)
        store.enqueue("queued", workspace)
    doc = invoke("causes", "--db", db_url, "--json").json()
    assert set(doc) == {"causes", "causes_total", "causes_listed", "needs_attention"}
    assert (doc["causes_total"], doc["causes_listed"], doc["needs_attention"]) == (2, 2, 3)
    disk, hostile = doc["causes"]
    assert set(disk) == {
        "key",
        "kind",
        "count",
        "oldest_blocked_at",
        "newest_blocked_at",
        "workers",
        "worker_count",
        "example_reason",
    }
    assert disk["key"] == "disk quota exceeded on runner <n> writing <path>"
    assert (disk["kind"], disk["count"]) == ("reason", 2)
    assert (disk["workers"], disk["worker_count"]) == (["w1", "w2"], 2)
    assert disk["oldest_blocked_at"].endswith("Z")
    assert hostile["example_reason"] == HOSTILE  # byte for byte
    one = invoke("causes", "--limit", "1", "--db", db_url, "--json").json()
    assert (one["causes_listed"], one["causes_total"]) == (1, 2)
    assert one["causes"][0] == disk
    # --run-ids: every run id of each listed cause, ascending, beside the same fields.
    ids = invoke("causes", "--db", db_url, "--json", "--run-ids").json()
    assert [c.pop("run_ids") for c in ids["causes"]] == [[a, b], [c]]
    assert ids == doc


def test_causes_prints_a_table_with_hostile_text_escaped(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        park(store, workspace, HOSTILE)
        park(store, workspace, "needs approval for migration 12")
    done = invoke("causes", "--db", db_url)
    assert done.code == 0
    out = done.stdout
    assert "RUNS" in out and "CAUSE" in out and "needs approval for migration <n>" in out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "[bold red]x[/]" in out  # markup printed as the characters it is
    assert "2 cause(s), 2 parked run(s)" in out
    assert "--run-ids" in out  # where the run ids are


def test_no_parked_runs(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        store.enqueue("queued", workspace)
    assert invoke("causes", "--db", db_url).stdout.strip() == "no parked runs"
    assert invoke("causes", "--db", db_url, "--json").json()["causes"] == []


def test_a_bad_limit_is_a_validation_error(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        store.enqueue("queued", workspace)
    done = invoke("causes", "--limit", "lots", "--db", db_url, "--json")
    assert done.code == 2 and done.error()["code"] == "validation"
    assert "--limit" in str(done.error()["hint"])
