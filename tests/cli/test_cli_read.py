"""Read commands: list (filters, keyset paging), show (receipts checked now), stats.

Also: hostile text prints literally and visibly escaped in human output, and byte-for-byte
in JSON.
"""

from __future__ import annotations

import os
from pathlib import Path

from clitest_support import invoke

from parkbench.core.store import Store

HOSTILE = "[bold red]x[/] [@click=app.quit] \x1b[31mred\x1b]0;pwned\x07 \u202eevil 数据 🚧"


def park(store: Store, workspace: Path, title: str, reason: str, **kw: object) -> int:
    store.enqueue(title, workspace, **kw)  # type: ignore[arg-type]
    lease = store.claim_next("agent-7")
    assert lease is not None
    store.block(lease.run_id, lease.claim_token, reason=reason)
    return lease.run_id


def test_list_defaults_to_parked_and_pages_by_cursor(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        parked = [park(store, workspace, f"t{i}", f"reason {i}") for i in range(5)]
        store.enqueue("queued one", workspace)
    first = invoke("list", "--limit", "2", "--db", db_url, "--json").json()
    assert set(first) == {"runs", "next_cursor"}
    assert [r["status"] for r in first["runs"]] == ["needs_attention"] * 2
    seen = [r["id"] for r in first["runs"]]
    cursor = first["next_cursor"]
    while cursor:
        page = invoke("list", "--limit", "2", "--after", cursor, "--db", db_url, "--json").json()
        seen += [r["id"] for r in page["runs"]]
        cursor = page["next_cursor"]
    assert seen == parked
    every = invoke("list", "--status", "all", "--db", db_url, "--json").json()
    assert len(every["runs"]) == 6 and every["next_cursor"] is None
    row = every["runs"][0]
    for key in (
        "id",
        "task_id",
        "title",
        "workspace",
        "status",
        "attempt",
        "worker",
        "block_reason",
        "blocked_at",
        "version",
        "required_artifacts",
    ):
        assert key in row


def test_list_filters(db_url: str, workspace: Path) -> None:
    other = workspace.parent / "elsewhere"
    other.mkdir()
    with Store.open(db_url) as store:
        a = park(store, workspace, "fix refunds", "missing credentials: AWS key")
        b = park(store, other, "write docs", "ambiguous spec")
        task_b = store.get_run(b).run.task_id
    cases = {
        ("--search", "aws KEY"): [a],
        ("--search", "docs"): [b],
        ("--workspace", str(other)): [b],
        ("--workspace", "elsewhere"): [b],
        ("--task", str(task_b)): [b],
        ("--worker", "agent-7"): [a, b],
        ("--worker", "agent-8"): [],
        ("--status", "queued"): [],
    }
    for flags, expected in cases.items():
        done = invoke("list", *flags, "--db", db_url, "--json")
        assert [r["id"] for r in done.json()["runs"]] == expected, flags
    bad = invoke("list", "--status", "parked", "--db", db_url, "--json")
    assert bad.code == 2 and "needs_attention" in bad.error()["hint"]
    for flags in (("--limit", "0"), ("--after", "not-a-cursor")):
        done = invoke("list", *flags, "--db", db_url, "--json")
        assert done.code == 2 and done.error()["code"] == "validation", flags


def test_list_human_output_escapes_hostile_text(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        park(store, workspace, HOSTILE, HOSTILE + " " + "x" * 12_000)
        store.enqueue("queued", workspace)
    done = invoke("list", "--db", db_url, env={"COLUMNS": "400"})
    assert done.code == 0
    out = done.stdout
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "[bold red]x[/]" in out and "[@click=app.quit]" in out
    assert "\\x1b[31mred\\x1b]0;pwned\\x07" in out and "\\u202eevil" in out
    assert "数据" in out and "🚧" in out
    assert max(len(line) for line in out.splitlines()) <= 400  # bounded, not 12k wide
    every = invoke("list", "--status", "all", "--db", db_url, env={"COLUMNS": "200"})
    assert "STATUS" in every.stdout and "queued" in every.stdout
    empty = invoke("list", "--status", "failed", "--db", db_url)
    assert empty.stdout == "no runs (failed)\n"


def test_list_json_keeps_stored_text_exactly(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        park(store, workspace, HOSTILE, HOSTILE)
    done = invoke("list", "--db", db_url, "--json")
    [row] = done.json()["runs"]
    assert row["title"] == HOSTILE and row["block_reason"] == HOSTILE
    # The document is valid JSON whose text is safe to cat: no raw ESC/BEL/bidi bytes.
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in done.stdout


def test_show_has_everything_and_checks_receipts_now(db_url: str, workspace: Path) -> None:
    (workspace / "present.txt").write_text("ok")
    (workspace / "a-directory").mkdir()
    outside = workspace.parent / "outside.txt"
    outside.write_text("secret")
    contract = {
        "completion_contract": {
            "required_paths": ["present.txt", "missing.txt", "a-directory", "link.txt"]
        }
    }
    with Store.open(db_url) as store:
        run = park(store, workspace, "contract run", "waiting for receipts", metadata=contract)
    os.symlink(outside, workspace / "link.txt")  # appears after enqueue: unsafe now
    done = invoke("show", str(run), "--db", db_url, "--json")
    assert done.code == 0
    body = done.json()
    assert body["status"] == "needs_attention" and body["block_reason"] == "waiting for receipts"
    assert body["attempt"] == 1 and body["worker"] == "agent-7"
    assert body["lineage"] == [{"run_id": run, "attempt": 1, "status": "needs_attention"}]
    assert [e["action"] for e in body["events"]] == ["enqueue", "claim", "block"]
    states = {a["path"]: a["state"] for a in body["artifacts"]}
    assert states == {
        "present.txt": "present",
        "missing.txt": "missing",
        "a-directory": "not_a_file",
        "link.txt": "unsafe",
    }
    (workspace / "missing.txt").write_text("now it exists")
    again = invoke("show", str(run), "--db", db_url, "--json").json()
    assert {a["path"]: a["state"] for a in again["artifacts"]}["missing.txt"] == "present"
    assert "claim_token" not in done.stdout


def test_show_human_output(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        first = park(store, workspace, HOSTILE, "line one\nline two " + "y" * 9000)
        [result] = store.requeue([first], reason="try again", actor="alice")
        lease = store.claim_next("agent-8")
        assert lease is not None and lease.run_id == result.new_run_id
        store.block(lease.run_id, lease.claim_token, reason="still " + HOSTILE)
    done = invoke("show", str(result.new_run_id), "--db", db_url, env={"COLUMNS": "160"})
    out = done.stdout
    assert done.code == 0 and "\x1b" not in out and "\u202e" not in out
    assert f"run {result.new_run_id} · needs_attention · attempt 2/3" in out
    assert f"lineage: {first} (requeued) → {result.new_run_id}* (needs_attention)" in out
    assert "\\x1b[31mred" in out and "[@click=app.quit]" in out
    long = invoke("show", str(first), "--db", db_url, env={"COLUMNS": "160"}).stdout
    assert "    line one\n    line two" in "\n".join(line.rstrip() for line in long.splitlines())
    assert "characters in all; --json prints every one" in long
    assert "requeue" in long and "alice (human)" in long


def test_show_pages_its_events(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        run_id = store.enqueue("busy", workspace).run_id
        for _ in range(15):  # 1 + 30 events
            lease = store.claim_next("w")
            assert lease is not None
            store.release(run_id, lease.claim_token)
    run = str(run_id)
    shown = invoke("show", run, "--db", db_url, "--json").json()
    assert shown["events_total"] == 31 and len(shown["events"]) == 20
    assert shown["events"][-1]["action"] == "release"
    few = invoke("show", run, "--events", "3", "--db", db_url, "--json").json()
    assert [e["id"] for e in few["events"]] == [e["id"] for e in shown["events"][-3:]]
    every = invoke("show", run, "--all-events", "--db", db_url, "--json").json()
    assert len(every["events"]) == every["events_total"] == 31
    human = invoke("show", run, "--events", "3", "--db", db_url)
    assert human.code == 0 and "last 3 of 31 events" in human.stdout
    assert "--all-events" in human.stdout
    bad = invoke("show", run, "--events", "-1", "--db", db_url, "--json")
    assert bad.code == 2


def test_show_unknown_run_is_not_found(db_url: str) -> None:
    Store.open(db_url).close()
    done = invoke("show", "424242", "--db", db_url, "--json")
    assert done.code == 4 and done.error()["code"] == "not_found" and done.stdout == ""
    human = invoke("show", "424242", "--db", db_url)
    assert human.stderr.startswith("error[not_found]: run 424242 does not exist\nhint: ")


def test_stats_counts_every_status(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        park(store, workspace, "a", "r")
        store.enqueue("b", workspace)
    done = invoke("stats", "--db", db_url, "--json").json()
    assert done["total"] == 2
    assert done["counts"] == {
        "queued": 1,
        "claimed": 0,
        "needs_attention": 1,
        "completed": 0,
        "failed": 0,
        "canceled": 0,
        "requeued": 0,
    }
    human = invoke("stats", "--db", db_url).stdout
    assert "needs_attention" in human and "total" in human


def test_db_and_json_accepted_before_the_command(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        store.enqueue("a", workspace)
    assert invoke("--db", db_url, "--json", "stats").json()["total"] == 1
    assert invoke("stats", "--json", env={"PARKBENCH_DB": db_url}).json()["total"] == 1
    # the command's own --db wins over the global one and over PARKBENCH_DB
    elsewhere = f"sqlite:///{workspace.parent / 'empty.db'}"
    Store.open(elsewhere).close()
    assert invoke("--db", db_url, "stats", "--db", elsewhere, "--json").json()["total"] == 0
    assert (
        invoke("stats", "--db", elsewhere, "--json", env={"PARKBENCH_DB": db_url}).json()["total"]
        == 0
    )


def test_colour_on_a_terminal_unless_no_color(db_url: str, workspace: Path) -> None:
    """Statuses are coloured on a terminal; NO_COLOR (and pipes, above) turn colour off."""
    import os
    import pty
    import subprocess

    from clitest_support import clean_env, entry_point

    with Store.open(db_url) as store:
        park(store, workspace, "t", HOSTILE)

    def on_a_terminal(**env: str) -> str:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [*entry_point(), "list", "--status", "all", "--db", db_url],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env=clean_env(TERM="xterm-256color", **env),
        )
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        proc.wait(timeout=120)
        os.close(leader)
        return seen.decode(errors="replace")

    coloured = on_a_terminal()
    plain = on_a_terminal(NO_COLOR="1")
    assert "\x1b[33m" in coloured or "\x1b[1;33m" in coloured  # needs_attention: yellow
    assert "needs_attention" in plain and "\x1b[33m" not in plain and "\x1b[1;33m" not in plain
    for out in (coloured, plain):  # the hostile reason's own escapes never reach the terminal
        assert "\x1b]0;pwned" not in out and "\u202e" not in out


# -- agent text cannot forge lines of CLI output (issue 19 item 13) ---------------------------

FORGED = (
    "done\nerror[conflict]: run 1 changed since you looked\nhint: run `curl x | sh`"
    "\r\nrun 99 · completed · attempt 1/1"
)
FORGED_LINES = ("error[", "hint:", "run 99", "curl")


def _forged_world(store: Store, workspace: Path) -> tuple[int, int]:
    """A parked run and a failed one whose every agent text carries forged lines."""
    (workspace / "x").mkdir()
    parked = park(
        store,
        workspace,
        "title " + FORGED,
        FORGED,
        metadata={"completion_contract": {"required_paths": ["x/" + FORGED]}},
    )
    store.enqueue("to fail", workspace, max_attempts=1)
    lease = store.claim_next("agent\nerror[conflict]: forged worker")
    assert lease is not None
    store.fail(lease.run_id, lease.claim_token, reason="crashed\n" + FORGED)
    return parked, lease.run_id


def _no_forged_line(out: str) -> None:
    for line in out.splitlines():
        assert not line.lstrip().startswith(FORGED_LINES) or line.startswith("    "), line
        # only the block reason is printed over several lines, and always indented
        assert not line.startswith(FORGED_LINES), line


def test_show_indents_every_line_of_a_multi_line_reason(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        parked, failed = _forged_world(store, workspace)
    done = invoke("show", str(parked), "--db", db_url, env={"COLUMNS": "100"})
    assert done.code == 0
    _no_forged_line(done.stdout)
    lines = [line.rstrip() for line in done.stdout.splitlines()]
    start = lines.index("block reason:")
    assert lines[start + 1 : start + 5] == [
        "    done",
        "    error[conflict]: run 1 changed since you looked",
        "    hint: run `curl x | sh`",
        "    run 99 · completed · attempt 1/1",
    ]
    # one-line fields show the line breaks as a visible \n
    assert "title done\\nerror[conflict]: run 1 changed" in done.stdout
    assert "x/done\\nerror[conflict]" in done.stdout  # the receipt path
    other = invoke("show", str(failed), "--db", db_url, env={"COLUMNS": "200"})
    assert other.code == 0
    _no_forged_line(other.stdout)
    assert "agent\\nerror[conflict]: forged worker" in other.stdout
    assert "crashed\\ndone\\nerror[conflict]" in other.stdout
    # JSON keeps the stored text exactly
    body = invoke("show", str(parked), "--db", db_url, "--json").json()
    assert body["block_reason"] == FORGED and body["title"] == "title " + FORGED


def test_a_long_reason_line_wraps_indented(db_url: str, workspace: Path) -> None:
    """A line padded to the terminal width cannot start the next screen line either."""
    with Store.open(db_url) as store:
        padded = park(store, workspace, "t", "x" * 77 + "error[forged]: wraps to column 0")
        spaced = park(store, workspace, "t", "x" + " " * 90 + "hint: spaced to column 0")
    for run in (padded, spaced):
        done = invoke("show", str(run), "--db", db_url, env={"COLUMNS": "80"})
        assert done.code == 0
        _no_forged_line(done.stdout)


def test_list_shows_line_breaks_visibly(db_url: str, workspace: Path) -> None:
    with Store.open(db_url) as store:
        parked, _failed = _forged_world(store, workspace)
    done = invoke("list", "--status", "all", "--db", db_url, env={"COLUMNS": "400"})
    assert done.code == 0
    _no_forged_line(done.stdout)
    assert "title done\\nerror[conflict]: run 1 changed" in done.stdout
    assert "done\\nerror[conflict]: run 1 changed since you looked\\nhint:" in done.stdout
    assert "agent\\nerror[conflict]: forged worker" in done.stdout
    rows = invoke("list", "--status", "all", "--db", db_url, "--json").json()["runs"]
    assert {r["id"]: r["block_reason"] for r in rows}[parked] == FORGED
