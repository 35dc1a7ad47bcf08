"""The kill-site probe must be able to tell: a process inside a write is seen as such, the
same process between transactions is not (faults.killsite, used by the crash lab)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from faults import killsite
from parkbench.core.store import Store

# A victim stand-in: opens the store as the CLI does, then runs a write transaction through
# StoreBase._write that waits on stdin in its middle, so the probe can look at it there.
HOLDER = """
import sys
from parkbench.core.store import Store
store = Store.open(sys.argv[1])
def body(conn):
    conn.exec_driver_sql("SELECT count(*) FROM runs")  # PostgreSQL begins on a statement
    print("inside", flush=True)
    sys.stdin.readline()
store._write(body)
print("committed", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("when", ["inside", "after"])
def test_the_probe_sees_a_write_in_flight_and_only_then(
    db_url: str, tmp_path: Path, when: str
) -> None:
    Store.open(db_url).close()  # schema first, so the holder's open writes nothing
    name = f"probe-{when}"
    url = killsite.application_name(db_url, name)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    site = killsite.KillSite(db_url)
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "inside"
        if when == "after":
            holder.stdin.write("\n")
            holder.stdin.flush()
            assert holder.stdout.readline().strip() == "committed"
            assert site.where(holder.pid, name) == killsite.BETWEEN
        else:
            assert site.where(holder.pid, name) in killsite.INTERRUPTED
        assert site.stop_read_kill(holder.pid, name) is not None
        assert holder.wait(30) == -9
    finally:
        holder.kill()
        holder.wait()
        site.close()
