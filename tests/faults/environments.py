"""Helpers for bad-environment tests: populated databases, damage, mounts, other users, locks."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from parkbench.core.errors import ParkbenchError
from parkbench.core.records import Claim
from parkbench.core.store import Store

RECEIPT = "receipts/summary.md"


def populate(store: Store, workspace: Path) -> list[Claim]:
    """A small realistic database: queued, claimed (with live leases), parked and done runs.

    Returns the claims still held, so tests can attempt worker writes.
    """
    (workspace / "receipts").mkdir(parents=True, exist_ok=True)
    (workspace / RECEIPT).write_text("done\n")
    contract = {"completion_contract": {"required_paths": [RECEIPT]}}
    for i in range(8):
        store.enqueue(f"task {i}", workspace, metadata=contract if i % 2 else None, actor="seed")
    held = [c for c in (store.claim_next("w1", lease_s=3600) for _ in range(4)) if c]
    store.block(held[0].run_id, held[0].claim_token, reason="needs a credential")
    store.complete(held[1].run_id, held[1].claim_token)
    return held[2:]


def assert_clear_error(error: ParkbenchError, code: str = "database", *mentions: str) -> None:
    """The contract for every failure: stable code, one-line message, a hint to act on."""
    assert error.code == code, f"{error.code}: {error.message}"
    assert error.message and "\n" not in error.message
    assert error.hint and "\n" not in error.hint
    assert "Traceback" not in error.message
    lowered = error.message.lower()
    for fragment in mentions:
        assert fragment.lower() in lowered, f"{fragment!r} not in {error.message!r}"


def sqlite_file(url: str) -> Path:
    return Path(sa.engine.make_url(url).database or "")


def checkpoint(path: Path) -> None:
    """Move every committed page into the main file and empty the WAL, as a clean close does."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def table_rootpage(path: Path, table: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()[0]
    finally:
        conn.close()


# -- another writer ----------------------------------------------------------------------------

_HOLD_WRITE_LOCK = (
    "import sqlite3, sys\n"
    "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "conn.execute('BEGIN IMMEDIATE')\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


@contextmanager
def sqlite_write_lock(path: Path) -> Iterator[None]:
    """Another process holds the database's write lock (BEGIN IMMEDIATE) until exit."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_WRITE_LOCK, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.communicate("", timeout=30)


# -- mounts (root only) ------------------------------------------------------------------------


def _run(*argv: str) -> bool:
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[bool]:
    """A size-limited tmpfs at ``path``; yields False where mounting is not permitted."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and _run(
        "mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)
    )
    try:
        yield mounted
    finally:
        if mounted:
            _run("umount", "-l", str(path))


@contextmanager
def read_only_view(source: Path, path: Path) -> Iterator[bool]:
    """``source`` bind-mounted read-only at ``path`` (EROFS even for root); False if refused."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and _run("mount", "--bind", str(source), str(path))
    if mounted and not _run("mount", "-o", "remount,ro,bind", str(path)):
        _run("umount", "-l", str(path))
        mounted = False
    try:
        yield mounted
    finally:
        if mounted:
            _run("umount", "-l", str(path))


def fill_disk(directory: Path) -> Path:
    """Write a filler file until the file system is full; remove it to free the space."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


# -- another user ------------------------------------------------------------------------------


class Unprivileged:
    """Runs Python snippets as a user that permission bits apply to.

    As root (permission bits do not bite root) that is ``nobody`` through setpriv or
    runuser; as anyone else it is simply the current user. ``skip_reason`` says why it
    cannot run here, or is None.
    """

    def __init__(self) -> None:
        self.prefix: list[str] = []
        self.uid = os.geteuid()
        self.skip_reason: str | None = None
        if self.uid != 0:
            return
        try:
            user = pwd.getpwnam("nobody")
        except KeyError:
            self.skip_reason = "running as root and no unprivileged user (nobody) exists"
            return
        self.uid = user.pw_uid
        if shutil.which("setpriv"):
            self.prefix = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                           "--clear-groups"]  # fmt: skip
        elif shutil.which("runuser"):
            self.prefix = ["runuser", "-u", "nobody", "--"]
        else:
            self.skip_reason = "running as root with neither setpriv nor runuser to drop it"
            return
        probe = self.run("import parkbench.core.store; print('ok')")
        if probe.returncode != 0 or "ok" not in probe.stdout:
            self.skip_reason = f"user nobody cannot import the project: {probe.stderr[-300:]}"

    def run(self, code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        env["HOME"] = tempfile.gettempdir()
        return subprocess.run(
            [*self.prefix, sys.executable, "-c", code, *args],
            capture_output=True, text=True, timeout=timeout, env=env, cwd=tempfile.gettempdir(),
        )  # fmt: skip

    def json(self, code: str, *args: str) -> dict[str, object]:
        done = self.run(code, *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])


def shared_dir(prefix: str) -> Path:
    """A scratch directory the unprivileged user can reach (tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


#: Runs as the other user: open, list, show one run, try one write; report JSON.
PROBE = r"""
import json, sys
from parkbench.core.errors import ParkbenchError
from parkbench.core.store import Store
url, read_only, run_id = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
out = {}
def error(e):
    return {"code": e.code, "message": e.message, "hint": e.hint}
try:
    store = Store.open(url, read_only=read_only)
except ParkbenchError as e:
    out["open"] = error(e)
else:
    out["open"] = "ok"
    try:
        out["listed"] = [r.id for r in store.list_runs().rows]
        detail = store.get_run(run_id)
        out["status"] = detail.run.status.value
        out["artifacts"] = [a.to_dict() for a in detail.artifacts]
    except ParkbenchError as e:
        out["read"] = error(e)
    try:
        [result] = store.force_fail([run_id], reason="probe")
        out["write"] = result.to_dict()
    except ParkbenchError as e:
        out["write"] = error(e)
print(json.dumps(out))
"""
