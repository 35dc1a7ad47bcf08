"""Completion contracts: parse them, keep their paths inside the workspace, check receipts.

A contract lives under ``completion_contract`` in task metadata and in run metadata; both are
read and merged. The same :func:`check_artifacts` decides completion, feeds ``show`` and the
TUI, and re-checks paths for the receipt watcher, so every surface agrees on a file's state.
"""

from __future__ import annotations

import ntpath
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from parkbench.core import inputs
from parkbench.core.errors import ValidationError
from parkbench.core.tokens import REDACTED, TOKEN_PREFIX, contains_token

CONTRACT_KEY = "completion_contract"
#: Paths have drive letters here (``C:x`` and ``C:/x`` leave the root); on POSIX a colon is
#: an ordinary file-name character and only a leading ``/`` makes a path absolute.
WINDOWS_PATHS = os.name == "nt"
#: Paths that :func:`normalize_path` returns unchanged, told apart by one match (ASCII name
#: characters, no empty, "." or ".." part, not absolute, no claim token inside; the tests
#: check every match against the full rules).
PLAIN_PATH = re.compile(
    rf"(?!.*{re.escape(TOKEN_PREFIX)})(?:(?!\.\.?/)[A-Za-z0-9_.\-]+/)*(?!\.\.?\Z)[A-Za-z0-9_.\-]+"
)


class MissingPolicy(StrEnum):
    REJECT = "reject"
    PARK = "park"


class ArtifactState(StrEnum):
    PRESENT = "present"
    MISSING = "missing"
    NOT_A_FILE = "not_a_file"
    UNSAFE = "unsafe"


@dataclass(frozen=True, slots=True)
class Contract:
    required: tuple[str, ...] = ()
    missing_policy: MissingPolicy = MissingPolicy.REJECT

    @property
    def empty(self) -> bool:
        return not self.required


#: A run without a contract.
NO_CONTRACT = Contract()


@dataclass(frozen=True, slots=True)
class ArtifactCheck:
    path: str
    state: ArtifactState
    detail: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, str]:
        body = {"path": self.path, "state": self.state.value}
        if self.detail:
            body["detail"] = self.detail
        return body


def normalize_path(raw: object) -> str | None:
    """Lexically validate one required path; ``None`` for a blank entry (ignored).

    Raises :class:`ValidationError` for anything that could name a file outside the root.
    """
    if not isinstance(raw, str):
        raise ValidationError(
            f"artifact path must be a string, got {type(raw).__name__}",
            hint='write paths as strings, e.g. --require "reports/summary.md"',
        )
    if PLAIN_PATH.fullmatch(raw):  # the common case, in one match
        return raw
    text = raw.strip()
    if not text:
        return None
    reason: str | None = None
    if "\x00" in text:
        reason = "contains NUL"
    elif "\\" in text:
        reason = "contains a backslash (use / as the separator)"
    elif text.startswith("/") or (WINDOWS_PATHS and ntpath.splitdrive(text)[0]):
        reason = "is absolute"
    elif contains_token(text) or REDACTED in text:
        # Metadata is redacted before it is parsed, so an embedded token arrives as REDACTED.
        reason = "embeds a claim token"
    elif any(part == ".." for part in text.split("/")):
        reason = "contains '..'"
    if reason:
        raise ValidationError(
            f"artifact path {text!r} {reason}",
            hint="required paths are relative to the workspace root, e.g. reports/summary.md",
        )
    # What str(PurePosixPath(text)) gives for a relative path (empty and "." parts
    # dropped), without building a path object: this runs for every contract path of every
    # listed run.
    normalized = "/".join(part for part in text.split("/") if part and part != ".")
    if normalized in ("", "."):
        raise ValidationError(
            f"artifact path {text!r} names the workspace root itself",
            hint="name a file under the workspace root, e.g. reports/summary.md",
        )
    return normalized


def _paths_from(section: Mapping[str, object]) -> list[str]:
    paths: list[str] = []
    artifacts = section.get("required_artifacts", [])
    if not isinstance(artifacts, list):
        raise ValidationError(
            "completion_contract.required_artifacts must be a list",
            hint='e.g. {"required_artifacts": [{"path": "out/result.json"}]}',
        )
    for item in artifacts:
        if isinstance(item, Mapping):
            if "path" not in item:
                raise ValidationError(
                    "completion_contract.required_artifacts entry has no 'path'",
                    hint='write entries as {"path": "out/result.json"} or plain strings',
                )
            item = item["path"]
        if (path := normalize_path(item)) is not None:
            paths.append(path)
    required_paths = section.get("required_paths", [])
    if not isinstance(required_paths, list):
        raise ValidationError(
            "completion_contract.required_paths must be a list of strings",
            hint='e.g. {"required_paths": ["receipts/ok.txt"]}',
        )
    for item in required_paths:
        if (path := normalize_path(item)) is not None:
            paths.append(path)
    return paths


