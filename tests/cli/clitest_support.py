"""Helpers for the command-line tests: run `parkbench` for real, or in-process for breadth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from parkbench.tui.cli import app

#: Variables a developer's shell might carry that would change what a test sees.
SCRUBBED = ("PARKBENCH_DB", "PARKBENCH_TOKEN", "PARKBENCH_DEBUG", "COLUMNS", "NO_COLOR")
#: A developer's own config file must not leak into the tests: point at one that is absent.
NO_CONFIG = {"PARKBENCH_CONFIG": "/nonexistent/parkbench-test-config.toml"}


def entry_point() -> list[str]:
    """The installed console script next to this interpreter, else `python -m parkbench.tui.cli`."""
    script = Path(sys.executable).with_name("parkbench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "parkbench.tui.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(NO_CONFIG)
    env.update(extra)
    return env


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)

    def error(self) -> dict[str, object]:
        """The one error object on stderr (with --json): {"code", "message", "hint"}."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, f"expected one stderr line, got {self.stderr!r}"
        body = json.loads(lines[0])
        assert set(body) == {"error"}, body
        error = body["error"]
        assert {"code", "message", "hint"} <= set(error), error
        assert error["message"] and error["hint"]
        return error


def run(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> Result:
    """Run the real `parkbench` in a subprocess."""
    done = subprocess.run(
        [*entry_point(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env or clean_env(),
        timeout=timeout,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def past_clock(days: float = 1.0):
    """A store clock `days` behind the real one: leases it grants are already over."""
    import time

    offset = int(days * 86_400_000)
    return lambda: time.time_ns() // 1_000_000 - offset


_runner = CliRunner()


def invoke(
    *args: str, stdin: str | None = None, env: dict[str, str | None] | None = None
) -> Result:
    """Run the same command tree in-process through typer's runner (fast, for breadth)."""
    scrub: dict[str, str | None] = dict.fromkeys(SCRUBBED)
    scrub.update(NO_CONFIG)
    scrub.update(env or {})
    done = _runner.invoke(app, list(args), input=stdin, env=scrub, catch_exceptions=False)
    return Result(done.exit_code, done.stdout, done.stderr)
