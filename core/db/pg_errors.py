"""PostgreSQL failures as the stable ``database`` error: one message, ``kind`` and hint each.

libpq reports connection failures as text (no SQLSTATE), so they are recognised by their
wording. Kinds: ``credentials``, ``missing_database``, ``server_full``, ``contention``,
``config``, ``unreachable``, ``connection_lost``. :func:`parkbench.core.db.engine.translate`
asks here first for psycopg errors and falls back to its generic wording for anything not
recognised.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError

from parkbench.core.errors import DatabaseError

_PG_CREDENTIALS = (
    "password authentication failed",
    "no password supplied",
    "authentication failed",
    "no pg_hba.conf entry",
)
_PG_UNREACHABLE = (
    "connection refused",
    "timeout expired",
    "could not translate host name",
    "failed to resolve host",
    "no route to host",
    "network is unreachable",
    "could not connect",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
)
_PG_LOST = (
    "terminating connection",
    "server closed the connection unexpectedly",
    "consuming input failed",
    "connection is lost",
    "the connection is closed",
)


def _server_label(url: str) -> str:
    """``user@host:port/db`` for messages: never the password, never the options."""
    try:
        parsed = sa.engine.make_url(url)
    except (ArgumentError, ValueError):
        return "<malformed URL>"
    host = parsed.host or str(parsed.query.get("host") or "localhost")
    user = f"{parsed.username}@" if parsed.username else ""
    return f"{user}{host}:{parsed.port or 5432}/{parsed.database or ''}"


def _pg_cause(message: str) -> str:
    """The innermost reason of a libpq message, e.g. ``Connection refused``."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    cause = first.rsplit("failed: ", 1)[-1]
    return cause.replace("FATAL:", "").strip() or first


def postgres_problem(message: str, url: str) -> DatabaseError | None:
    text = message.lower()
    where = _server_label(url)
    cause = _pg_cause(message)
    role = re.search(r'role "([^"]*)" does not exist', message)
    if role or any(sign in text for sign in _PG_CREDENTIALS):
        return DatabaseError(
            f"the PostgreSQL server refused the credentials for {where}: {cause}",
            hint="check the user name and password in --db / PARKBENCH_DB "
            "(and the server's pg_hba.conf)",
            kind="credentials",
        )
    database = re.search(r'database "([^"]*)" does not exist', message)
    if database:
        name = database.group(1)
        return DatabaseError(
            f"database {name!r} does not exist on the PostgreSQL server ({where})",
            hint=f"create it with `createdb {name}` (Parkbench creates its tables on first "
            "use), or fix the database name in --db / PARKBENCH_DB",
            kind="missing_database",
        )
    if "too many clients" in text or "remaining connection slots" in text:
        return DatabaseError(
            f"the PostgreSQL server at {where} has no free connection slots",
            hint="close idle clients or raise max_connections, then retry",
            kind="server_full",
        )
    if "deadlock detected" in text or "could not serialize" in text:
        return DatabaseError(
            f"PostgreSQL aborted the change to resolve a conflict with a concurrent one: {cause}",
            hint="nothing was written; run the command again",
            kind="contention",
        )
    if "unrecognized configuration parameter" in text or (
        "invalid" in text and ("value" in text or "option" in text)
    ):
        return DatabaseError(
            f"the database URL has an invalid option: {cause}",
            hint="fix the query options in --db / PARKBENCH_DB (e.g. sslmode=require)",
            kind="config",
        )
    if text.startswith("connection failed") or any(s in text for s in _PG_UNREACHABLE):
        return DatabaseError(
            f"cannot reach the PostgreSQL server at {where}: {cause}",
            hint="check that PostgreSQL is running and accepts TCP connections there, and "
            "that --db / PARKBENCH_DB names the right host and port",
            kind="unreachable",
        )
    if any(sign in text for sign in _PG_LOST):
        return DatabaseError(
            f"lost the connection to the PostgreSQL server at {where}: {cause}",
            hint="the server restarted or ended the session; check the run with "
            "`parkbench show RUN`, then retry",
            kind="connection_lost",
        )
    return None
