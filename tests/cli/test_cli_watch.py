"""`parkbench watch` as a real process on a real database (SQLite and PostgreSQL): receipts
written on disk stream out as JSON lines, --auto-requeue requeues exactly once (even with two
watchers racing), human lines show hostile paths literally, signals end it with status 0."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from clitest_support import clean_env, entry_point, invoke, run

from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store

#: Generous for a loaded CI machine (process start, imports, the first check); every wait
#: returns as soon as its line arrives.
TIMEOUT_S = 30.0
EXIT_S = 20.0

Line = dict[str, Any]


def contract(paths: Sequence[str], policy: str) -> dict[str, object]:
    return {"completion_contract": {"required_paths": list(paths), "missing_policy": policy}}


def park_missing(store: Store, workspace: Path, paths: Sequence[str], title: str = "t") -> int:
    """Parked by completion finding receipts missing: what --auto-requeue acts on."""
    store.enqueue(title, workspace, metadata=contract(paths, "park"))
    claim = store.claim_next("agent")
    assert claim is not None
    done = store.complete(claim.run_id, claim.claim_token)
    assert done.status is RunStatus.NEEDS_ATTENTION, done
    return claim.run_id


def park_blocked(store: Store, workspace: Path, paths: Sequence[str], title: str = "t") -> int:
    """Parked by a worker's block: watched, never requeued automatically."""
    store.enqueue(title, workspace, metadata=contract(paths, "reject"))
    claim = store.claim_next("agent")
    assert claim is not None
    store.block(claim.run_id, claim.claim_token, reason="need a human")
    return claim.run_id


def write(path: Path, text: str = "ok") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)  # written and closed: what the watcher reacts to


class Watch:
    """One `parkbench watch` process; tests await its stdout lines with a timeout."""

    def __init__(self, proc: asyncio.subprocess.Process, json_mode: bool) -> None:
        self.proc = proc
        self.json_mode = json_mode
        self.lines: list[Any] = []  # JSON objects, or text lines without --json

    async def next_line(self) -> Line | str:
        assert self.proc.stdout is not None
        try:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), TIMEOUT_S)
        except TimeoutError:
            pytest.fail(f"no line from `parkbench watch` in {TIMEOUT_S} s; had {self.lines}")
        if not raw:
            stderr = await self._stderr()
            pytest.fail(f"`parkbench watch` ended (status {self.proc.returncode}): {stderr}")
        text = raw.decode()
        assert text.endswith("\n")
        line: Line | str = json.loads(text) if self.json_mode else text.rstrip("\n")
        self.lines.append(line)
        return line

    async def expect(self, match: Callable[[Line], bool]) -> Line:
        """The next line that matches (lines before it are kept in ``lines``)."""
        while True:
            line = await self.next_line()
            assert isinstance(line, dict)
            if match(line):
                return line

    async def stop(self, sig: int = signal.SIGINT) -> tuple[int, list[Line | str], str]:
        """Send ``sig``; the exit status, the lines written after it, and all of stderr."""
        self.proc.send_signal(sig)
        assert self.proc.stdout is not None
        rest, stderr = await asyncio.wait_for(
            asyncio.gather(self.proc.stdout.read(), self._stderr()), EXIT_S
        )
        code = await asyncio.wait_for(self.proc.wait(), EXIT_S)
        lines: list[Line | str] = [
            json.loads(t) if self.json_mode else t for t in rest.decode().splitlines()
        ]
        self.lines.extend(lines)
        return code, lines, stderr

    async def _stderr(self) -> str:
        assert self.proc.stderr is not None
        return (await self.proc.stderr.read()).decode()


@asynccontextmanager
async def watching(db_url: str, *options: str, json_mode: bool = True) -> AsyncIterator[Watch]:
    """Start `parkbench watch`, wait for its first line (it is watching from then on)."""
    args = [*entry_point(), "watch", "--db", db_url, *(["--json"] if json_mode else []), *options]
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
    )
    watch = Watch(proc, json_mode)
    try:
        await watch.next_line()
        yield watch
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def kind(name: str, **fields: object) -> Callable[[Line], bool]:
    def match(line: Line) -> bool:
        return line.get("kind") == name and all(line.get(k) == v for k, v in fields.items())

    return match


async def test_receipts_stream_as_json_lines_and_ctrl_c_exits_0(store, db_url, workspace):
    run_id = park_missing(store, workspace, ["out/a.txt", "out/b.txt"])
    root = str(workspace.resolve())
    async with watching(db_url) as watch:
        assert watch.lines == [
            {"kind": "watching", "runs": 1, "workspaces": 1, "ready": 0, "auto_requeue": False}
        ]
        write(workspace / "out" / "a.txt")
        assert await watch.next_line() == {
            "kind": "receipt",
            "run_id": run_id,
            "workspace": root,
            "path": "out/a.txt",
            "old_state": "missing",
            "new_state": "present",
            "detail": None,
        }
        write(workspace / "out" / "b.txt")
        await watch.expect(kind("receipt", path="out/b.txt", new_state="present"))
        await watch.expect(kind("ready", run_id=run_id, ready=True))
        (workspace / "out" / "b.txt").unlink()
        (workspace / "out" / "b.txt").mkdir()  # replaced by a directory: not a receipt
        await watch.expect(kind("receipt", path="out/b.txt", new_state="not_a_file"))
        await watch.expect(kind("ready", run_id=run_id, ready=False))
        code, _, stderr = await watch.stop(signal.SIGINT)
    assert (code, stderr) == (0, "")
    assert not any(line["kind"] == "auto_requeue" for line in watch.lines)
    assert store.get_run(run_id).run.status is RunStatus.NEEDS_ATTENTION  # off by default


