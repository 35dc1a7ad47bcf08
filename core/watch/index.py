"""The receipt index: which parked runs need which paths, and what each path's state is.

Pure bookkeeping, no I/O: the watcher feeds it check results and it answers "which required
paths could a change at this file-system path affect?" in O(1) per changed path, and "which
runs are ready?" without rescanning anything.

A change can reach a required path ``a/b/c.txt`` in more ways than through that exact name:
its parent directories may be created, deleted, renamed or replaced by symlinks, so every
ancestor (``a/b``, ``a``) is indexed as a key too. When symlinks make the path resolve to a
different place inside the root, the resolved path and its ancestors are keys as well (an
*alias*): a file appearing at the link's target is reported under the target's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from parkbench.core.contracts import ArtifactCheck, ArtifactState
from parkbench.core.watch.records import ReadinessChange, ReceiptChange, WatchRecord

PathKey = tuple[str, str]  # (workspace root, required relative path)


@dataclass(frozen=True, slots=True)
class ParkedRun:
    """What the watcher needs to know about one parked run."""

    run_id: int
    workspace: str  # the resolved workspace root
    required: tuple[str, ...]  # normalised relative paths, contract order
    version: int  # the run's version when seen: auto-requeue expects exactly this
    parked_by: str | None  # the action that parked it, e.g. "park_missing" or "block"


def ancestors(rel: str) -> list[str]:
    """``a/b/c`` -> ``["a/b", "a"]``."""
    out: list[str] = []
    while "/" in rel:
        rel = rel.rsplit("/", 1)[0]
        out.append(rel)
    return out


class _KeyMap:
    """root -> key path -> the required paths a change at that key may affect."""

    def __init__(self) -> None:
        self._by_root: dict[str, dict[str, set[str]]] = {}

    def add(self, root: str, rel: str, target: str) -> None:
        keys = self._by_root.setdefault(root, {})
        for key in (target, *ancestors(target)):
            keys.setdefault(key, set()).add(rel)

    def discard(self, root: str, rel: str, target: str) -> None:
        keys = self._by_root.get(root)
        if keys is None:
            return
        for key in (target, *ancestors(target)):
            needing = keys.get(key)
            if needing is not None:
                needing.discard(rel)
                if not needing:
                    del keys[key]
        if not keys:
            del self._by_root[root]

    def get(self, root: str, key: str) -> set[str]:
        return self._by_root.get(root, {}).get(key, set())


class ReceiptIndex:
    def __init__(self) -> None:
        self._runs: dict[int, ParkedRun] = {}
        self._needers: dict[PathKey, set[int]] = {}
        self._checks: dict[PathKey, ArtifactCheck] = {}  # absent: not checked yet
        self._root_paths: dict[str, set[str]] = {}
        self._root_runs: dict[str, set[int]] = {}
        self._lexical = _KeyMap()
        self._aliases = _KeyMap()
        self._alias_of: dict[PathKey, str] = {}
        self._unmet: dict[int, int] = {}  # run -> required paths not (known to be) present
        self._ready: set[int] = set()
        # Runs added but not announced yet: their first checks produce no change records.
        self._fresh: set[int] = set()

    # -- runs ------------------------------------------------------------------------

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._runs

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, run_id: int) -> ParkedRun | None:
        return self._runs.get(run_id)

    def run_ids(self) -> frozenset[int]:
        return frozenset(self._runs)

    def settled_ids(self) -> frozenset[int]:
        """Runs whose first checks are in (announced, or ready to be by :meth:`settle`)."""
        return frozenset(self._runs.keys() - self._fresh)

    def roots(self) -> frozenset[str]:
        return frozenset(self._root_runs)

    def run_ids_in(self, root: str) -> frozenset[int]:
        return frozenset(self._root_runs.get(root, ()))

    def paths_of(self, root: str) -> list[str]:
        return sorted(self._root_paths.get(root, ()))

    def add(self, run: ParkedRun) -> list[PathKey]:
        """Index ``run`` (or refresh its version); returns its paths that need a first check."""
        known = self._runs.get(run.run_id)
        if known is not None:
            if (known.workspace, known.required) == (run.workspace, run.required):
                self._runs[run.run_id] = run
                return []
            self.remove(run.run_id)
        self._runs[run.run_id] = run
        self._root_runs.setdefault(run.workspace, set()).add(run.run_id)
        self._fresh.add(run.run_id)
        unchecked: list[PathKey] = []
        unmet = 0
        for rel in run.required:
            key = (run.workspace, rel)
            needers = self._needers.get(key)
            if needers is None:
                needers = self._needers[key] = set()
                self._root_paths.setdefault(run.workspace, set()).add(rel)
                self._lexical.add(run.workspace, rel, rel)
                unchecked.append(key)
            needers.add(run.run_id)
            check = self._checks.get(key)
            if check is None or check.state is not ArtifactState.PRESENT:
                unmet += 1
        self._unmet[run.run_id] = unmet
        if unmet == 0:
            self._ready.add(run.run_id)
        return unchecked

    def remove(self, run_id: int) -> ParkedRun | None:
        run = self._runs.pop(run_id, None)
        if run is None:
            return None
        self._unmet.pop(run_id, None)
        self._ready.discard(run_id)
        self._fresh.discard(run_id)
        runs_here = self._root_runs[run.workspace]
        runs_here.discard(run_id)
        if not runs_here:
            del self._root_runs[run.workspace]
        for rel in run.required:
            key = (run.workspace, rel)
            needers = self._needers[key]
            needers.discard(run_id)
            if needers:
                continue
            del self._needers[key]
            self._checks.pop(key, None)
            self._lexical.discard(run.workspace, rel, rel)
            self.set_alias(run.workspace, rel, None)
            paths = self._root_paths[run.workspace]
            paths.discard(rel)
            if not paths:
                del self._root_paths[run.workspace]
        return run

    def settle(self) -> list[int]:
        """Runs whose first checks are all in: announce them now (and stop treating them as new)."""
        settled = [
            run_id
            for run_id in sorted(self._fresh)
            if all(
                (self._runs[run_id].workspace, rel) in self._checks
                for rel in self._runs[run_id].required
            )
        ]
        self._fresh.difference_update(settled)
        return settled

    # -- paths -----------------------------------------------------------------------

    def affected(self, root: str, key: str) -> set[str]:
        """Required paths under ``root`` whose state a change at ``key`` may have altered."""
        found = self._lexical.get(root, key)
        aliased = self._aliases.get(root, key)
        return found | aliased if aliased else set(found)

    def alias_of(self, root: str, rel: str) -> str | None:
        return self._alias_of.get((root, rel))

    def set_alias(self, root: str, rel: str, resolved: str | None) -> None:
        """Record where ``rel`` resolves inside the root, when symlinks make that differ."""
        key = (root, rel)
        old = self._alias_of.get(key)
        if old == resolved or (resolved is not None and key not in self._needers):
            return
        if old is not None:
            self._aliases.discard(root, rel, old)
            del self._alias_of[key]
        if resolved is not None and resolved != rel:
            self._aliases.add(root, rel, resolved)
            self._alias_of[key] = resolved

    def check(self, root: str, rel: str) -> ArtifactCheck | None:
        return self._checks.get((root, rel))

    def apply(self, root: str, rel: str, check: ArtifactCheck) -> list[WatchRecord]:
        """Store a fresh check; return the change and readiness records it causes."""
        key = (root, rel)
        needers = self._needers.get(key)
        if not needers:
            return []  # nobody needs it any more (dropped while the check ran)
        old = self._checks.get(key)
        self._checks[key] = check
        if old is not None and old.state is check.state:
            return []
        was_present = old is not None and old.state is ArtifactState.PRESENT
        now_present = check.state is ArtifactState.PRESENT
        records: list[WatchRecord] = []
        for run_id in sorted(needers):
            announced = run_id not in self._fresh
            if announced and old is not None:
                records.append(
                    ReceiptChange(run_id, root, rel, old.state, check.state, check.detail)
                )
            if was_present == now_present:
                continue
            self._unmet[run_id] += -1 if now_present else 1
            ready = self._unmet[run_id] == 0
            if ready != (run_id in self._ready):
                (self._ready.add if ready else self._ready.discard)(run_id)
                if announced:
                    records.append(ReadinessChange(run_id, ready))
        return records

    # -- snapshot --------------------------------------------------------------------

    def checks_for(self, run_id: int) -> tuple[ArtifactCheck, ...] | None:
        run = self._runs.get(run_id)
        if run is None:
            return None
        return tuple(
            self._checks.get((run.workspace, rel)) or ArtifactCheck(rel, ArtifactState.MISSING)
            for rel in run.required
        )

    def is_ready(self, run_id: int) -> bool:
        return run_id in self._ready

    def ready_run_ids(self) -> frozenset[int]:
        return frozenset(self._ready)

    def ready_runs(self, run_ids: Iterable[int]) -> list[ParkedRun]:
        return [self._runs[r] for r in run_ids if r in self._ready]
