"""Blocking file-system probes the watcher runs in worker threads."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from parkbench.core.contracts import ArtifactCheck, check_receipt
from parkbench.core.watch.records import WorkspaceState


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


def through_symlink(root: str, rel: str) -> bool:
    """Does any component of ``rel`` (below ``root``) exist as a symlink? A few ``lstat``
    calls: far cheaper than resolving every path in full."""
    path = root.rstrip(os.sep)
    for part in rel.split("/"):
        path = f"{path}{os.sep}{part}"
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return True
        except OSError:  # the rest does not exist (yet): nothing further to redirect
            return False
    return False


def resolved_inside(root: str, rel: str) -> str | None:
    """Where ``rel`` really lives under ``root`` when symlinks redirect it, else ``None``."""
    if not through_symlink(root, rel):
        return None
    lexical = os.path.join(root, rel)
    real = os.path.realpath(lexical)
    prefix = root.rstrip(os.sep) + os.sep
    if real == lexical or not real.startswith(prefix):
        return None  # no redirection, or outside the root (unsafe: nothing to watch there)
    return real[len(prefix) :]


def check_paths(items: list[tuple[str, str]]) -> list[tuple[str, str, ArtifactCheck, str | None]]:
    """Check each ``(root, rel)`` by the completion rules (:func:`check_receipt`), and say where
    symlinks redirect it inside the root (so changes at the target can be mapped back)."""
    # Each root is resolved once per call (one batch), not once per path; the directories
    # on the way are lstat-ed once per batch too (``dirs``), so a path costs about one lstat.
    real_roots: dict[str, str] = {}
    dirs: set[str] = set()
    checked = []
    for root, rel in items:
        real_root = real_roots.get(root)
        if real_root is None:
            real_root = real_roots[root] = os.path.realpath(root)
        check, via_symlink = check_receipt(root, rel, real_root=real_root, dirs=dirs)
        checked.append((root, rel, check, resolved_inside(root, rel) if via_symlink else None))
    return checked
