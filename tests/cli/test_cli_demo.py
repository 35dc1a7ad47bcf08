"""`parkbench demo`: deterministic, realistic, hostile, and exactly what the store would write.

The demo bulk-inserts rows instead of running transitions, so these tests hold it to the
store: every story is replayed through the real store at the same instants and the rows and
audit events must match; every event of a generated database must be a legal transition
forming an unbroken chain; and demo runs must carry on through real CLI commands.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from clitest_support import invoke
from testkit import FakeClock

from parkbench.core.demo import DEMO_NOW_MS
from parkbench.core.demo.stories import STORIES, Builder, Run, Task, new_task, tell
from parkbench.core.lifecycle import Action, ActorKind, RunStatus, find
from parkbench.core.models import events, runs
from parkbench.core.store import Store


def demo(db: str, workspace: Path, *extra: str) -> dict[str, Any]:
    done = invoke(
        "demo", "--runs", "400", "--workspace", str(workspace), "--db", db, "--json", *extra
    )
    assert done.code == 0, done.stderr
    return done.json()  # type: ignore[return-value]


def dump(db: str) -> dict[str, Any]:
    """Everything a reviewer or a program can see, in a backend-neutral form."""
    pages, cursor = [], None
    while True:
        args = ["list", "--status", "all", "--limit", "1000", "--db", db, "--json"]
        page = invoke(*args, *(["--after", cursor] if cursor else [])).json()
        pages += page["runs"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    with Store.open(db) as store:
        trail = store.read(
            lambda c: [
                {k: v for k, v in row._mapping.items() if k != "id"}
                for row in c.execute(sa.select(events).order_by(events.c.id))
            ]
        )
        counts = store.counts_by_status()
    return {"runs": pages, "events": trail, "counts": counts}


def files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_data_on_any_backend(db_url: str, tmp_path: Path) -> None:
    workspace = tmp_path / "demo-ws"
    first = demo(db_url, workspace, "--seed", "11")
    written = files(workspace)
    other = f"sqlite:///{tmp_path / 'again.db'}"
    second = demo(other, workspace, "--seed", "11")
    assert first == second and files(workspace) == written
    assert dump(db_url) == dump(other)
    different = f"sqlite:///{tmp_path / 'different.db'}"
    demo(different, tmp_path / "ws-2", "--seed", "12")
    assert dump(different)["runs"] != dump(other)["runs"]


def test_demo_is_realistic_and_hostile(db_url: str, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    summary = demo(db_url, workspace, "--seed", "5", "--now", "2026-09-01T09:00:00Z")
    assert summary["runs"] == 400 and summary["now_ms"] == DEMO_NOW_MS
    counts = summary["by_status"]
    assert sum(counts.values()) == 400
    assert counts["needs_attention"] >= 120 and counts["queued"] >= 30
    assert counts["claimed"] >= 10 and counts["completed"] >= 40 and counts["failed"] >= 10
    assert counts["requeued"] >= 3
    assert summary["receipts_written"] > 0 and summary["receipts_missing"] > 0
    data = dump(db_url)
    reasons = [r["block_reason"] or "" for r in data["runs"]]
    assert len({r.split(":")[0] for r in reasons if r}) >= 8  # varied kinds of reasons
    text = json.dumps(data, ensure_ascii=False)
    for hostile in (
        "[bold]x[/]",
        "[@click=app.quit]",
        "\\u001b[31m",
        "\\u001b]0;pwned\\u0007",
        "\u202e",
        "需要人工审核",
        "مطلوب",
        "🚧",
        "\u200b",
    ):
        assert hostile in text, hostile
    assert max(len(r) for r in reasons) > 10_000
    assert all(r["blocked_at"] <= "2026-09-01T09:00:00Z" for r in data["runs"] if r["blocked_at"])
    # receipts on disk: some present, some missing, as `show` sees them now
    states: dict[str, int] = {}
    with Store.open(db_url) as store:
        for row in data["runs"]:
            if row["status"] == "needs_attention" and row["required_artifacts"]:
                for check in store.get_run(row["id"]).artifacts:
                    states[check.state.value] = states.get(check.state.value, 0) + 1
    assert states.get("present", 0) > 0 and states.get("missing", 0) > 0


def test_every_event_is_a_legal_unbroken_chain(db_url: str, tmp_path: Path) -> None:
    demo(db_url, tmp_path / "ws", "--seed", "3")
    with Store.open(db_url) as store:
        rows = store.read(lambda c: list(c.execute(sa.select(runs))))
        trail = store.read(lambda c: list(c.execute(sa.select(events).order_by(events.c.id))))
    by_run: dict[int, list[Any]] = {}
    for event in trail:
        by_run.setdefault(event.run_id, []).append(event)
        if event.action == "enqueue":  # a worker's enqueue, or a requeue's successor (human)
            assert (event.from_status, event.to_status) == (None, "queued"), event
            continue
        move = find(
            ActorKind(event.actor_kind),
            Action(event.action),
            RunStatus(event.from_status) if event.from_status else None,
        )
        assert move is not None and move.target.value == event.to_status, event
    for row in rows:
        chain = by_run[row.id]
        assert chain[0].from_status is None and chain[0].to_status == "queued"
        for before, after in itertools.pairwise(chain):
            assert after.from_status == before.to_status
            assert after.created_at >= before.created_at
        assert chain[-1].to_status == row.status
        assert row.version == len(chain)  # one UPDATE (and one event) per transition
        moves = [e for e in chain if e.from_status != e.to_status]  # heartbeats excluded
        assert row.status_changed_at == moves[-1].created_at
        live = row.status == "claimed"
        assert (row.lease_until is not None) == live


def test_demo_runs_carry_on_through_the_cli(db_url: str, tmp_path: Path) -> None:
    demo(db_url, tmp_path / "ws", "--seed", "9")
    with Store.open(db_url) as store:
        best = store.read(
            lambda c: c.execute(
                sa.select(runs.c.id)
                .where(runs.c.status == "queued")
                .order_by(runs.c.priority.desc(), runs.c.queued_at, runs.c.id)
                .limit(1)
            ).scalar()
        )
    lease = invoke("lease", "claim", "--worker", "me", "--db", db_url, "--json").json()
    assert lease["run_id"] == best
    done = invoke(
        "lease",
        "complete",
        str(lease["run_id"]),
        "--token",
        lease["claim_token"],
        "--db",
        db_url,
        "--json",
    )
    assert done.code in (0, 3)  # 3: its contract's receipts are missing: refused, as it should
    moved = invoke(
        "requeue",
        "--all-matching",
        "--search",
        "rate limited",
        "--yes",
        "--reason",
        "quota reset",
        "--db",
        db_url,
        "--json",
    )
    assert moved.code == 0 and moved.json()["matched"] >= 1
    again = invoke(
        "demo", "--runs", "10", "--workspace", str(tmp_path / "ws"), "--db", db_url, "--json"
    )
    assert again.code == 2 and "--append" in again.error()["hint"]
    more = invoke(
        "demo",
        "--runs",
        "10",
        "--workspace",
        str(tmp_path / "ws"),
        "--db",
        db_url,
        "--json",
        "--append",
    )
    assert more.code == 0 and more.json()["runs"] == 10
    enqueued = invoke(
        "enqueue", "after the demo", "--workspace", str(tmp_path), "--db", db_url, "--json"
    )
    assert enqueued.code == 0  # ids and sequences stayed consistent after explicit-id inserts


# -- replay: the demo writes what the store would have written ------------------------------


@pytest.fixture
def replay_store(db_url: str) -> Any:
    clock = FakeClock(DEMO_NOW_MS)
    with Store.open(db_url, clock=clock) as store:
        yield store, clock


def test_stories_match_the_real_store(replay_store: Any, workspace: Path) -> None:
    store, clock = replay_store
    root = os.path.realpath(workspace)
    for sub in ("reports", "out", "receipts"):
        (workspace / sub).mkdir()
    rng = random.Random(2024)
    builder = Builder(rng, DEMO_NOW_MS, next_run_id=1)
    task_id = 1
    for story, _, _ in STORIES:
        for _ in range(3):
            task = new_task(rng, builder.texts, story, task_id, (1, root))
            task_id += 1
            built = tell(builder, task)
            real_ids = _replay(store, clock, task, built)
            for run, real_id in zip(built, real_ids, strict=True):
                _compare(
                    store, run, real_id, dict(zip([r["id"] for r in built], real_ids, strict=True))
                )
            open_ids = [
                i
                for i in real_ids
                if store.get_run(i, check_disk=False).run.status
                in (RunStatus.QUEUED, RunStatus.CLAIMED, RunStatus.NEEDS_ATTENTION)
            ]
            store.force_fail(
                open_ids, reason="clear the way for the next story", actor="test", force=True
            )


def _replay(store: Store, clock: FakeClock, task: Task, built: list[Run]) -> list[int]:
    merged = sorted(
        (e for run in built for e in (*run.events, *run.heartbeats)),
        key=lambda e: (e["created_at"], e["_seq"]),
    )
    ids: dict[object, int] = {}
    tokens: dict[int, str] = {}
    for event in merged:
        clock.now_ms = int(event["created_at"])
        demo_id, action, actor = event["run_id"], event["action"], str(event["actor"])
        real = ids.get(demo_id)
        if action == "enqueue":
            if event["details_json"]:
                continue  # a requeue's successor: created by the requeue below
            ids[demo_id] = store.enqueue(
                str(task.title),
                task.root,
                priority=task.priority,
                max_attempts=task.max_attempts,
                metadata=task.metadata,
                actor=actor,
                max_runtime_s=task.max_runtime_ms / 1000 if task.max_runtime_ms else None,
            ).run_id
        elif action == "claim":
            lease = store.claim_next(actor, lease_s=300)
            assert lease is not None and lease.run_id == real
            tokens[real] = lease.claim_token
        elif action == "heartbeat":
            store.heartbeat(real, tokens[real], lease_s=300)
        elif action == "block":
            store.block(real, tokens[real], reason=str(event["reason"]))
        elif action in ("complete", "park_missing"):
            result = next(r for r in built if r["id"] == demo_id)["result_json"]
            store.complete(real, tokens[real], result=json.loads(result) if result else None)
        elif action in ("retry", "fail") and event["actor_kind"] == "worker":
            store.fail(real, tokens[real], reason=str(event["reason"]))
        elif action in ("expire_park", "runtime_park"):
            store.recover_expired(now=clock.now_ms)
        elif action == "requeue":
            [result] = store.requeue([real], reason=str(event["reason"]), actor=actor)
            successor = json.loads(str(event["details_json"]))["new_run_id"]
            ids[successor] = result.new_run_id
        elif action == "fail":
            [result] = store.force_fail([real], reason=str(event["reason"]), actor=actor)
            assert result.ok
        else:
            raise AssertionError(f"no replay for {action}")
    return [ids[run["id"]] for run in built]


_MAPPED = ("previous_run_id", "root_run_id", "new_run_id")


def _compare(store: Store, run: Run, real_id: int, id_map: dict[object, int]) -> None:
    real = store.read(lambda c: c.execute(sa.select(runs).where(runs.c.id == real_id)).one())
    got = dict(real._mapping)
    want = dict(run.row)
    for key in ("id", "task_id", "workspace_id"):
        got.pop(key), want.pop(key)
    for key in ("previous_run_id", "root_run_id"):
        want[key] = id_map.get(want[key]) if want[key] is not None else None
    for key in ("metadata_json", "result_json"):
        got[key] = json.loads(got[key]) if got[key] else got[key]
        want[key] = json.loads(str(want[key])) if want[key] else want[key]
    assert (got.pop("claim_token_hash") is None) == (want.pop("claim_token_hash") is None)
    got["attempt_limit_overridden"] = bool(got["attempt_limit_overridden"])
    assert got == want, run.events[-1]["action"]
    trail = store.read(
        lambda c: list(
            c.execute(sa.select(events).where(events.c.run_id == real_id).order_by(events.c.id))
        )
    )
    assert len(trail) == len(run.events)
    for mine, theirs in zip(run.events, trail, strict=True):
        details = json.loads(str(mine["details_json"])) if mine["details_json"] else None
        for key in _MAPPED:
            if details and key in details:
                details[key] = id_map[details[key]]
        assert (
            theirs.actor_kind,
            theirs.actor,
            theirs.action,
            theirs.from_status,
            theirs.to_status,
            theirs.reason,
            theirs.created_at,
        ) == (
            mine["actor_kind"],
            mine["actor"],
            mine["action"],
            mine["from_status"],
            mine["to_status"],
            mine["reason"],
            mine["created_at"],
        )
        assert (theirs.token_hash_prefix is None) == (mine["token_hash_prefix"] is None)
        assert (json.loads(theirs.details_json) if theirs.details_json else None) == details
