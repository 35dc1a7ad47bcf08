"""Causes: parked runs folded by the *shape* of their reason.

:func:`shape` masks what varies between two runs stuck on the same thing — timestamps,
UUIDs, URLs, paths, quoted values, hashes, ids and numbers — so "disk quota exceeded on
runner 7 writing build/a1" and "disk quota exceeded on runner 3 writing build/b9" read
``disk quota exceeded on runner <n> writing <path>``: one cause. A run parked because its
receipts were missing (the reason completion writes, ``missing receipts: a, b``, naming
paths of its contract) groups by the *pattern* of the missing paths instead
(:func:`path_pattern`: ``out/run-17/report.json`` → ``out/run-<n>/report.json``), so the
cause still says which receipt is missing.

Pure and deterministic: the same text always gives the same key, a key is its own shape
(``shape(shape(x)) == shape(x)``), and every reason has exactly one key. Keys are plain
strings; nothing here renders them (untrusted text is escaped where it is shown).
:class:`CauseTally` folds runs into groups, a distinct reason text at a time (the database
groups the runs first: :mod:`parkbench.core.store.causes`); a group names its runs by the
reason texts it holds (:class:`CauseSelector`), never by id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from parkbench.core.records import iso_ms

#: A reason is masked on at most this many characters (a megabyte of agent output is one
#: cause by its start, and costs no more than its start to group).
SHAPE_INPUT_CHARS = 600
#: A cause key is at most this long.
KEY_CHARS = 240
#: An example reason is kept to this many characters.
EXAMPLE_CHARS = 400
#: Workers named per cause (``worker_count`` counts them all).
WORKERS_LISTED = 10
#: Distinct reason texts remembered by a :class:`CauseTally` (each is masked once).
MEMO_REASONS = 100_000
#: The prefix completion writes when it parks a run for missing receipts.
MISSING_PREFIX = "missing receipts: "
#: The key of a parked run with no reason at all.
NO_REASON = "(no reason given)"

TIME, ID, URL, PATH, QUOTED, HASH, NUMBER = (
    "<time>",
    "<id>",
    "<url>",
    "<path>",
    "<quoted>",
    "<hash>",
    "<n>",
)

_DATE = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
_UUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_URL = r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'`<>]+"
# A path: a run of path characters with at least one slash (``build/a1``, ``/tmp/x``,
# ``./out/``, ``~/w``). A single slash between words ("and/or") is a path too: the cost of
# a false fold is a coarser cause, never a lost run.
_PATH_CHARS = r"[\w.\-~+@%=,:]"
_PATH = rf"(?<![\w.\-~+@%=,:])(?:~|\.{{1,2}})?/?{_PATH_CHARS}*(?:/{_PATH_CHARS}*)+|/"
# A single-quoted value stands apart from words ("it's" is no quote); a placeholder's
# ``<...>`` counts as a word (``0''`` -> ``<n>''`` stays: the quotes were never a value).
_QUOTED = r"\"[^\"\n]{0,500}\"|(?<![\w>])'[^'\n]{0,500}'(?![\w<])|`[^`\n]{0,500}`|“[^”\n]{0,500}”"
# Hex of 7+ with a letter and a digit (commit ids, digests), or 0x...
_HASH = r"\b0[xX][0-9A-Fa-f]+\b|\b(?=[0-9]*[A-Fa-f])(?=[A-Fa-f]*[0-9])[0-9A-Fa-f]{7,}\b"
# A word that mixes letters and digits (``a1``, ``b9``, ``x86``, ``node3``), not a number
# with a unit (``5s``, ``12MB``: the number is masked, the unit kept).
_ID = r"\b(?=\w*\d)(?=\w*[^\W\d])(?!\d+(?:[.,]\d+)*[A-Za-z%]{1,3}\b)\w+\b"
_NUMBER = r"\d+(?:[.,]\d+)*"

_QUOTES = re.compile(_QUOTED)
# Within one whitespace-free token (quoted values are masked first, over the whole text).
_TOKEN = re.compile(
    rf"(?P<time>{_DATE}|{_CLOCK})|(?P<id>{_UUID})|(?P<url>{_URL})"
    rf"|(?P<path>{_PATH})|(?P<hash>{_HASH})|(?P<ident>{_ID})|(?P<n>{_NUMBER})"
)
# Inside one path segment: the same masks but paths and quotes (a segment has no slash).
_SEGMENT = re.compile(
    rf"(?P<time>{_DATE}|{_CLOCK})|(?P<id>{_UUID})|(?P<hash>{_HASH})|(?P<ident>{_ID})"
    rf"|(?P<n>{_NUMBER})"
)
#: What a token needs for any mask to apply: a digit or a slash (every other token, most
#: words, is kept as it is without running the patterns).
_MASKABLE = re.compile(r"[\d/]")
_MASKS = {
    "time": TIME,
    "id": ID,
    "url": URL,
    "path": PATH,
    "hash": HASH,
    "ident": ID,
    "n": NUMBER,
}


def _mask(match: re.Match[str]) -> str:
    kind = match.lastgroup
    assert kind is not None
    return _MASKS[kind]


def _bounded(text: str) -> str:
    if len(text) <= KEY_CHARS:
        return text
    return text[: KEY_CHARS - 1].rstrip() + "…"


def shape(reason: str) -> str:
    """The reason's shape: what varies masked, whitespace collapsed, at most
    :data:`KEY_CHARS` long; ``shape(shape(x)) == shape(x)``.

    Masking one value can make another appear (``':'':'`` masks its middle ``''``, and the
    ``'…'`` left around it is a quoted value too), so the masks are applied until nothing
    changes. That ends: after the first pass, a pass that changes the text removes quote
    characters, digits or slashes (no placeholder holds any) or cuts it shorter. Most
    reasons take two passes, the second finding nothing more to mask."""
    text = reason[:SHAPE_INPUT_CHARS]
    while True:
        masked = _mask_once(text)
        if masked == text:
            return masked
        text = masked


def _mask_once(text: str) -> str:
    # Whitespace is collapsed first, so a quote is found as the next pass would see it.
    text = " ".join(text.split())
    if '"' in text or "'" in text or "`" in text or "“" in text:
        text = _QUOTES.sub(QUOTED, text)
    maskable, sub = _MASKABLE.search, _TOKEN.sub
    tokens = [sub(_mask, token) if maskable(token) else token for token in text.split()]
    return _bounded(" ".join(tokens)) if tokens else NO_REASON


def path_pattern(path: str) -> str:
    """A receipt path's pattern: each segment's numbers, ids, hashes and dates masked, the
    rest (directories, names, extensions) kept. ``out/run-17/a1.json`` →
    ``out/run-<n>/<id>.json``."""
    return "/".join(_segment_pattern(segment) for segment in path.split("/"))


@lru_cache(maxsize=MEMO_REASONS)
def _segment_pattern(segment: str) -> str:
    # Segments repeat across receipt paths (``out``, ``report.json``): each is masked once.
    return _SEGMENT.sub(_mask, segment)


class CauseKind(StrEnum):
    REASON = "reason"  # a block reason, by its shape
    MISSING_RECEIPTS = "missing_receipts"  # parked by completion: by the missing paths' pattern
    NO_REASON = "no_reason"


def missing_paths(reason: str, required: Iterable[str]) -> tuple[str, ...] | None:
    """The receipt paths a missing-receipts reason names, when it is one: the text
    completion writes (``missing receipts: a, b``) naming only paths of the run's contract
    (``required``); else None (a worker's own words that start the same way)."""
    if not reason.startswith(MISSING_PREFIX):
        return None
    wanted = set(required)
    if not wanted:
        return None
    named = tuple(reason[len(MISSING_PREFIX) :].split(", "))
    if all(path in wanted for path in named):
        return named
    return None


def cause_of(reason: str | None, required: Iterable[str] = ()) -> tuple[CauseKind, str]:
    """A parked run's cause: its kind and its key (the same reason and contract, the same
    answer). ``required`` is the run's contract paths (only read for a reason that starts
    as a missing-receipts reason does)."""
    if reason is None or not reason.strip():
        return CauseKind.NO_REASON, NO_REASON
    paths = missing_paths(reason, required) if reason.startswith(MISSING_PREFIX) else None
    if paths is not None:
        patterns = dict.fromkeys(path_pattern(path) for path in paths)
        return CauseKind.MISSING_RECEIPTS, _bounded(MISSING_PREFIX + ", ".join(patterns))
    return CauseKind.REASON, shape(reason)


@dataclass(frozen=True, slots=True)
class CauseSelector:
    """Which parked runs a cause holds, by what the pass read of their reasons (not their
    ids): a run belongs to the cause when its reason text (all of a missing-receipts
    reason, the first :data:`SHAPE_INPUT_CHARS` characters of any other) is in ``texts``;
    or its missing-receipts reason and whether its contract names every path of it are in
    ``receipts``; or (``null``) it has no reason. :func:`parkbench.core.store.causes.runs_of`
    finds the runs."""

    texts: frozenset[str] = frozenset()
    receipts: frozenset[tuple[str, bool]] = frozenset()
    null: bool = False

    def holds(self, text: str | None, contract_names_all: bool | None) -> bool:
        """Whether a run whose reason reads ``text`` belongs (``contract_names_all``: see
        :func:`fold_key`)."""
        if text is None:
            return self.null
        if contract_names_all is None:
            return text in self.texts
        return (text, contract_names_all) in self.receipts


def fold_key(text: str | None, contract_names_all: bool | None) -> tuple[str | None, bool | None]:
    """What decides a run's cause: its reason text and, for a missing-receipts reason only,
    whether its contract names every path the reason names (None for any other)."""
    if text is None or not text.startswith(MISSING_PREFIX):
        return text, None
    return text, bool(contract_names_all)


@dataclass(frozen=True, slots=True)
class CauseGroup:
    """One cause: how many parked runs it holds, and (``selector``) which."""

    key: str
    kind: CauseKind
    count: int
    oldest_ms: int  # the earliest time one of its runs was parked
    newest_ms: int
    workers: tuple[str, ...]  # up to WORKERS_LISTED, sorted
    worker_count: int  # every distinct worker (runs without one are not counted)
    example: str  # one run's reason (its oldest run's), at most EXAMPLE_CHARS
    selector: CauseSelector = field(default_factory=CauseSelector, compare=False, repr=False)

    def to_dict(self) -> dict[str, object]:
        """The stable JSON shape (``parkbench causes --json``, summary.json)."""
        return {
            "key": self.key,
            "kind": self.kind.value,
            "count": self.count,
            "oldest_blocked_at": iso_ms(self.oldest_ms),
            "newest_blocked_at": iso_ms(self.newest_ms),
            "workers": list(self.workers),
            "worker_count": self.worker_count,
            "example_reason": self.example,
        }


@dataclass(frozen=True, slots=True)
class Causes:
    """Every parked run's cause, the largest groups first."""

    groups: tuple[CauseGroup, ...]  # at most ``limit`` of them
    groups_total: int
    runs_total: int

    def to_dict(self) -> dict[str, object]:
        return {
            "causes": [group.to_dict() for group in self.groups],
            "causes_total": self.groups_total,
            "causes_listed": len(self.groups),
            "needs_attention": self.runs_total,
        }


@dataclass(slots=True)
class _Group:
    kind: CauseKind
    count: int
    oldest_ms: int
    newest_ms: int
    example: str
    first_id: int  # the smallest run id among the oldest ones' (ties of the example)
    workers: set[str] = field(default_factory=set)
    texts: set[str] = field(default_factory=set)
    receipts: set[tuple[str, bool]] = field(default_factory=set)
    null: bool = False


class CauseTally:
    """Folds parked runs into causes, a run or (:meth:`add_many`) a set of runs with the same
    reason text at a time, as the database groups them. Memory: the groups, the distinct
    reason texts (each masked once) and a memo of them (cleared past :data:`MEMO_REASONS`);
    never a run id."""

    def __init__(self) -> None:
        self._groups: dict[str, _Group] = {}
        #: fold_key -> its group (each distinct text is masked once).
        self._memo: dict[tuple[str | None, bool | None], _Group] = {}
        self.runs = 0

    def add(
        self,
        run_id: int,
        reason: str | None,
        blocked_ms: int,
        worker: str | None,
        required: tuple[str, ...] = (),
    ) -> None:
        """Count one parked run. ``required``: its contract's paths, read only for a
        reason that starts as a missing-receipts reason does."""
        names_all = None
        if reason is not None and reason.startswith(MISSING_PREFIX):
            names_all = missing_paths(reason, required) is not None
        self.add_many(reason, names_all, worker, 1, blocked_ms, blocked_ms, run_id)

    def add_many(
        self,
        text: str | None,
        contract_names_all: bool | None,
        worker: str | None,
        count: int,
        oldest_ms: int,
        newest_ms: int,
        first_id: int,
    ) -> None:
        """Count ``count`` parked runs whose reason reads ``text`` (see :func:`fold_key`),
        parked by ``worker`` between ``oldest_ms`` and ``newest_ms``, the smallest id
        ``first_id``."""
        seen = fold_key(text, contract_names_all)
        group = self._memo.get(seen)
        if group is None:
            reason, names_all = seen
            named = () if not names_all or reason is None else _named(reason)
            kind, key = cause_of(reason, named)
            group = self._groups.get(key)
            if group is None:
                example = (reason or "")[:EXAMPLE_CHARS]
                group = self._groups[key] = _Group(kind, 0, oldest_ms, newest_ms, example, first_id)
            if reason is None:
                group.null = True
            elif names_all is None:
                group.texts.add(reason)
            else:
                group.receipts.add((reason, names_all))
            if len(self._memo) >= MEMO_REASONS:
                self._memo.clear()
            self._memo[seen] = group
        if (oldest_ms, first_id) < (group.oldest_ms, group.first_id):
            group.oldest_ms, group.first_id = oldest_ms, first_id
            group.example = (text or "")[:EXAMPLE_CHARS]
        if newest_ms > group.newest_ms:
            group.newest_ms = newest_ms
        group.count += count
        if worker:
            group.workers.add(worker)
        self.runs += count

    def result(self, limit: int | None = None) -> Causes:
        """The groups, largest first (then oldest first, then by key): the first
        ``limit`` of them, or all."""
        ordered = sorted(
            self._groups.items(), key=lambda item: (-item[1].count, item[1].oldest_ms, item[0])
        )
        chosen = ordered if limit is None else ordered[: max(0, limit)]
        groups = tuple(
            CauseGroup(
                key=key,
                kind=group.kind,
                count=group.count,
                oldest_ms=group.oldest_ms,
                newest_ms=group.newest_ms,
                workers=tuple(sorted(group.workers)[:WORKERS_LISTED]),
                worker_count=len(group.workers),
                example=group.example,
                selector=CauseSelector(
                    frozenset(group.texts), frozenset(group.receipts), group.null
                ),
            )
            for key, group in chosen
        )
        return Causes(groups, groups_total=len(ordered), runs_total=self.runs)


def _named(reason: str) -> tuple[str, ...]:
    return tuple(reason[len(MISSING_PREFIX) :].split(", "))
