"""The review app's remembered settings, in the user's config dir: the theme, the last
view (filter, sort and its direction) and the saved filters.

``<user config dir>/parkbench/settings.toml`` (or ``$PARKBENCH_SETTINGS``)::

    theme = "solarized-light"

    [view]
    filter = "worker:agent-7 status:parked"
    sort = "priority"
    reverse = true

    [filters]
    "payments quota" = "workspace:payments \\"disk quota\\""

Written whole (a temporary file, then a rename), so a crash never leaves half a file; an
unreadable or malformed file is ignored (the defaults), never an error at start, and a
malformed entry is skipped on its own.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

SETTINGS_ENV = "PARKBENCH_SETTINGS"
#: Saved filters kept at most (the palette lists two commands for each).
MAX_SAVED = 50

_WRITE_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Settings:
    theme: str | None = None
    #: The last view: its filter text, sort key (a SortKey value) and direction.
    filter: str = ""
    sort: str | None = None
    reverse: bool = False
    #: name -> filter text, in the order they were saved.
    saved_filters: dict[str, str] = field(default_factory=dict)

    def with_saved(self, name: str, text: str) -> Settings:
        saved = {k: v for k, v in self.saved_filters.items() if k != name}
        saved[name] = text
        while len(saved) > MAX_SAVED:
            del saved[next(iter(saved))]
        return replace(self, saved_filters=saved)

    def without_saved(self, name: str) -> Settings:
        return replace(
            self, saved_filters={k: v for k, v in self.saved_filters.items() if k != name}
        )


def settings_path() -> Path:
    override = os.environ.get(SETTINGS_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("parkbench", appauthor=False)) / "settings.toml"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def load_settings(path: Path) -> Settings:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return Settings()
    view = document.get("view")
    view = view if isinstance(view, dict) else {}
    saved = document.get("filters")
    saved = saved if isinstance(saved, dict) else {}
    return Settings(
        theme=_text(document.get("theme")) or None,
        filter=_text(view.get("filter")) or "",
        sort=_text(view.get("sort")),
        reverse=view.get("reverse") is True,
        saved_filters={
            name: text
            for name, text in list(saved.items())[:MAX_SAVED]
            if isinstance(text, str) and name.strip()
        },
    )


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's); a lone surrogate, which TOML cannot
    hold, becomes "?" rather than make the whole file unreadable."""
    return json.dumps(value.encode("utf-8", "replace").decode("utf-8"))


def render_settings(settings: Settings) -> str:
    lines: list[str] = []
    if settings.theme:
        lines.append(f"theme = {_toml_string(settings.theme)}")
    view = []
    if settings.filter:
        view.append(f"filter = {_toml_string(settings.filter)}")
    if settings.sort:
        view.append(f"sort = {_toml_string(settings.sort)}")
    if settings.reverse:
        view.append("reverse = true")
    if view:
        lines += ["", "[view]", *view]
    if settings.saved_filters:
        lines += ["", "[filters]"]
        lines += [
            f"{_toml_string(k)} = {_toml_string(v)}" for k, v in settings.saved_filters.items()
        ]
    return "\n".join(lines).lstrip("\n") + "\n"


def store_settings(path: Path, settings: Settings) -> None:
    """Write ``settings`` whole: a temporary file beside it, then a rename (one writer at a
    time, so the last one written is the last one asked for)."""
    with _WRITE_LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(render_settings(settings))
            os.replace(partial, path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
