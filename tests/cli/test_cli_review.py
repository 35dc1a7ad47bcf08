"""Reviewer commands: requeue, fail, release — one run, many, and --all-matching."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from clitest_support import clean_env, entry_point, invoke

from parkbench.core.store import Store


def parked(store: Store, workspace: Path, n: int, reason: str = "need a human") -> list[int]:
    ids = []
    for i in range(n):
        store.enqueue(f"task {i}", workspace)
        lease = store.claim_next("agent")
        assert lease is not None
        store.block(lease.run_id, lease.claim_token, reason=f"{reason} #{i}")
        ids.append(lease.run_id)
    return ids


def test_requeue_one_run_with_actor(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        [run] = parked(store, workspace, 1)
        done = invoke(
            "requeue",
            str(run),
            "--reason",
            "key added",
            "--actor",
            "alice",
            "--db",
            db_url,
            "--json",
        )
        assert done.code == 0 and done.stderr == ""
        body = done.json()
        assert body["action"] == "requeue" and body["actor"] == "alice"
        assert (body["ok"], body["failed"]) == (1, 0)
        [result] = body["results"]
        assert result["run_id"] == run and result["ok"] and result["status"] == "requeued"
        detail = store.get_run(result["new_run_id"])
        assert detail.run.previous_run_id == run and detail.run.status.value == "queued"
        last = store.get_run(run).events[-1]
        assert (last.actor, last.actor_kind, last.action, last.reason) == (
            "alice",
            "human",
            "requeue",
            "key added",
        )


def test_actor_defaults_to_the_os_user(db_url: str, workspace: Path) -> None:
    from parkbench.core.store import default_actor

    with Store.open(db_url) as store:
        [run] = parked(store, workspace, 1)
        done = invoke("fail", str(run), "--reason", "not worth it", "--db", db_url, "--json")
        assert done.json()["actor"] == default_actor()
        event = store.get_run(run).events[-1]
        assert event.actor == default_actor() and event.details == {"operator_forced": True}


def test_bulk_mixes_good_and_bad_runs_and_attempts_all(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        good = parked(store, workspace, 3)
        store.enqueue("still queued", workspace)
        queued = store.list_runs(store_filter("queued")).rows[0].id
        done = invoke(
            "release",
            str(good[0]),
            "999999",
            str(good[1]),
            str(queued),
            str(good[2]),
            "--reason",
            "retry later",
            "--db",
            db_url,
            "--json",
        )
        body = done.json()
        outcomes = {r["run_id"]: (r["ok"], r.get("error", {}).get("code")) for r in body["results"]}
        assert outcomes == {
            good[0]: (True, None),
            999999: (False, "not_found"),
            good[1]: (True, None),
            queued: (False, "invalid_transition"),
            good[2]: (True, None),
        }
        # every good run was released even though bad ones came before them
        assert all(store.get_run(r).run.status.value == "queued" for r in good)
        # worst failure decides the exit status (not_found 4 > invalid_transition 3),
        # and stderr carries the one error object
        assert done.code == 4
        error = done.error()
        assert error["code"] == "not_found" and "2 of 5 runs" in error["message"]
        assert {f["run_id"] for f in error["details"]["failed"]} == {999999, queued}


def test_bulk_exit_3_when_only_state_errors(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        [run] = parked(store, workspace, 1)
        assert invoke("requeue", str(run), "--reason", "r", "--db", db_url).code == 0
        again = invoke("requeue", str(run), "--reason", "r", "--db", db_url)
        assert again.code == 3
        assert "error[invalid_transition]" in again.stdout  # the per-run table
        assert again.stderr.startswith("error[invalid_transition]: 1 of 1 runs")


def test_reason_is_required_and_trimmed(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        [run] = parked(store, workspace, 1)
        for args in ((), ("--reason", "   ")):
            done = invoke("requeue", str(run), *args, "--db", db_url, "--json")
            assert done.code == 2 and done.error()["code"] == "validation"
            assert "reason" in done.error()["message"]
        assert store.get_run(run).run.status.value == "needs_attention"


def test_runs_or_all_matching_not_both_nor_neither(db_url: str, workspace: Path) -> None:
    for args in (("1", "--all-matching"), (), ("1", "--search", "x")):
        done = invoke("requeue", *args, "--reason", "r", "--db", db_url, "--json")
        assert done.code == 2 and done.error()["code"] == "validation"


def test_all_matching_counts_and_needs_yes(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        parked(store, workspace, 3, reason="rate limited")
        parked(store, workspace, 2, reason="merge conflict")
        refused = invoke(
            "requeue",
            "--all-matching",
            "--search",
            "rate limited",
            "--reason",
            "quota reset",
            "--db",
            db_url,
            "--json",
        )
        assert refused.code == 2
        assert "3 runs match" in refused.error()["message"] and "--yes" in refused.error()["hint"]
        assert store.counts_by_status()["requeued"] == 0
        human = invoke(
            "requeue", "--all-matching", "--search", "rate limited", "--reason", "q", "--db", db_url
        )
        assert "3 run(s) match" in human.stderr and human.code == 2
        done = invoke(
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
        assert done.code == 0
        body = done.json()
        assert body["matched"] == 3 and body["ok"] == 3
        assert store.counts_by_status()["requeued"] == 3
        # one match needs no --yes; zero matches is a no-op
        one = invoke(
            "fail",
            "--all-matching",
            "--search",
            "merge conflict #1",
            "--reason",
            "x",
            "--db",
            db_url,
            "--json",
        )
        assert one.code == 0 and one.json()["matched"] == 1
        none = invoke(
            "fail",
            "--all-matching",
            "--search",
            "nothing like this",
            "--reason",
            "x",
            "--db",
            db_url,
            "--json",
        )
        assert none.code == 0 and none.json()["matched"] == 0 and none.json()["results"] == []


def test_all_matching_takes_every_list_filter(db_url: str, workspace: Path) -> None:
    other = workspace.parent / "other-ws"
    other.mkdir()
    with Store.open(db_url) as store:
        mine = parked(store, workspace, 2)
        parked(store, other, 1)
        task = store.get_run(mine[0]).run.task_id
        checks = [
            (("--workspace", str(other)), 1),
            (("--task", str(task)), 1),
            (("--worker", "agent"), 3),
            (("--worker", "nobody"), 0),
            (("--status", "queued"), 0),
            (("--status", "all", "--search", "task 1"), 1),
        ]
        for flags, expected in checks:
            done = invoke(
                "release",
                "--all-matching",
                *flags,
                "--yes",
                "--reason",
                "r",
                "--db",
                db_url,
                "--json",
            )
            assert done.json()["matched"] == expected, flags
            # put released runs back so the next check sees the same world
            for result in done.json()["results"]:
                lease = store.claim_next("agent")
                assert lease is not None and lease.run_id == result["run_id"]
                store.block(lease.run_id, lease.claim_token, reason="again")


def test_confirmation_on_a_terminal_and_conflict_when_a_run_moved(
    db_url: str, workspace: Path
) -> None:
    """On a TTY the command asks; a run that changes before the answer comes back as conflict."""
    with Store.open(db_url) as store:
        runs = parked(store, workspace, 3)
        output, code = _answer_on_a_tty(
            [*entry_point(), "requeue", "--all-matching", "--reason", "ok", "--db", db_url],
            before_answer=lambda: store.force_release([runs[1]], reason="someone else", actor="b"),
            answer="y\n",
        )
        assert "3 run(s) match" in output and "requeue 3 runs? [y/N]" in output
        assert code == 3
        assert "error[conflict]" in output
        statuses = [store.get_run(r).run.status.value for r in runs]
        assert statuses == ["requeued", "queued", "requeued"]
        declined, code = _answer_on_a_tty(
            [
                *entry_point(),
                "fail",
                "--all-matching",
                "--status",
                "queued",
                "--reason",
                "x",
                "--db",
                db_url,
            ],
            before_answer=lambda: None,
            answer="n\n",
            expect_prompt="fail 3 runs?",
        )
        assert code == 2 and "not confirmed" in declined
        assert store.counts_by_status()["failed"] == 0


def _answer_on_a_tty(argv, before_answer, answer: str, expect_prompt: str = "[y/N]"):
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        argv,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=clean_env(COLUMNS="200"),
        close_fds=True,
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 120
    while expect_prompt.encode() not in seen:
        assert time.monotonic() < deadline, seen
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            seen += os.read(leader, 4096)
    before_answer()
    os.write(leader, answer.encode())
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    code = proc.wait(timeout=120)
    os.close(leader)
    return seen.decode(errors="replace"), code


def store_filter(status: str):
    from parkbench.core.lifecycle import RunStatus
    from parkbench.core.records import RunFilter

    return RunFilter(status=RunStatus(status))


# -- --all-matching holds neither whole rows nor every run (issue 19 item 6) ------------------


def _parked_bulk(store: Store, workspace: Path, n: int, reason_chars: int) -> list[int]:
    ids = []
    for i in range(n):
        store.enqueue(f"bulk {i}", workspace)
        lease = store.claim_next("agent")
        assert lease is not None
        # Distinct text per run, so no string is shared between rows.
        store.block(
            lease.run_id,
            lease.claim_token,
            reason=f"bulk #{i} " + chr(0x61 + i % 26) * reason_chars,
        )
        ids.append(lease.run_id)
    return ids


def _peak_bytes(*args: str):
    import tracemalloc

    tracemalloc.start()
    try:
        done = invoke(*args)
        return done, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_all_matching_memory_stays_below_the_text_it_acts_on(
    tmp_path: Path, workspace: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'bulk.db'}"
    n, size = 100, 256 * 1024
    with Store.open(db_url) as store:
        ids = _parked_bulk(store, workspace, n, size)
    invoke("stats", "--db", db_url)  # warm the imports: only the command's own peak counts
    done, peak = _peak_bytes(
        "requeue", "--all-matching", "--yes", "--reason", "bulk retry", "--db", db_url, "--json"
    )
    assert done.code == 0, done.stderr
    total_text = n * size
    assert peak < total_text / 8, f"peak {peak:,} B for {total_text:,} B of reasons"
    body = done.json()
    assert (body["matched"], body["ok"], body["failed"]) == (n, n, 0)
    assert [r["run_id"] for r in body["results"]] == ids
    assert all(r["ok"] and r["status"] == "requeued" and r["new_run_id"] for r in body["results"])
    with Store.open(db_url) as store:
        assert store.counts_by_status()["requeued"] == n
        assert store.counts_by_status()["queued"] == n


def test_all_matching_memory_does_not_grow_with_the_number_of_runs(
    tmp_path: Path, workspace: Path
) -> None:
    peaks = {}
    for n in (40, 320):
        db_url = f"sqlite:///{tmp_path / f'bulk{n}.db'}"
        with Store.open(db_url) as store:
            _parked_bulk(store, workspace, n, 2048)
        invoke("stats", "--db", db_url)
        done, peaks[n] = _peak_bytes(
            "fail", "--all-matching", "--yes", "--reason", "triaged", "--db", db_url
        )
        assert done.code == 0, done.stderr
        assert f"fail: {n} ok, 0 failed of {n}" in done.stdout
    # Eight times the runs: the peak may move by what one batch holds, not by 280 rows.
    assert peaks[320] < peaks[40] + 280 * 2048, peaks


def test_all_matching_in_batches_reports_every_outcome(
    db_url: str, workspace: Path, monkeypatch
) -> None:
    """Batches smaller than the match: per-run results, conflicts and totals as in one pass."""
    from parkbench.tui.cli import bulk

    monkeypatch.setattr(bulk, "BATCH_SIZE", 3)
    with Store.open(db_url) as store:
        ids = parked(store, workspace, 8, reason="flaky")
        counted = {}

        real_review = Store.review

        def moved_meanwhile(self, action, run_ids, **kwargs):
            if not counted:  # after the count, before the first batch: another reviewer acts
                counted["moved"] = ids[4]
                real_review(self, action, [ids[4]], reason="someone else", actor="bob")
            return real_review(self, action, run_ids, **kwargs)

        monkeypatch.setattr(Store, "review", moved_meanwhile)
        done = invoke(
            "release", "--all-matching", "--yes", "--reason", "r", "--db", db_url, "--json"
        )
        assert done.code == 3
        body = done.json()
        assert (body["matched"], body["ok"], body["failed"]) == (8, 7, 1)
        assert [r["run_id"] for r in body["results"]] == ids
        [bad] = [r for r in body["results"] if not r["ok"]]
        assert bad["run_id"] == ids[4] and bad["error"]["code"] == "conflict"
        error = done.error()
        assert error["code"] == "conflict"
        assert error["details"] == {"failed": [{"run_id": ids[4], "code": "conflict"}]}
        human = invoke(
            "release",
            "--all-matching",
            "--status",
            "queued",
            "--yes",
            "--reason",
            "r",
            "--db",
            db_url,
        )
        assert human.code == 3  # queued runs cannot be released: each one fails on its own
        assert "release: 0 ok, 8 failed of 8" in human.stdout


def _claimed(store: Store, workspace: Path, lease_s: float = 600) -> tuple[int, str]:
    store.enqueue("held", workspace)
    lease = store.claim_next("agent", lease_s=lease_s)
    assert lease is not None
    return lease.run_id, lease.claim_token


def test_taking_a_live_lease_needs_force(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        run, _ = _claimed(store, workspace)
        for verb in ("release", "fail"):
            refused = invoke(verb, str(run), "--reason", "stuck?", "--db", db_url, "--json")
            assert refused.code == 3 and refused.error()["code"] == "invalid_transition"
            assert "--force" in refused.error()["hint"]
            assert store.get_run(run).run.status.value == "claimed"
        done = invoke(
            "release", str(run), "--reason", "worker is gone", "--force", "--db", db_url, "--json"
        )
        assert done.code == 0 and done.json()["results"][0]["status"] == "queued"
        last = store.get_run(run).events[-1]
        assert last.action == "release" and last.details == {"lease_forced": True}


def test_a_single_run_command_fences_on_the_version_it_read(
    db_url: str, workspace: Path, monkeypatch
) -> None:
    """The run moves between the command's read and its write: conflict, nothing changed."""
    from parkbench.core.store.review import ReviewOps

    with Store.open(db_url) as store:
        run, token = _claimed(store, workspace)
        real_review = ReviewOps.review

        def review_after_a_move(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            store.block(run, token, reason="the worker parked it meanwhile")
            return real_review(self, *args, **kwargs)

        monkeypatch.setattr(ReviewOps, "review", review_after_a_move)
        moved = invoke(
            "release", str(run), "--reason", "worker is gone", "--force", "--db", db_url, "--json"
        )
        assert moved.code == 3 and moved.error()["code"] == "conflict"
        assert store.get_run(run).run.status.value == "needs_attention"
