"""The review app's remembered settings: the chosen theme, in the user's config dir.

``<user config dir>/parkbench/settings.toml`` (or ``$PARKBENCH_SETTINGS``)::

    theme = "solarized-light"

Written whole (a temporary file, then a rename), so a crash never leaves half a file; an
unreadable or malformed file is ignored (the default theme), never an error at start.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

SETTINGS_ENV = "PARKBENCH_SETTINGS"


def theme_path() -> Path:
    override = os.environ.get(SETTINGS_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("parkbench", appauthor=False)) / "settings.toml"


def load_theme(path: Path) -> str | None:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    theme = document.get("theme")
    return theme if isinstance(theme, str) and theme else None


def store_theme(path: Path, theme: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(f"theme = {json.dumps(theme)}\n", encoding="utf-8")  # a TOML string
    partial.replace(path)
