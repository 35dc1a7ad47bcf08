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

A run's cause is computed once, when it is parked (:func:`cause_key`, stored in
``runs.cause_key`` by the same UPDATE that parks it), so the database groups the parked
runs by an indexed column (:mod:`parkbench.core.store.causes`) and :class:`CauseTally` only
folds its (key, worker) groups into causes; a group names its runs by the keys it holds
(:class:`CauseSelector`), never by id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from parkbench.core.contracts import stored_contract
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
#: Distinct path segments remembered by :func:`path_pattern` (each is masked once).
MEMO_SEGMENTS = 100_000
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


@lru_cache(maxsize=MEMO_SEGMENTS)
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


#: The stored key's kind codes (the key's first character; ``:`` then the key follows).
_CODES = {CauseKind.REASON: "r", CauseKind.MISSING_RECEIPTS: "m", CauseKind.NO_REASON: "n"}
_KINDS = {code: kind for kind, code in _CODES.items()}


def cause_key(reason: str | None, required: Iterable[str] = ()) -> str | None:
    """What ``runs.cause_key`` holds for a run whose block reason is ``reason`` and whose
    contract names ``required`` (:func:`cause_of`, kind and key in one string:
    ``r:disk quota exceeded on runner <n>``, ``m:missing receipts: out/run-<n>/a.json``);
    None for a run without a reason.

    Every write that parks a run computes it, in the same UPDATE, and so did the migration
    that added the column (for the rows already there): the database then groups the
    parked runs by a plain indexed column. A change to what this returns for a stored
    reason needs a new revision that recomputes the column, or old and new runs of one
    cause fall into two groups."""
    if reason is None:
        return None
    kind, key = cause_of(reason, required)
    return f"{_CODES[kind]}:{key}"


def run_cause_key(
    reason: str | None, task_metadata_json: str | None, metadata_json: str | None
) -> str | None:
    """:func:`cause_key` of a stored run: its contract read from its task's and its own
    metadata (parsed only for a reason that starts as a missing-receipts reason does).
    What every parking write and the migration call."""
    required: tuple[str, ...] = ()
    if reason is not None and reason.startswith(MISSING_PREFIX):
        required = stored_contract(task_metadata_json, metadata_json).required
    return cause_key(reason, required)


def key_parts(stored: str | None) -> tuple[CauseKind, str]:
    """A stored cause key's kind and key (None: a run without a reason)."""
    if stored is None:
        return CauseKind.NO_REASON, NO_REASON
    return _KINDS[stored[0]], stored[2:]


@dataclass(frozen=True, slots=True)
class CauseSelector:
    """Which parked runs a cause holds: those whose stored cause key is in ``keys`` (one,
    or more when causes of two kinds read the same: a worker's own "missing receipts: x"
    and completion's), and (``null``) those without a reason.
    :func:`parkbench.core.store.causes.runs_of` finds them."""

    keys: frozenset[str] = frozenset()
    null: bool = False

    def holds(self, stored: str | None) -> bool:
        """Whether a run whose ``runs.cause_key`` is ``stored`` belongs."""
        return self.null if stored is None else stored in self.keys


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
    example: str  # its oldest run's reason, at most EXAMPLE_CHARS
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


#: A (stored cause key, worker) group of parked runs, as the database groups them.
Bucket = tuple[str | None, str | None]
#: Given a group's earliest parked time and the buckets holding a run parked then: that
#: oldest run's (stored cause key, reason), its smallest id among equals; None if gone.
OldestReason = Callable[[int, Sequence[Bucket]], tuple[str | None, str | None] | None]


@dataclass(slots=True)
class _Group:
    count: int
    oldest_ms: int
    newest_ms: int
    oldest: list[Bucket]  # the buckets holding a run parked at oldest_ms
    workers: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    null: bool = False


def _no_example(oldest_ms: int, buckets: Sequence[Bucket]) -> tuple[str | None, str | None]:
    return min(buckets, key=lambda bucket: bucket[0] or "")[0], ""


class CauseTally:
    """Folds the database's (cause key, worker) groups of parked runs into causes: counts
    summed, times kept, workers united, and keys that read the same (two kinds of one
    text, or a run without a reason and a reason of spaces) merged. Memory: the groups and
    their buckets, never a run."""

    def __init__(self) -> None:
        self._groups: dict[str, _Group] = {}
        self.runs = 0

    def add(
        self,
        stored: str | None,
        worker: str | None,
        count: int,
        oldest_ms: int,
        newest_ms: int,
    ) -> None:
        """Count ``count`` parked runs whose ``runs.cause_key`` is ``stored``, parked by
        ``worker`` between ``oldest_ms`` and ``newest_ms``."""
        key = key_parts(stored)[1]
        group = self._groups.get(key)
        bucket = (stored, worker)
        if group is None:
            group = self._groups[key] = _Group(0, oldest_ms, newest_ms, [bucket])
        elif oldest_ms < group.oldest_ms:
            group.oldest_ms, group.oldest = oldest_ms, [bucket]
        elif oldest_ms == group.oldest_ms:
            group.oldest.append(bucket)
        group.newest_ms = max(group.newest_ms, newest_ms)
        group.count += count
        if stored is None:
            group.null = True
        else:
            group.keys.add(stored)
        if worker:
            group.workers.add(worker)
        self.runs += count

    def result(self, limit: int | None = None, oldest: OldestReason = _no_example) -> Causes:
        """The groups, largest first (then oldest first, then by key): the first
        ``limit`` of them, or all. ``oldest`` finds each listed group's oldest run: its
        reason is the example, its key's kind the group's (without it: no example)."""
        ordered = sorted(
            self._groups.items(), key=lambda item: (-item[1].count, item[1].oldest_ms, item[0])
        )
        chosen = ordered if limit is None else ordered[: max(0, limit)]
        groups = []
        for key, group in chosen:
            found = oldest(group.oldest_ms, group.oldest) or _no_example(0, group.oldest)
            groups.append(
                CauseGroup(
                    key=key,
                    kind=key_parts(found[0])[0],
                    count=group.count,
                    oldest_ms=group.oldest_ms,
                    newest_ms=group.newest_ms,
                    workers=tuple(sorted(group.workers)[:WORKERS_LISTED]),
                    worker_count=len(group.workers),
                    example=(found[1] or "")[:EXAMPLE_CHARS],
                    selector=CauseSelector(frozenset(group.keys), group.null),
                )
            )
        return Causes(tuple(groups), groups_total=len(ordered), runs_total=self.runs)
