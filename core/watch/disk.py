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


#: What a directory above a root is: ``stat`` identity, mode and owner (``None``: cannot be
#: stat-ed). Renamed, replaced, mounted over, or its permissions changed: the mark differs.
DirMark = tuple[int, int, int, int, int] | None


def dir_mark(path: str) -> DirMark:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_mode, info.st_uid, info.st_gid)


def probe(dirs: list[str], roots: list[str]) -> tuple[dict[str, DirMark], dict[str, RootStatus]]:
    """The marks of ``dirs``, then the status of ``roots`` (one worker-thread call)."""
    return {path: dir_mark(path) for path in dirs}, probe_roots(roots)


def parents(root: str) -> list[str]:
    """The directories above a resolved root: ``/a/b/ws`` -> ``["/a/b", "/a", "/"]``."""
    out: list[str] = []
    while (parent := os.path.dirname(root)) != root:
        out.append(parent)
        root = parent
    return out


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


class DiskView:
    """What the checks of one pass share: each root resolved once (``realpath``) and the
    directories under it seen to be real ones (each ``lstat``-ed once; see
    :func:`check_receipt`).

    At 1,000 roots a chunk of 1,000 paths touches every root, so resolving the roots per
    chunk cost a ``realpath`` (and a ``stat``, and an ``lstat`` of each shared directory) per
    path: three times the checks themselves. A view stays right while nothing under a root
    changes: the watcher keeps one for its whole first pass, and a fresh one per step after
    it, and :meth:`forget` s a root whenever an event comes from it or its paths are
    re-checked for another reason (the root was replaced), so a re-check never trusts what
    the change may have altered. A root's own ancestors send no event; a root that comes to
    resolve elsewhere has a new identity, which the watcher's root probe reports (its paths
    are then re-checked with a fresh view).
    """

    def __init__(self) -> None:
        self._roots: dict[str, tuple[str, set[str]]] = {}  # root -> (real root, real dirs)

    def forget(self, root: str) -> None:
        self._roots.pop(root, None)

    def check_paths(
        self, items: list[tuple[str, str]]
    ) -> list[tuple[str, str, ArtifactCheck, str | None]]:
        """Check each ``(root, rel)`` by the completion rules (:func:`check_receipt`), and say
        where symlinks redirect it inside the root (so changes at the target can be mapped
        back)."""
        checked = []
        for root, rel in items:
            seen = self._roots.get(root)
            if seen is None:
                seen = self._roots[root] = (os.path.realpath(root), set())
            check, via_symlink = check_receipt(root, rel, real_root=seen[0], dirs=seen[1])
            checked.append((root, rel, check, resolved_inside(root, rel) if via_symlink else None))
        return checked
