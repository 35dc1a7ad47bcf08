"""The user's config file: a default database and named profiles.

``config.toml`` in the platformdirs user config folder (``~/.config/parkbench/`` on Linux),
or the file ``$PARKBENCH_CONFIG`` names::

    db = "~/parkbench.db"          # the default database (a path or a SQLAlchemy URL; a
                                   # relative path is relative to this file's folder)
    profile = "team"               # optional: the profile used when --profile is not given

    [profiles.team]
    db = "postgresql+psycopg://reviewer@db.internal/parkbench"

Which database a command uses, first match wins: ``--db``, ``$PARKBENCH_DB``, ``--profile``
(else the file's ``profile``), the file's ``db``, the file in the user data directory.
The file is only read when neither ``--db`` nor ``$PARKBENCH_DB`` decides (a worker loop
passing ``--db`` never pays for it), or when ``--profile`` is given (a wrong name is an
error, not silently ignored).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from parkbench.core.errors import ValidationError

CONFIG_ENV = "PARKBENCH_CONFIG"
DB_ENV = "PARKBENCH_DB"
KEYS = {"db", "profile", "profiles"}
EXAMPLE = 'e.g. db = "~/parkbench.db" and [profiles.team] db = "postgresql+psycopg://host/db"'


def config_path() -> Path:
    """Where the config file is (it may not exist)."""
    named = os.environ.get(CONFIG_ENV, "").strip()
    if named:
        return Path(named).expanduser()
    from platformdirs import user_config_path

    return user_config_path("parkbench") / "config.toml"


@dataclass(frozen=True)
class Config:
    path: Path
    exists: bool
    db: str | None = None
    profile: str | None = None
    profiles: dict[str, str] = field(default_factory=dict)


def _invalid(path: Path, problem: str) -> ValidationError:
    return ValidationError(
        f"config file {path}: {problem}",
        hint=f"fix the file ({EXAMPLE}), or set {CONFIG_ENV} to another file",
        config=str(path),
    )


def _text(path: Path, value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(path, f"{where} must be a non-empty string")
    return value.strip()


def _database(path: Path, value: object, where: str) -> str:
    """A URL as written; a relative file path is relative to the config file, not the cwd."""
    text = _text(path, value, where)
    if "://" in text:
        return text
    return str(path.parent / Path(text).expanduser())


def load_config(path: Path | None = None) -> Config:
    """Read and check the config file; an absent file is an empty config."""
    import tomllib

    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config(path=path, exists=False)
    except OSError as error:
        raise _invalid(path, f"cannot be read ({error.strerror or error})") from None
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise _invalid(path, f"is not valid TOML ({error})") from None
    unknown = sorted(set(document) - KEYS)
    if unknown:
        raise _invalid(path, f"unknown key(s) {', '.join(unknown)}; known: db, profile, profiles")
    db = _database(path, document["db"], "db") if "db" in document else None
    profile = _text(path, document["profile"], "profile") if "profile" in document else None
    tables = document.get("profiles", {})
    if not isinstance(tables, dict):
        raise _invalid(path, "profiles must be a table: [profiles.NAME]")
    profiles: dict[str, str] = {}
    for name, table in tables.items():
        if not isinstance(table, dict) or set(table) != {"db"}:
            raise _invalid(path, f'[profiles.{name}] must hold exactly db = "URL"')
        profiles[name] = _database(path, table["db"], f"profiles.{name}.db")
    if profile is not None and profile not in profiles:
        raise _invalid(path, f"profile = {profile!r} names no [profiles.{profile}] table")
    return Config(path=path, exists=True, db=db, profile=profile, profiles=profiles)


@dataclass(frozen=True)
class DbChoice:
    """Which database a command uses and why: ``db`` None leaves it to ``resolve_url``."""

    db: str | None
    source: str  # --db | PARKBENCH_DB | profile | config | default
    profile: str | None = None
    config: Path | None = None  # the config file read, if it exists


def choose_db(flag: str | None, profile: str | None) -> DbChoice:
    """Apply the precedence: --db > $PARKBENCH_DB > profile > config db > built-in default."""
    if flag:
        return DbChoice(db=flag, source="--db")
    from parkbench.core.db.info import db_from_env

    # A blank $PARKBENCH_DB is an error there, never a silent fall-through to the config.
    from_env = db_from_env() is not None
    if from_env and profile is None:
        return DbChoice(db=None, source=DB_ENV)
    config = load_config()
    read = config.path if config.exists else None
    if profile is not None and profile not in config.profiles:
        known = ", ".join(sorted(config.profiles)) or "none"
        where = str(config.path) if config.exists else f"{config.path} (absent)"
        raise ValidationError(
            f"no profile {profile!r} in the config file {where}",
            hint=f'add [profiles.{profile}] db = "URL" to it (profiles defined: {known})',
            config=str(config.path),
        )
    if from_env:
        return DbChoice(db=None, source=DB_ENV, config=read)
    chosen = profile or config.profile
    if chosen is not None:
        return DbChoice(db=config.profiles[chosen], source="profile", profile=chosen, config=read)
    if config.db is not None:
        return DbChoice(db=config.db, source="config", config=read)
    return DbChoice(db=None, source="default", config=read)
