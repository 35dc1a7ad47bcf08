"""Schema versions: create on first use, upgrade older databases, refuse newer ones.

The fast path (the common case for every short-lived CLI process) is one SELECT of the
``alembic_version`` row; Alembic itself is imported only when there is work to do.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from parkbench.core.db.engine import HEAD_REVISION, enable_wal, redact_url
from parkbench.core.errors import DatabaseError
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).with_name("alembic")


def current_revision(engine: Engine) -> str | None:
    """The revision stamped in the database, or None for an empty database."""
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        if "alembic_version" not in names:
            if names & {"runs", "tasks", "events"}:
                raise DatabaseError(
                    f"database {redact_url(str(engine.url))} has Parkbench-like tables "
                    "but no schema version",
                    hint="point --db at a fresh file, or restore the database from a backup",
                )
            if names:
                raise DatabaseError(
                    f"database {redact_url(str(engine.url))} is not a Parkbench database",
                    hint="point --db at a new file or an empty database",
                )
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _alembic_config(connection: sa.Connection):  # -> alembic.config.Config
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), revision)


def ensure_schema(engine: Engine, *, create: bool = True) -> str:
    """Bring the database to :data:`HEAD_REVISION`; refuse one newer than this code."""
    revision = current_revision(engine)
    if revision == HEAD_REVISION:
        enable_wal(engine)
        return revision
    if revision is not None and _is_newer(revision):
        raise DatabaseError(
            f"database schema is at revision {revision}, newer than this Parkbench knows "
            f"({HEAD_REVISION}); it was left untouched",
            hint="upgrade Parkbench (pip install -U parkbench) before using this database",
            database_revision=revision,
            code_revision=HEAD_REVISION,
        )
    if revision is None and not create:
        raise DatabaseError(
            f"database {redact_url(str(engine.url))} has no Parkbench schema",
            hint="check --db / PARKBENCH_DB with `parkbench db path`; if this is the "
            "database to use, create the schema with `parkbench db upgrade`",
        )
    # Only now, with the version known to be ours, may the file itself be changed.
    enable_wal(engine)
    upgrade(engine)
    return HEAD_REVISION


def _is_newer(revision: str) -> bool:
    try:
        return int(revision) > int(HEAD_REVISION)
    except ValueError:
        return True  # a revision id we never wrote: treat as foreign, never touch it


def check_schema(engine: Engine) -> str:
    """For a read-only open: the schema must already be this code's; nothing is written."""
    revision = current_revision(engine)
    if revision is not None and revision != HEAD_REVISION and not _is_newer(revision):
        raise DatabaseError(
            f"database schema is at revision {revision}, older than this Parkbench "
            f"({HEAD_REVISION}); a read-only open cannot upgrade it",
            hint="run `parkbench db upgrade` once with write access, then browse it read-only",
        )
    return ensure_schema(engine, create=False)
