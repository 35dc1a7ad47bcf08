"""SIGKILL real ``parkbench lease claim`` processes: the path every CLI worker takes.

Each victim is the installed console script (``<venv>/bin/parkbench``, entry point
``parkbench.tui.cli:main``) started as a new process, exactly as a shell user or a CI job
runs it; nothing is imported into it, patched or listened to. Half the victims are killed
at a random instant of their life (import, argument parsing, opening the store, the claim,
the JSON output); the other half the moment :mod:`faults.killsite` sees them inside their
write (SQLite: holding the WAL write lock; PostgreSQL: a statement running on their
backend). Every kill is stop, read the site, kill, so each reported site is a fact about
the real process at the instant it died. Before each kill the victim's ``/proc`` command
line is recorded: the caller asserts it was the real entry point.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from faults import killsite
from faults.crashlab import KillReport

#: The console script pip installed next to this interpreter (pyproject [project.scripts]).
PARKBENCH = Path(sys.executable).parent / "parkbench"


def command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


def cli_kill_loop(
    url: str, *, kills: int, parallel: int = 3, seed: int = 0, deadline_s: float = 300.0
) -> tuple[KillReport, set[tuple[str, ...]]]:
    """Run ``parkbench lease claim`` processes, ``parallel`` at a time, until ``kills`` of
    them were killed. Returns the report and the distinct command lines (script and
    arguments, without the interpreter) of the killed processes.
    """
    if not PARKBENCH.is_file():
        raise FileNotFoundError(f"{PARKBENCH}: install the project (pip install -e .)")
    rng = random.Random(seed)
    site = killsite.KillSite(url, keep_connection=True)
    report = KillReport()
    killed_commands: set[tuple[str, ...]] = set()
    lifetime_s = 1.0  # refined from the victims that finish
    live: dict[str, Victim] = {}
    began = time.monotonic()
    try:
        while report.kills < kills:
            if time.monotonic() - began > deadline_s:
                raise TimeoutError(f"only {report.kills} CLI kills in {deadline_s:.0f} s")
            while len(live) < parallel:
                name = f"cli-{report.started}"
                at = time.monotonic() + rng.uniform(0.0, lifetime_s) if rng.random() < 0.5 else None
                live[name] = Victim(name, _start(url, name), time.monotonic(), at)
                report.started += 1
            for victim in list(live.values()):
                where = None
                if victim.proc.poll() is None:
                    if victim.kill_at is not None:
                        if time.monotonic() < victim.kill_at:
                            continue
                        killed_commands.add(tuple(command_line(victim.proc.pid)[1:]))
                        where = site.stop_read_kill(victim.proc.pid, victim.name)
                    else:
                        if site.where(victim.proc.pid, victim.name) not in killsite.INTERRUPTED:
                            continue
                        cmdline = tuple(command_line(victim.proc.pid)[1:])
                        where = site.kill_if_inside(victim.proc.pid, victim.name)
                        if where is None:
                            continue  # it left its write before it stopped: watch on
                        killed_commands.add(cmdline)
                del live[victim.name]
                _, err = victim.proc.communicate()
                if where is not None and victim.proc.returncode == -9:
                    report.record(where, "claim (CLI)")
                    report.ops_before_kill.append(0)
                elif victim.proc.returncode == 0:
                    lifetime_s = 0.8 * lifetime_s + 0.2 * (time.monotonic() - victim.started)
                else:
                    report.unexpected_exits.append(
                        f"{victim.name} exited with {victim.proc.returncode}: "
                        f"{err.decode(errors='replace')[-400:]}"
                    )
            if all(v.kill_at is not None for v in live.values()):
                time.sleep(0.002)  # nobody to watch closely: no need to spin
    finally:
        for victim in live.values():
            victim.proc.kill()
            victim.proc.communicate()
        site.close()
        report.seconds = time.monotonic() - began
    return report, killed_commands


@dataclass
class Victim:
    name: str
    proc: subprocess.Popen[bytes]
    started: float
    kill_at: float | None  # None: killed when seen inside its write


def _start(url: str, name: str) -> subprocess.Popen[bytes]:
    argv = [str(PARKBENCH), "lease", "claim", "--worker", name, "--json"]
    argv += ["--db", killsite.application_name(url, name)]
    return subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