def _policy(section: Mapping[str, object]) -> MissingPolicy | None:
    value = section.get("missing_policy")
    if value is None:
        return None
    try:
        return MissingPolicy(str(value).strip().lower())
    except ValueError:
        raise ValidationError(
            f"completion_contract.missing_policy must be 'reject' or 'park', got {value!r}",
            hint="use --missing-policy reject or --missing-policy park",
        ) from None


def parse_contract(*metadatas: Mapping[str, object] | None) -> Contract:
    """Merge the contracts found in each metadata mapping (task first, then run).

    Paths accumulate (first occurrence wins the order); the last explicit policy wins.
    """
    required: dict[str, None] = {}
    policy = MissingPolicy.REJECT
    for metadata in metadatas:
        if not metadata:
            continue
        section = metadata.get(CONTRACT_KEY)
        if section is None:
            continue
        if not isinstance(section, Mapping):
            raise ValidationError(
                "completion_contract must be a JSON object",
                hint='e.g. {"completion_contract": {"required_paths": ["receipts/ok.txt"]}}',
            )
        required.update(dict.fromkeys(_paths_from(section)))
        policy = _policy(section) or policy
    return Contract(tuple(required), policy)


def stored_contract(task_metadata_json: str | None, metadata_json: str | None) -> Contract:
    """The contract of a stored run, from its task's and its own metadata columns; no
    contract for metadata that no longer parses as one (validated at enqueue: one odd row
    never breaks a list or a move).

    Metadata is always written by :func:`parkbench.core.inputs.dump`, which never escapes
    the key's characters: a text without the key has no contract, and most rows then skip
    two ``json.loads``. (None: a column a query left out because it has no contract.)"""
    key = CONTRACT_KEY
    task_md = task_metadata_json if task_metadata_json and key in task_metadata_json else None
    run_md = metadata_json if metadata_json and key in metadata_json else None
    if task_md is None and run_md is None:
        return NO_CONTRACT
    try:
        return parse_contract(inputs.load_object(task_md), inputs.load_object(run_md))
    except ValidationError:
        return NO_CONTRACT


def _inside(root: str, candidate: str) -> bool:
    return candidate == root or candidate.startswith(root.rstrip(os.sep) + os.sep)


#: Why a path that a symlink leads out of the workspace is refused.
OUTSIDE = "resolves outside the workspace root"


def resolve_under(real_root: str, normalized: str) -> str | None:
    """The real path of ``normalized`` (from :func:`normalize_path`) under ``real_root``, or
    None when it leads outside. realpath follows every symlink it can, so a link anywhere on
    the path that leads out of the root shows up as a resolved path outside it."""
    resolved = os.path.realpath(os.path.join(real_root, normalized))
    return resolved if _inside(real_root, resolved) else None


def workspace_path(root: str, relative: str) -> str:
    """The real path of ``relative`` (a path under the workspace ``root``; blank or ``.``:
    the root itself), by the contract rules: absolute paths, ``..``, NUL, backslashes and
    symlinks leading outside are refused with :class:`ValidationError`."""
    real_root = os.path.realpath(root)
    text = relative.strip()
    if not text.startswith("/") and not any(p and p != "." for p in text.split("/")):
        return real_root  # "", ".", "./": the root itself, which may be browsed
    normalized = normalize_path(text)
    assert normalized is not None  # (blank was handled above)
    resolved = resolve_under(real_root, normalized)
    if resolved is None:
        raise ValidationError(
            f"artifact path {relative!r} {OUTSIDE}",
            hint="only files under the workspace root can be opened; remove the symlink",
        )
    return resolved


def check_path(
    root: str, relative: str, *, real_root: str | None = None, dirs: set[str] | None = None
) -> ArtifactCheck:
    """The on-disk state of one required path, resolving symlinks at every depth.

    ``real_root``: ``os.path.realpath(root)`` when the caller already has it (the receipt
    watcher checks many paths under one root and resolves it once per batch). ``dirs``: a
    set shared by the checks of one batch, of directories already seen to be real ones
    (see :func:`check_receipt`).
    """
    return check_receipt(root, relative, real_root=real_root, dirs=dirs)[0]


