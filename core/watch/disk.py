"""Blocking file-system probes the watcher runs in worker threads."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from core.contracts import ArtifactCheck, check_path
from core.watch.records import WorkspaceState

#: Marks a check whose symlink resolution was not recomputed (the known alias still holds).
KEEP_ALIAS = "\x00keep"


@dataclass(frozen=True, slots=True)
class RootStatus:
    state: WorkspaceState
    identity: tuple[int, int] | None = None  # (st_dev, st_ino): a recreated root differs
    detail: str | None = None


def probe_root(root: str) -> RootStatus:
    """Is the workspace root there, a directory, and listable?"""
    try:
        info = os.stat(root)
    except (FileNotFoundError, NotADirectoryError):
        return RootStatus(WorkspaceState.MISSING, detail="workspace root not found")
    except PermissionError:
        return RootStatus(WorkspaceState.UNREADABLE, detail="permission denied")
    except OSError as error:
        return RootStatus(WorkspaceState.UNREADABLE, detail=error.strerror or "cannot stat it")
    if not stat.S_ISDIR(info.st_mode):
        return RootStatus(WorkspaceState.MISSING, detail="workspace root is not a directory")
    if not os.access(root, os.R_OK | os.X_OK):
        return RootStatus(WorkspaceState.UNREADABLE, detail="permission denied")
    return RootStatus(WorkspaceState.OK, (info.st_dev, info.st_ino))


def probe_roots(roots: list[str]) -> dict[str, RootStatus]:
    return {root: probe_root(root) for root in roots}


def resolved_inside(root: str, rel: str) -> str | None:
    """Where ``rel`` really lives under ``root`` when symlinks redirect it, else ``None``."""
    lexical = os.path.join(root, rel)
    real = os.path.realpath(lexical)
    prefix = root.rstrip(os.sep) + os.sep
    if real == lexical or not real.startswith(prefix):
        return None  # no redirection, or outside the root (unsafe: nothing to watch there)
    return real[len(prefix) :]


def check_paths(
    items: list[tuple[str, str, bool]],
) -> list[tuple[str, str, ArtifactCheck, str | None]]:
    """Check each ``(root, rel, deep)``: the completion rules (:func:`check_path`), plus the
    symlink resolution when ``deep`` or when the path itself is a link (else ``KEEP_ALIAS``).
    """
    out: list[tuple[str, str, ArtifactCheck, str | None]] = []
    for root, rel, deep in items:
        check = check_path(root, rel)
        if deep or os.path.islink(os.path.join(root, rel)):
            alias = resolved_inside(root, rel)
        else:
            alias = KEEP_ALIAS
        out.append((root, rel, check, alias))
    return out
