"""Where did a SIGKILL land? Asked of the database and the OS, never of the victim.

The crash lab must kill the one production write path as the CLI, the TUI and the Python
API run it, so nothing here hooks into the victim (no SQLAlchemy event listener, no
wrapper, no tracing): the victim is stopped with SIGSTOP, the site is read from outside,
then it is killed with SIGKILL. Both readings are facts about the real transaction:

- SQLite (WAL): a write transaction holds the WAL write lock, byte 120 of the ``-shm``
  file, from its ``BEGIN IMMEDIATE`` until its COMMIT or ROLLBACK has finished. Only
  :meth:`StoreBase._write` opens such transactions (the ``parkbench_write`` option turns
  BEGIN into BEGIN IMMEDIATE in :mod:`parkbench.core.db.engine`), and its POSIX lock names
  the process that holds it: ``F_GETLK`` tells whether the stopped victim is mid-write.
- PostgreSQL: ``pg_stat_activity`` says whether the victim's backend (found by its
  ``application_name``, set in the URL) was running a statement or sat inside a
  transaction. The parent reads it on a fresh connection per probe, so no connection is
  open when the lab forks.
"""

from __future__ import annotations

import fcntl
import os
import signal
import struct
from pathlib import Path

import sqlalchemy as sa

#: SQLite's unix VFS: shm locks start at byte (22 + 8) * 4; the WAL write lock is the first.
WAL_WRITE_LOCK_BYTE = 120
# struct flock on Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid
_FLOCK = "hhqqi"
_FLOCK_SIZE = 32

WRITING = "holding the write lock"  # SQLite: between BEGIN IMMEDIATE and the end of COMMIT
STATEMENT = "statement running on the server"  # PostgreSQL: state = active
IN_TRANSACTION = "idle inside a transaction"  # PostgreSQL: idle in transaction
BETWEEN = "between transactions"
#: The sites that interrupt a write: the transaction (or statement) was in flight.
INTERRUPTED = (WRITING, STATEMENT, IN_TRANSACTION)


def sqlite_write_lock_holder(database: Path) -> int | None:
    """The pid holding ``database``'s WAL write lock, or None when no one writes.

    Call it from a process that has no connection to the file: POSIX locks a process holds
    itself never conflict with its own probe.
    """
    try:
        fd = os.open(f"{database}-shm", os.O_RDONLY)
    except FileNotFoundError:  # no connection open at all: nobody is writing
        return None
    try:
        probe = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, WAL_WRITE_LOCK_BYTE, 1, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, probe.ljust(_FLOCK_SIZE, b"\0"))
    finally:
        os.close(fd)
    kind, _whence, _start, _length, pid = struct.unpack(_FLOCK, answer[: struct.calcsize(_FLOCK)])
    return None if kind == fcntl.F_UNLCK else pid


class KillSite:
    """Reads where a stopped process is in its database work; see the module docstring."""

    def __init__(self, url: str, *, keep_connection: bool = False) -> None:
        """``keep_connection`` pools the PostgreSQL probe's connection (fast polling); leave
        it off in a process that forks, so no connection is open at a fork."""
        parsed = sa.engine.make_url(url)
        self.sqlite_file: Path | None = None
        self._pg: sa.Engine | None = None
        if parsed.get_backend_name() == "sqlite":
            self.sqlite_file = Path(parsed.database or "")
        else:
            pool = {} if keep_connection else {"poolclass": sa.pool.NullPool}
            self._pg = sa.create_engine(url, **pool)

    def where(self, pid: int, application_name: str | None = None) -> str:
        if self.sqlite_file is not None:
            return WRITING if sqlite_write_lock_holder(self.sqlite_file) == pid else BETWEEN
        assert self._pg is not None and application_name
        with self._pg.connect() as conn:
            states = (
                conn.execute(
                    sa.text("SELECT state FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": application_name},
                )
                .scalars()
                .all()
            )
        if "active" in states:
            return STATEMENT
        if any((s or "").startswith("idle in transaction") for s in states):
            return IN_TRANSACTION
        return BETWEEN

    def stop_read_kill(self, pid: int, application_name: str | None = None) -> str | None:
        """SIGSTOP ``pid``, read its site, SIGKILL it. None if it had already exited."""
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            return None
        try:
            return self.where(pid, application_name)
        finally:
            os.kill(pid, signal.SIGKILL)

    def kill_if_inside(self, pid: int, application_name: str | None = None) -> str | None:
        """Kill ``pid`` if it is inside a write at the instant it is stopped; else let it go
        on (SIGCONT) and return None. Call it after :meth:`where` said it was inside."""
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            return None
        where = self.where(pid, application_name)
        if where in INTERRUPTED:
            os.kill(pid, signal.SIGKILL)
            return where
        os.kill(pid, signal.SIGCONT)
        return None

    def close(self) -> None:
        if self._pg is not None:
            self._pg.dispose()


def application_name(url: str, name: str) -> str:
    """``url`` with its PostgreSQL ``application_name`` set to ``name`` (SQLite: unchanged)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return url
    return parsed.update_query_dict({"application_name": name}).render_as_string(False)