async def test_auto_requeue_happens_once_with_two_watchers_and_repeated_events(
    store, db_url, workspace
):
    target = park_missing(store, workspace, ["r.txt"], title="target")
    sentinel = park_blocked(store, workspace, ["s.txt"], title="sentinel")
    async with (
        watching(db_url, "--auto-requeue") as first,
        watching(db_url, "--auto-requeue") as second,
    ):
        watchers = (first, second)
        for watch in watchers:
            assert watch.lines[0] == {
                "kind": "watching",
                "runs": 2,
                "workspaces": 1,
                "ready": 0,
                "auto_requeue": True,
            }
        write(workspace / "r.txt")
        for watch in watchers:  # each requeued it, lost the race, or saw it move: dropped
            await watch.expect(kind("dropped", run_id=target))
        for text in ("again", "and again"):  # more events for the same receipt
            write(workspace / "r.txt", text)
        (workspace / "r.txt").unlink()
        write(workspace / "r.txt", "recreated")
        write(workspace / "s.txt")  # after them in each watcher's event order
        for watch in watchers:
            await watch.expect(kind("receipt", run_id=sentinel, new_state="present"))
        for watch in watchers:
            code, _, stderr = await watch.stop(signal.SIGTERM)
            assert (code, stderr) == (0, "")

    attempts = [line for w in watchers for line in w.lines if line["kind"] == "auto_requeue"]
    succeeded = [a for a in attempts if a["ok"]]
    assert len(succeeded) == 1 and succeeded[0]["run_id"] == target, attempts
    assert all(a["error"]["code"] == "conflict" for a in attempts if not a["ok"]), attempts

    shown = run("show", str(target), "--json", "--db", db_url).json()
    assert isinstance(shown, dict) and shown["status"] == "requeued"
    requeues = [e for e in shown["events"] if e["action"] == "requeue"]
    assert len(requeues) == 1, shown["events"]
    assert (requeues[0]["actor"], requeues[0]["actor_kind"]) == ("receipt-watcher", "system")
    assert "requeued automatically by the receipt watcher" in requeues[0]["reason"]
    assert (
        run("show", str(succeeded[0]["new_run_id"]), "--json", "--db", db_url).json()["status"]
        == "queued"
    )
    people = run("show", str(target), "--db", db_url)
    assert people.code == 0 and "receipt-watcher (system)" in people.stdout
    assert store.get_run(sentinel).run.status is RunStatus.NEEDS_ATTENTION  # blocked: left alone


async def test_human_lines_show_hostile_paths_literally(tmp_path, workspace):
    db_url = f"sqlite:///{tmp_path / 'pb.db'}"
    hostile = "b[bold red]x[/]\x1b]0;pwned\x07\u202e.txt"
    with Store.open(db_url) as store:
        run_id = park_missing(store, workspace, [hostile])
    shown = "b[bold red]x[/]\\x1b]0;pwned\\x07\\u202e.txt"
    root = workspace.resolve()
    async with watching(db_url, "--initial", json_mode=False) as watch:
        assert "watching 1 parked run(s) in 1 workspace(s); 0 ready to requeue" in watch.lines[0]
        initial = await watch.next_line()  # --initial: each run's receipts as it starts
        assert str(initial).endswith(f"run {run_id}  watched: 0/1 receipt(s) present  in {root}")
        write(workspace / hostile)
        line = await watch.next_line()
        assert str(line).endswith(f"run {run_id}  {shown}: missing → present  in {root}")
        ready = await watch.next_line()
        assert str(ready).endswith(f"run {run_id}  ready to requeue: every receipt is present")
        code, _, stderr = await watch.stop(signal.SIGINT)
    assert (code, stderr) == (0, "")
    text = "\n".join(str(line) for line in watch.lines)
    assert not any(c in text for c in "\x1b\x07\u202e")  # nothing raw reaches the terminal


def test_errors_use_the_envelope_and_codes(tmp_path):
    missing_dir = run("watch", "--json", "--db", f"sqlite:///{tmp_path / 'no' / 'pb.db'}")
    assert missing_dir.code == 4 and missing_dir.stdout == ""
    assert missing_dir.error()["code"] == "not_found"
    unreachable = run("watch", "--json", "--db", "postgresql+psycopg://u@127.0.0.1:1/x")
    assert unreachable.code == 5 and unreachable.error()["code"] == "database"
    usage = run("watch", "--bogus")
    assert usage.code == 2 and usage.stderr.startswith("error[validation]: No such option")
    assert "watch --help" in usage.stderr


def test_watch_is_listed_and_documented():
    helped = invoke("--help")
    assert helped.code == 0 and "watch" in helped.stdout
    own = invoke("watch", "--help")
    assert own.code == 0
    for option in ("--json", "--auto-requeue", "--initial", "--db"):
        assert option in own.stdout
