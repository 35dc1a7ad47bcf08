"""`e` in the viewer, for real: the app on a pseudo-terminal suspends, runs $PAGER (a
script that writes a marker file) on the file, and comes back to the same screen.

The Pilot tests run on Textual's headless driver, which cannot suspend (they check the
notification said instead); this one runs `parkbench` as a user would.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from tuitest_support import park

from parkbench.core.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from clitest_support import clean_env, entry_point

DEADLINE_S = 120


class Terminal:
    """A child process on a pty: what it wrote so far, and keys to send it."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.proc = subprocess.Popen(
            argv, stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True
        )
        os.close(follower)
        self.seen = b""

    def read_until(self, done, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + DEADLINE_S
        while not done():
            assert time.monotonic() < deadline, f"waited for {what}; saw {self.seen[-2000:]!r}"
            ready, _, _ = select.select([self.leader], [], [], 0.2)
            if ready:
                try:
                    self.seen += os.read(self.leader, 65536)
                except OSError:
                    return

    def wait_for(self, text: str) -> None:
        start = len(self.seen)
        self.read_until(lambda: text.encode() in self.seen[start:], repr(text))

    def send(self, keys: str) -> None:
        os.write(self.leader, keys.encode())

    def close(self, *, failed: bool) -> int:
        """Wait for the child to end (kill it when the test failed half-way)."""
        if failed:
            self.proc.kill()
        try:
            # Keep reading: a child whose terminal output is not read blocks on its writes.
            self.read_until(lambda: self.proc.poll() is not None, "the app to exit")
            return self.proc.wait(timeout=DEADLINE_S)
        finally:
            os.close(self.leader)


def test_e_suspends_the_app_runs_the_pager_and_comes_back(
    store: Store, db_url: str, workspace: Path, tmp_path: Path
) -> None:
    (workspace / "out").mkdir()
    receipt = workspace / "out" / "report.txt"
    receipt.write_text("the agent's report\n")
    park(store, workspace, "Write the report", "check it", required=["out/report.txt"])
    marker = tmp_path / "pager-ran"
    pager = tmp_path / "fake-pager"
    pager.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{marker}"\n')
    pager.chmod(0o755)
    env = clean_env(
        PAGER=f"{pager} --from-parkbench",
        EDITOR="/nonexistent/editor",  # $PAGER wins
        TERM="xterm-256color",
        PARKBENCH_KEYMAP=str(tmp_path / "no-keymap.toml"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        TEXTUAL_ANIMATIONS="none",
    )
    terminal = Terminal([*entry_point(), "--db", db_url], env)
    failed = True
    try:
        terminal.wait_for("Write the report")
        terminal.send("v")
        terminal.wait_for("View")
        terminal.send("\r")  # the first choice: the receipt
        terminal.wait_for("out/report.txt · text")
        terminal.send("e")
        terminal.read_until(marker.exists, "the pager's marker")
        terminal.wait_for("out/report.txt · text")  # back on the viewer, redrawn
        lines = marker.read_text().splitlines()
        assert lines == ["--from-parkbench", os.path.realpath(receipt)]
        terminal.send("\x1b")
        terminal.wait_for("Write the report")
        terminal.send("q")
        failed = False
    finally:
        code = terminal.close(failed=failed)
    assert code == 0
