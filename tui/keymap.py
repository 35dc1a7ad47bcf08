"""Key bindings as data: every binding has a stable id; a TOML file can remap it.

Bindings are declared on the classes that own them (``Binding(..., id="run-requeue")``);
this module collects them, loads the user's keymap and checks it. The file lives at
``$PARKBENCH_KEYMAP`` or ``<user config dir>/parkbench/keymap.toml``::

    [keymap]
    run-requeue = "R"            # one key
    list-down = "down,j,ctrl+n"  # several, comma-separated (or a TOML list)

The ids are public API (listed by the help screen, ``?``); the app applies the result with
``App.set_keymap``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from textual.binding import Binding, BindingType

KEYMAP_ENV = "PARKBENCH_KEYMAP"


def keymap_path() -> Path:
    override = os.environ.get(KEYMAP_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("parkbench", appauthor=False)) / "keymap.toml"


def _as_binding(spec: BindingType) -> Binding:
    if isinstance(spec, Binding):
        return spec
    key, action, *rest = spec
    return Binding(key, action, rest[0] if rest else "")


def declared_bindings(owners: Iterable[type]) -> dict[str, tuple[type, Binding]]:
    """``id -> (owner class, binding)`` for every binding with an id on ``owners``."""
    found: dict[str, tuple[type, Binding]] = {}
    for owner in owners:
        for spec in getattr(owner, "BINDINGS", ()):
            binding = _as_binding(spec)
            if binding.id:
                found.setdefault(binding.id, (owner, binding))
    return found


@dataclass
class LoadedKeymap:
    path: Path
    keymap: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def parse_keymap(text: str, known_ids: Iterable[str], path: Path) -> LoadedKeymap:
    """Parse keymap TOML; unknown ids and malformed values become problems, not crashes."""
    loaded = LoadedKeymap(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        loaded.problems.append(f"{path}: not valid TOML ({error})")
        return loaded
    table = document.get("keymap", document)
    if not isinstance(table, dict):
        loaded.problems.append(f'{path}: [keymap] must be a table of id = "keys"')
        return loaded
    known = set(known_ids)
    for binding_id, value in table.items():
        if binding_id not in known:
            loaded.problems.append(f"{path}: unknown binding id {binding_id!r}")
            continue
        if isinstance(value, list) and value and all(isinstance(k, str) for k in value):
            value = ",".join(value)
        if not isinstance(value, str) or not value.strip():
            loaded.problems.append(f'{path}: {binding_id} must be a key string, e.g. "ctrl+r"')
            continue
        loaded.keymap[binding_id] = ",".join(k.strip() for k in value.split(",") if k.strip())
    return loaded


def load_keymap(known_ids: Iterable[str], path: Path | None = None) -> LoadedKeymap:
    """The user's keymap, or an empty one when there is no file."""
    path = path or keymap_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return LoadedKeymap(path)
    except (OSError, UnicodeDecodeError) as error:
        return LoadedKeymap(path, problems=[f"{path}: cannot read ({error})"])
    return parse_keymap(text, known_ids, path)


def keymap_conflicts(
    declared: dict[str, tuple[type, Binding]],
    keymap: dict[str, str],
    scopes: Iterable[Iterable[type]],
) -> list[str]:
    """Keys the keymap gives a binding that another binding active at the same time keeps
    (Textual would silently let one of them win). ``scopes`` lists the owner classes whose
    bindings are live together (the focused widget, its screen, the app)."""

    def split(keys: str) -> set[str]:
        return {key.strip() for key in keys.split(",") if key.strip()}

    def keys_of(binding_id: str) -> set[str]:
        return split(keymap.get(binding_id, declared[binding_id][1].key))

    def added(binding_id: str) -> set[str]:  # keys the keymap gives it that it lacked
        return keys_of(binding_id) - split(declared[binding_id][1].key)

    problems: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for scope in scopes:
        owners = set(scope)
        ids = [bid for bid, (owner, _) in declared.items() if owner in owners]
        for remapped in (bid for bid in ids if bid in keymap):
            for other in ids:
                if other == remapped:
                    continue
                for key in sorted(added(remapped) & keys_of(other)):
                    pair = (key, *sorted((remapped, other)))
                    if pair in seen:
                        continue
                    seen.add(pair)
                    problems.append(
                        f"keymap conflict: {key!r} is given to {remapped} but {other} has it "
                        f"too (only one of them would get it); remap {other} as well or "
                        f"pick another key"
                    )
    return problems
