"""summary.json's receipts: each parked run's required paths checked on disk.

The contract comes from the store, read by its own rule
(:func:`parkbench.core.store.parked_reads.parked_runs`); :func:`receipts_of` checks its paths
and gives the ``"receipts"`` JSON and the number present, the answer ``parkbench show`` and
the TUI give (:func:`parkbench.core.contracts.check_path`), with fewer syscalls:

- :class:`ReceiptChecker` lists each directory once and answers a plain case (a regular
  file, or nothing, in a directory reached without symlinks) from that listing; every
  other case is :func:`check_path`'s (test_snapshot_summary checks the two agree);
- the JSON is written by hand with the C string encoder (the tests check it against the
  generic encoder).

No database and no Textual here.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]

from parkbench.core.contracts import (
    PLAIN_PATH,
    ArtifactCheck,
    ArtifactState,
    Contract,
    check_path,
    normalize_path,
)
from parkbench.core.errors import ValidationError

#: ASCII only: the document is safe to print anywhere; JSON readers decode the escapes.
ENCODER = json.JSONEncoder(ensure_ascii=True, check_circular=False, allow_nan=False)
ascii_string: Callable[[str], str] = encode_basestring_ascii

# Case-insensitive file systems: a name missing from a listing may still exist under
# another case or normalisation, so there only check_path may call it missing.
_LISTING_IS_EXACT = sys.platform not in ("darwin", "win32")
_PLAIN_PATH = PLAIN_PATH  # normalize_path's own fast path
_FILE = "file"
_OTHER = "other"


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
        if _PLAIN_PATH.fullmatch(relative) or _normal(relative):
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


def receipts_of(checker: ReceiptChecker, root: str, contract: Contract) -> tuple[str, int]:
    """The ``"receipts"`` JSON of a run whose workspace is ``root``, and how many are present."""
    if not contract.required:
        return "[]", 0
    checks = checker.check_all(root, contract.required)
    return encode_checks(checks), sum(check.state is ArtifactState.PRESENT for check in checks)
