"""summary.json's receipts: each parked run's contract read and its paths checked on disk.

:class:`Receipts` gives the ``"receipts"`` JSON and the number present for one run, the
answer ``parkbench show`` and the TUI give (:func:`parkbench.core.contracts.parse_contract` and
:func:`parkbench.core.contracts.check_path`), at a fraction of their cost per run:

- the common contract (``required_paths`` of plain relative paths, a known policy) is read
  straight from the parsed JSON; anything else goes through :func:`contract_of`, the
  store's own rule, so an unusual contract is never read differently;
- :class:`ReceiptChecker` lists each directory once and answers a plain case (a regular
  file, or nothing, in a directory reached without symlinks) from that listing; every
  other case is :func:`check_path`'s;
- the JSON is written by hand with the C string encoder (test_snapshot_summary checks it
  against the generic encoder, and the fast reading against the exact one).

No database and no Textual here: the summary's writer process imports only this and the
standard library.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]

from parkbench.core import inputs
from parkbench.core.contracts import (
    CONTRACT_KEY,
    ArtifactCheck,
    ArtifactState,
    Contract,
    MissingPolicy,
    check_path,
    normalize_path,
    parse_contract,
)
from parkbench.core.errors import ValidationError
from parkbench.core.tokens import TOKEN_PREFIX

#: ASCII only: the document is safe to print anywhere; JSON readers decode the escapes.
ENCODER = json.JSONEncoder(ensure_ascii=True, check_circular=False, allow_nan=False)
ascii_string: Callable[[str], str] = encode_basestring_ascii

# Case-insensitive file systems: a name missing from a listing may still exist under
# another case or normalisation, so there only check_path may call it missing.
_LISTING_IS_EXACT = sys.platform not in ("darwin", "win32")
_FILE = "file"
_OTHER = "other"
_POLICIES = frozenset(policy.value for policy in MissingPolicy)
#: JSON's C scanner: json.loads without the Python around it (a third of its cost here).
_scan_json: Callable[[str, int], tuple[object, int]] = json.JSONDecoder().scan_once
#: A path that normalize_path returns unchanged (ASCII name characters, no empty, "." or
#: ".." part, not absolute); a claim token inside is checked apart.
_NORMAL_PATH = re.compile(r"(?:(?!\.\.?/)[A-Za-z0-9_.\-]+/)*(?!\.\.?\Z)[A-Za-z0-9_.\-]+")


def contract_of(task_metadata: str | None, run_metadata: str | None) -> Contract:
    """The run's completion contract, as :func:`parkbench.core.store.queries.to_row` reads it (metadata
    that does not mention one arrives as None and is not parsed at all)."""
    if task_metadata is None and run_metadata is None:
        return Contract()
    try:
        return parse_contract(inputs.load(task_metadata), inputs.load(run_metadata))
    except (ValidationError, ValueError, TypeError, AttributeError):
        return Contract()  # to_row's rule: one odd row never breaks a list


class ReceiptChecker:
    """:func:`parkbench.core.contracts.check_path` for many paths: the same answers, fewer syscalls.

    A plain case (a regular file, or no entry at all, in a directory reached without
    symlinks) is answered from one cached listing of that directory; every other case is
    answered by ``check_path`` itself. Listings are taken once: the answers describe the
    disk as it was when each directory was first read.
    """

    def __init__(self) -> None:
        self._roots: dict[str, str | None] = {}
        self._listings: dict[tuple[str, str], dict[str, str] | None] = {}
        #: (root as given, parent) -> its listing, or None: the two lookups above, cached.
        self._by_parent: dict[tuple[str, str], dict[str, str] | None] = {}

    def check(self, root: str, relative: str) -> ArtifactCheck:
        """``check_path(root, relative)`` for a path from a parsed :class:`Contract` (so
        already normalised by :func:`normalize_path`; anything else takes the slow way)."""
        if _normal(relative):
            state = self.plain_state(root, relative)
            if state is not None:
                return ArtifactCheck(relative, state)
        return check_path(root, relative)

    def plain_state(self, root: str, relative: str) -> ArtifactState | None:
        """PRESENT or MISSING from the listings, for a path that :func:`normalize_path`
        returns unchanged; None when only ``check_path`` can tell."""
        parent, _, name = relative.rpartition("/")
        key = (root, parent)
        listing = self._by_parent.get(key, _UNKNOWN)
        if listing is _UNKNOWN:
            listing = self._by_parent[key] = self._listing(root, parent)
        if listing is None:
            return None
        kind = listing.get(name)
        if kind == _FILE:
            return ArtifactState.PRESENT
        if kind is None and _LISTING_IS_EXACT:
            return ArtifactState.MISSING
        return None

    def check_all(self, root: str, paths: tuple[str, ...]) -> list[ArtifactCheck]:
        return [self.check(root, path) for path in paths]

    def _listing(self, root: str, parent: str) -> dict[str, str] | None:
        if root not in self._roots:
            real = os.path.realpath(root)
            self._roots[root] = real if os.path.isdir(real) else None
        real_root = self._roots[root]
        if real_root is None:
            return None
        key = (real_root, parent)
        if key not in self._listings:
            self._listings[key] = _list_directory(real_root, parent)
        return self._listings[key]


_UNKNOWN: dict[str, str] = {}  # not looked up yet (a listing is never this very dict)


def _normal(relative: str) -> bool:
    """True for a path check_path resolves as it is: one :func:`normalize_path` returns
    unchanged (so no empty, ``.`` or ``..`` part, not absolute, no backslash or NUL, no
    space to strip: a contract's path is normalised once, and check_path does it again)."""
    try:
        return normalize_path(relative) == relative
    except ValidationError:
        return False


def _list_directory(real_root: str, parent: str) -> dict[str, str] | None:
    """``name -> "file" | "other"`` for ``real_root/parent``; ``{}`` when it does not exist;
    None when check_path must decide (a symlink on the way, an unreadable directory)."""
    directory = os.path.join(real_root, parent) if parent else real_root
    if parent and os.path.realpath(directory) != directory:
        return None  # a symlink (or an odd component) on the way: resolve it the slow way
    listing: dict[str, str] = {}
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                regular = not entry.is_symlink() and entry.is_file(follow_symlinks=False)
                listing[entry.name] = _FILE if regular else _OTHER
    except FileNotFoundError:
        return {}
    except OSError:
        return None
    return listing


def encode_checks(checks: list[ArtifactCheck]) -> str:
    """``[check.to_dict(), ...]`` as the summary's encoder writes it."""
    return "[" + ", ".join(_encode_check(check) for check in checks) + "]"


def _encode_check(check: ArtifactCheck) -> str:
    detail = f', "detail": {ascii_string(check.detail)}' if check.detail else ""
    return f'{{"path": {ascii_string(check.path)}, "state": "{check.state.value}"{detail}}}'


class Receipts:
    """The ``"receipts"`` JSON and the count present, per run, from its raw metadata."""

    def __init__(self) -> None:
        self.checker = ReceiptChecker()

    def of(
        self, root: str, task_metadata: str | None, run_metadata: str | None
    ) -> tuple[str, int]:
        """``root``: the run's workspace root; the metadata as stored (JSON text)."""
        paths = _plain_contract(task_metadata, run_metadata)
        if paths is None:  # anything unusual: the store's own reading, the checker's rule
            required = contract_of(task_metadata, run_metadata).required
            checks = self.checker.check_all(root, required)
            return encode_checks(checks), sum(c.state is ArtifactState.PRESENT for c in checks)
        if not paths:
            return "[]", 0
        parts = []
        present = 0
        plain_state = self.checker.plain_state
        for path in paths:
            state = plain_state(root, path)
            if state is ArtifactState.PRESENT:
                parts.append(f'{{"path": {ascii_string(path)}, "state": "present"}}')
                present += 1
            elif state is ArtifactState.MISSING:
                parts.append(f'{{"path": {ascii_string(path)}, "state": "missing"}}')
            else:
                check = check_path(root, path)
                parts.append(_encode_check(check))
                present += check.state is ArtifactState.PRESENT
        return "[" + ", ".join(parts) + "]", present


def _plain_contract(*metadatas: str | None) -> tuple[str, ...] | None:
    """The required paths of the usual contract (``required_paths`` of paths already in
    normal form, a known policy), read as :func:`parse_contract` reads them; None for
    anything else, which :func:`contract_of` then decides."""
    required: dict[str, None] = {}
    for text in metadatas:
        if text is None:
            continue
        try:  # json.loads without its wrapper; any oddity (spaces, extra data): slow way
            metadata, end = _scan_json(text, 0)
        except (StopIteration, ValueError):
            return None
        if end != len(text) or type(metadata) is not dict:
            return None
        section = metadata.get(CONTRACT_KEY)
        if section is None:
            continue
        if type(section) is not dict or "required_artifacts" in section:
            return None
        policy = section.get("missing_policy")
        if policy is not None and (type(policy) is not str or policy not in _POLICIES):
            return None
        paths = section.get("required_paths", [])
        if type(paths) is not list:
            return None
        for path in paths:
            if type(path) is not str or not _NORMAL_PATH.fullmatch(path) or (
                TOKEN_PREFIX in path
            ):
                return None
            required[path] = None
    return tuple(required)