def check_receipt(
    root: str, relative: str, *, real_root: str | None = None, dirs: set[str] | None = None
) -> tuple[ArtifactCheck, bool]:
    """:func:`check_path`, and whether a symlink lies on the way to the path.

    The path is walked below the resolved root with one ``lstat`` per component: with no
    symlink on the way, the lexical path is the real one (a normalised path has no ``..``
    and is not absolute), so it is inside the root and the last ``lstat`` says what it is.
    Only when a component is a symlink is the path resolved in full (``realpath``) and
    judged by where it really leads. ``dirs`` (shared by one batch of checks) remembers the
    directories seen to be real ones, so paths that share a parent ``lstat`` it once.
    """
    try:
        normalized = normalize_path(relative)
    except ValidationError as error:
        return ArtifactCheck(relative, ArtifactState.UNSAFE, error.message), False
    if normalized is None:
        return ArtifactCheck(relative, ArtifactState.UNSAFE, "blank path"), False
    if real_root is None:
        real_root = os.path.realpath(root)
    if dirs is None or real_root not in dirs:
        if not os.path.isdir(real_root):
            return ArtifactCheck(relative, ArtifactState.MISSING, "workspace root not found"), False
        if dirs is not None:
            dirs.add(real_root)
    lexical = _check_lexically(real_root, normalized, relative, dirs)
    if lexical is not None:
        return lexical, False
    resolved = resolve_under(real_root, normalized)
    if resolved is None or resolved == real_root:
        return ArtifactCheck(relative, ArtifactState.UNSAFE, OUTSIDE), True
    try:
        mode = os.stat(resolved).st_mode
    except OSError as error:
        return _missing(relative, error), True
    return _of_mode(relative, mode), True


def _check_lexically(
    real_root: str, normalized: str, relative: str, dirs: set[str] | None
) -> ArtifactCheck | None:
    """The check from ``lstat`` calls alone; ``None`` when a component is a symlink."""
    path = real_root.rstrip(os.sep)
    *parents, name = normalized.split("/")
    for part in parents:
        path = f"{path}{os.sep}{part}"
        if dirs is not None and path in dirs:
            continue
        try:
            mode = os.lstat(path).st_mode
        except OSError as error:
            return _missing(relative, error)
        if stat.S_ISLNK(mode):
            return None
        if not stat.S_ISDIR(mode):  # a file where a directory should be
            return ArtifactCheck(relative, ArtifactState.MISSING)
        if dirs is not None:
            dirs.add(path)
    try:
        mode = os.lstat(f"{path}{os.sep}{name}").st_mode
    except OSError as error:
        return _missing(relative, error)
    return None if stat.S_ISLNK(mode) else _of_mode(relative, mode)


def _missing(relative: str, error: OSError) -> ArtifactCheck:
    if isinstance(error, (FileNotFoundError, NotADirectoryError)):
        return ArtifactCheck(relative, ArtifactState.MISSING)
    if isinstance(error, PermissionError):
        return ArtifactCheck(relative, ArtifactState.MISSING, "permission denied")
    return ArtifactCheck(relative, ArtifactState.MISSING, error.strerror or "unreadable")


def _of_mode(relative: str, mode: int) -> ArtifactCheck:
    if stat.S_ISREG(mode):
        return ArtifactCheck(relative, ArtifactState.PRESENT)
    return ArtifactCheck(relative, ArtifactState.NOT_A_FILE)


def check_artifacts(
    root: str,
    paths: Iterable[str],
    *,
    real_root: str | None = None,
    dirs: set[str] | None = None,
) -> list[ArtifactCheck]:
    """Each path's check; ``dirs`` as in :func:`check_path` (a fresh set when not given, so
    the paths of one call share the directories they have seen)."""
    real_root = os.path.realpath(root) if real_root is None else real_root
    dirs = set() if dirs is None else dirs
    return [check_path(root, path, real_root=real_root, dirs=dirs) for path in paths]


def validate_for_enqueue(root: str, contract: Contract, *, dirs: set[str] | None = None) -> None:
    """Refuse, at enqueue time, paths that already lead outside the root through a symlink.

    ``root`` is a workspace root as stored: already resolved (``realpath``). ``dirs``:
    see :func:`check_path` (one set per root for a batch)."""
    for check in check_artifacts(root, contract.required, real_root=root, dirs=dirs):
        if check.state is ArtifactState.UNSAFE:
            raise ValidationError(
                f"artifact path {check.path!r} {check.detail or 'is unsafe'}",
                hint="remove the symlink or require a path inside the workspace root",
            )


def missing_paths(checks: Iterable[ArtifactCheck]) -> list[str]:
    return [c.path for c in checks if c.state is not ArtifactState.PRESENT]
