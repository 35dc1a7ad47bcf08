"""The workspace roots: their health, and the ``watchfiles`` watches over them.

Roots are grouped into a few watches (``roots_per_watch`` roots each; every root watched
once, recursively) rather than one watch per root: each watch polls its Rust event queue
every ``step_ms`` with the GIL, and 100 separate watches at a 10 ms step cost ~8 % of a core
while idle, against ~0.4 % for one. Past ``roots_per_watch * max_watches`` roots the
groups grow instead (1,000 roots: 2 watches of 500, not 40 of 25). A watch is never
mutated: when its root set changes it is replaced, and the caller re-checks the carried-over
roots' paths once the new watch is in place, so no change can fall between the old watch
and the new one.

Root health is probed (``stat`` + ``access``, in a worker thread) when an event names the
root itself (its watch reports the root deleted, renamed, or its mode or owner changed) and
on every poll tick for the roots that are missing or unreadable: a deleted, renamed or
unreadable root is reported and unwatched, a replaced one (same path, new inode) is
re-watched, and a root that comes back is picked up again by the next probe. What reaches a
root without an event, a directory above it renamed, replaced or made unreadable, is found
by comparing the marks of the directories above the roots (one ``stat`` each: a few for
1,000 roots under one parent, not 1,000) every probe interval, then probing the roots below
a changed one; every root is probed at the watcher's reconcile as a backstop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from watchfiles import Change, awatch

from parkbench.core.watch import disk
from parkbench.core.watch.disk import RootStatus
from parkbench.core.watch.records import WorkspaceChange, WorkspaceState

log = logging.getLogger(__name__)

#: After a watch fails to build for no reason a probe can see (the inotify watch limit, ...),
#: retry after this long, doubling for each further failure of the same root up to the cap.
WATCH_RETRY_S = 5.0
WATCH_RETRY_MAX_S = 300.0

#: At most this many watches while each holds ``roots_per_watch`` roots or more: idle CPU
#: grows with the number of watches (each wakes every step), not with the roots they hold.
#: Fewer is cheaper idle but costlier to change: a rebuilt watch re-checks its roots' paths,
#: and builds its inotify watches on the event loop (about 20 ms for 500 roots).
MAX_WATCHES = 2

_OK = WorkspaceState.OK
RawChanges = set[tuple[Change, str]]


@dataclass(eq=False)
class Watch:
    """One ``awatch`` over a few roots; replaced, never mutated, when its roots change."""

    roots: frozenset[str]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    retired: bool = False

    def __post_init__(self) -> None:
        #: (root, root + "/") pairs, for mapping an event path back to its root(s).
        self.prefixes = tuple((root, root.rstrip("/") + "/") for root in sorted(self.roots))


@dataclass(slots=True)
class RootSync:
    """What one :meth:`RootWatches.sync` found."""

    records: list[WorkspaceChange] = field(default_factory=list)
    recheck: set[str] = field(default_factory=set)  # roots whose every path must be re-checked
    handed_over: set[str] = field(default_factory=set)  # roots moved to a rebuilt watch


class RootWatches:
    def __init__(
        self,
        deliver: Callable[[Watch, RawChanges], None],
        *,
        debounce_ms: int,
        step_ms: int,
        roots_per_watch: int,
        max_watches: int = MAX_WATCHES,
    ) -> None:
        self._deliver = deliver
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.roots_per_watch = roots_per_watch
        self.max_watches = max_watches
        self._status: dict[str, RootStatus] = {}
        self._watch_of: dict[str, Watch] = {}
        self._retiring: set[asyncio.Task[None]] = set()
        self._errors: dict[str, tuple[str, float]] = {}  # root -> (why, retry at)
        self._strikes: dict[str, int] = {}  # root -> watch failures so far
        self._failed: list[tuple[Watch, BaseException]] = []
        self._probe_soon: set[str] = set()
        self._unhealthy: set[str] = set()  # roots whose status is not OK
        self._wanted: frozenset[str] = frozenset()
        self._above: set[str] = set()  # the directories above the wanted roots
        self._marks: dict[str, disk.DirMark] = {}  # ... as last seen
        self.on_wake: Callable[[], None] = lambda: None

    def states(self) -> dict[str, WorkspaceState]:
        return {root: status.state for root, status in self._status.items()}

    def probe_soon(self, root: str) -> None:
        self._probe_soon.add(root)

    async def sync(
        self,
        wanted: frozenset[str],
        *,
        probe_ancestors: bool = False,
        sweep: bool = False,
        probe_unhealthy: bool = False,
    ) -> RootSync:
        """Probe roots, report what changed, and fit the watches to the healthy ``wanted``.

        Always probed: new roots, roots an event named, roots whose watch failed; with
        ``probe_unhealthy`` the missing and unreadable ones too (to notice their return);
        with ``probe_ancestors`` the directories above the roots, and every root below one
        that changed (an ancestor renamed or replaced sends the root's watch no event); with
        ``sweep`` every root.
        """
        result = RootSync()
        if wanted != self._wanted:
            self._fit_to(wanted)
        failed = [(w, e) for w, e in self._failed if not w.retired]
        self._failed.clear()
        suspects = {root for watch, _ in failed for root in watch.roots}
        if sweep:
            targets = set(wanted)
        else:
            targets = ((self._probe_soon | suspects) & wanted) | (wanted - self._status.keys())
            if probe_unhealthy:
                targets |= self._unhealthy & wanted
        self._probe_soon.clear()
        # Marks are taken before the roots are probed: a change after the mark shows at the
        # next comparison, and one before it in the probe.
        dirs = sorted(self._above) if probe_ancestors else sorted(self._above - self._marks.keys())
        replaced: set[str] = set()
        if targets or dirs:
            marks, probed = await asyncio.to_thread(disk.probe, dirs, sorted(targets))
            moved = {d for d, mark in marks.items() if self._marks.get(d, mark) != mark}
            self._marks.update(marks)
            if moved:  # every root below a changed directory, unless probed already
                below = {r for r in wanted - probed.keys() if not moved.isdisjoint(disk.parents(r))}
                probed.update(await asyncio.to_thread(disk.probe_roots, sorted(below)))
            now = asyncio.get_running_loop().time()
            for watch, error in failed:
                # A watch fails to build when one of its roots vanished meanwhile (the probe
                # shows it and the rebuild leaves it out); if every root looks fine, back off.
                if all(probed[r].state is _OK for r in watch.roots if r in probed):
                    log.warning("cannot watch %s: %s", sorted(watch.roots), error)
                    for root in watch.roots:
                        strikes = self._strikes[root] = self._strikes.get(root, 0) + 1
                        delay = min(WATCH_RETRY_MAX_S, WATCH_RETRY_S * 2 ** (strikes - 1))
                        self._errors[root] = (str(error) or type(error).__name__, now + delay)
            for root, status in probed.items():
                self._apply_probe(result, root, status, now, replaced)
        result.handed_over = await self._rewatch(set(wanted - self._unhealthy), replaced)
        return result

    def _fit_to(self, wanted: frozenset[str]) -> None:
        """Forget the roots no longer wanted; note the directories above the wanted ones."""
        for root in self._status.keys() - wanted:
            del self._status[root]
            self._unhealthy.discard(root)
            self._errors.pop(root, None)
            self._strikes.pop(root, None)
        self._wanted = wanted
        self._above = {d for root in wanted for d in disk.parents(root)}
        self._marks = {d: mark for d, mark in self._marks.items() if d in self._above}

    def _apply_probe(
        self, result: RootSync, root: str, status: RootStatus, now: float, replaced: set[str]
    ) -> None:
        error = self._errors.get(root)
        if error is not None:
            if status.state is not _OK or error[1] <= now:
                del self._errors[root]
            else:
                status = RootStatus(WorkspaceState.UNREADABLE, None, f"cannot watch it: {error[0]}")
        old = self._status.get(root)
        self._status[root] = status
        (self._unhealthy.discard if status.state is _OK else self._unhealthy.add)(root)
        if old is None:  # first sight: its paths are checked anyway; report only trouble
            if status.state is not _OK:
                result.records.append(WorkspaceChange(root, status.state, status.detail))
            return
        if old.state is status.state and (
            status.state is not _OK or old.identity == status.identity
        ):
            return
        if old.state is status.state:  # same path, another directory: watch the new one
            replaced.add(root)
            detail = "the workspace root was replaced; receipts re-checked"
            result.records.append(WorkspaceChange(root, _OK, detail))
        else:
            result.records.append(WorkspaceChange(root, status.state, status.detail))
        result.recheck.add(root)

    async def _rewatch(self, healthy: set[str], replaced: set[str]) -> set[str]:
        """Make the watched roots exactly ``healthy``, rebuilding only the watches that change.
        Returns the roots carried over into a rebuilt watch (their paths need a re-check)."""
        current = set(self._watch_of)
        drop = (current - healthy) | (replaced & current)
        add = (healthy - current) | (replaced & healthy)
        if not drop and not add:
            return set()
        room = max(self.roots_per_watch, -(-len(healthy) // self.max_watches))
        rebuilt: dict[Watch, set[str]] = {}  # existing watch -> its new roots
        fresh: list[set[str]] = []  # roots of brand-new watches
        for root in drop:
            watch = self._watch_of.pop(root)
            rebuilt.setdefault(watch, set(watch.roots)).discard(root)
        for root in sorted(add):
            # A watch being rebuilt anyway first, then the emptiest other one, then a new one.
            spare = [w for w, roots in rebuilt.items() if len(roots) < room]
            if spare:
                rebuilt[min(spare, key=lambda w: len(rebuilt[w]))].add(root)
                continue
            live = {w for w in self._watch_of.values() if w not in rebuilt and len(w.roots) < room}
            if live:
                watch = min(live, key=lambda w: len(w.roots))
                rebuilt[watch] = {*watch.roots, root}
            elif fresh and len(fresh[-1]) < room:
                fresh[-1].add(root)
            else:
                fresh.append({root})
        handed_over: set[str] = set()
        for old, roots in rebuilt.items():
            self._retire(old)
            handed_over |= (roots & old.roots) - replaced
            if roots:
                self._start(frozenset(roots))
        for roots in fresh:
            self._start(frozenset(roots))
        # Each new watch task builds its RustNotify (inotify watches) in its first step,
        # before any await: yielding once lets them run, so checks made after this return
        # see any change that happens from now on reported by a watch.
        await asyncio.sleep(0)
        return handed_over

    def _start(self, roots: frozenset[str]) -> None:
        watch = Watch(roots)
        watch.task = asyncio.create_task(self._run(watch), name="receipt-watch")
        for root in roots:
            self._watch_of[root] = watch

    def _retire(self, watch: Watch) -> None:
        watch.retired = True
        watch.stop.set()  # awatch checks it every step and returns
        if watch.task is not None and not watch.task.done():
            self._retiring.add(watch.task)
            watch.task.add_done_callback(self._retiring.discard)

    async def _run(self, watch: Watch) -> None:
        try:
            async for raw in awatch(
                *sorted(watch.roots),
                watch_filter=None,  # receipts may have any name: keep every event
                debounce=self.debounce_ms,
                step=self.step_ms,
                stop_event=watch.stop,
                recursive=True,
                ignore_permission_denied=True,  # one unreadable subdirectory must not blind us
            ):
                self._deliver(watch, raw)
        except Exception as error:  # a root vanished mid-build, the inotify limit, ...
            if not watch.retired:
                self._failed.append((watch, error))
                self.on_wake()

    async def close(self) -> None:
        for watch in set(self._watch_of.values()):
            self._retire(watch)
        self._watch_of.clear()
        await asyncio.gather(*self._retiring, return_exceptions=True)
