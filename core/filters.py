"""The review filter's language: text → a typed :class:`Filter`, with problems as values.

``worker:agent-7 workspace:payments "disk quota"`` is three terms, all of which a run must
match (AND). A term is a word, a ``"quoted phrase"`` (``\\"`` and ``\\\\`` escape inside
it), or ``field:value`` where the value is a word or a quoted phrase:

=================  ===================================================================
``text``           a word or phrase: in the title, a reason, the worker or the workspace
``945``            a bare number also finds run 945 (or the number in the text)
``#945``           run 945 itself, in any status (``id:945`` too; several: any of them)
``status:queued``  only that status (``parked`` = needs_attention, ``all`` = every one)
``worker:``        the worker's name contains the value
``workspace:``     the workspace's name or root path contains the value
``task:``          the task's title contains the value (``title:`` too)
``reason:``        the block or failure reason contains the value
=================  ===================================================================

Matching is case-insensitive and literal: ``%``, ``_`` and ``\\`` are plain characters.
:func:`parse_filter` never raises: an unknown field, an empty value or a bad status
becomes a :class:`FilterProblem` (message + hint) and the filter stays what it was.
:func:`format_filter` writes a filter back as text that parses to the same filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from parkbench.core.lifecycle import RunStatus

#: At most this many terms: each is a few LIKE conditions on every row it looks at.
MAX_TERMS = 16
#: A value longer than this is cut (no run's text is searched for by a whole page).
MAX_VALUE = 200
#: A run id has at most this many digits (it is a 64-bit integer in either database).
MAX_ID_DIGITS = 18


class TextField(StrEnum):
    """Where a text term looks."""

    ANY = "text"  # title, block/failure reason, worker, workspace root
    TASK = "task"
    REASON = "reason"
    WORKER = "worker"
    WORKSPACE = "workspace"


#: field name as typed -> what it is; "id" and "status" are not text fields.
FIELD_NAMES: dict[str, TextField | str] = {
    "task": TextField.TASK,
    "title": TextField.TASK,
    "reason": TextField.REASON,
    "worker": TextField.WORKER,
    "workspace": TextField.WORKSPACE,
    "ws": TextField.WORKSPACE,
    "id": "id",
    "run": "id",
    "status": "status",
}
#: status value as typed -> status (None: every status).
STATUS_NAMES: dict[str, RunStatus | None] = {
    **{status.value: status for status in RunStatus},
    **{status.value.replace("_", "-"): status for status in RunStatus},
    "parked": RunStatus.NEEDS_ATTENTION,
    "all": None,
    "any": None,
}


@dataclass(frozen=True, slots=True)
class Term:
    """One text condition: ``value`` appears (case-insensitively) in ``field``."""

    field: TextField
    value: str

    @property
    def run_id(self) -> int | None:
        """A bare number also names a run: the id it would find."""
        if self.field is TextField.ANY and self.value.isascii() and self.value.isdigit():
            return int(self.value) if len(self.value) <= MAX_ID_DIGITS else None
        return None


@dataclass(frozen=True, slots=True)
class Filter:
    """What a filter text says: every term (AND), any of ``run_ids``, maybe a status."""

    terms: tuple[Term, ...] = ()
    run_ids: tuple[int, ...] = ()
    #: True when the text named a status (``status`` is then the one, None for "all").
    names_status: bool = False
    status: RunStatus | None = None

    @property
    def empty(self) -> bool:
        return not (self.terms or self.run_ids or self.names_status)


@dataclass(frozen=True, slots=True)
class FilterProblem:
    """Why (part of) a filter text was not understood, and what to type instead."""

    message: str
    hint: str
    #: The offending part's span in the text.
    start: int = 0
    end: int = 0


@dataclass(frozen=True, slots=True)
class ParsedFilter:
    filter: Filter
    problems: tuple[FilterProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class _Token:
    field: str | None  # as typed, lower-cased; None for a plain word or phrase
    value: str
    quoted: bool
    start: int
    end: int


_FIELD = re.compile(r"([A-Za-z_]+):")
_NUMBER = re.compile(r"#?([0-9]+)")


def _phrase(text: str, at: int) -> tuple[str, int]:
    """The quoted phrase opening at ``text[at] == '"'``: its value and where it ends.
    An unclosed quote runs to the end of the text (typing it is not an error)."""
    out: list[str] = []
    index = at + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in '"\\':
            out.append(text[index + 1])
            index += 2
        elif char == '"':
            return "".join(out), index + 1
        else:
            out.append(char)
            index += 1
    return "".join(out), index


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        start = index
        field: str | None = None
        named = _FIELD.match(text, index)
        if named:
            field = named.group(1).lower()
            index = named.end()
        if index < len(text) and text[index] == '"':
            value, index = _phrase(text, index)
            tokens.append(_Token(field, value, True, start, index))
            continue
        end = index
        while end < len(text) and not text[end].isspace():
            end += 1
        tokens.append(_Token(field, text[index:end], False, start, end))
        index = end
    return tokens


def _fields_hint() -> str:
    return 'fields: worker: workspace: task: reason: status: id: #945; quote a colon: "error:"'


def _long_id(value: str, span: tuple[int, int]) -> FilterProblem:
    return FilterProblem(
        f"no run has an id that long ({value[:24]}…)", "type a run id such as #945", *span
    )


def parse_filter(text: str) -> ParsedFilter:
    """``text`` as a :class:`Filter`; problems are reported, never raised."""
    terms: list[Term] = []
    run_ids: list[int] = []
    problems: list[FilterProblem] = []
    names_status = False
    status: RunStatus | None = None
    for token in _tokens(text):
        value = token.value[:MAX_VALUE]
        span = (token.start, token.end)
        if token.field is None:
            number = None if token.quoted else _NUMBER.fullmatch(value)
            if number and value.startswith("#"):
                if len(number.group(1)) > MAX_ID_DIGITS:
                    problems.append(_long_id(value, span))
                else:
                    run_ids.append(int(number.group(1)))
            elif value:
                terms.append(Term(TextField.ANY, value))
            continue
        kind = FIELD_NAMES.get(token.field)
        if kind is None:
            problems.append(FilterProblem(f"unknown field {token.field}:", _fields_hint(), *span))
            continue
        if not value.strip():
            problems.append(
                FilterProblem(
                    f"{token.field}: needs a value",
                    f'type {token.field}:VALUE, or {token.field}:"two words"',
                    *span,
                )
            )
            continue
        if kind == "id":
            digits = value.strip().lstrip("#")
            if not (digits.isascii() and digits.isdigit()):
                problems.append(
                    FilterProblem(
                        f"{token.field}: takes a run id, not {value[:40]!r}",
                        "type #945 or id:945",
                        *span,
                    )
                )
                continue
            if len(digits) > MAX_ID_DIGITS:
                problems.append(_long_id(value, span))
                continue
            run_ids.append(int(digits))
        elif kind == "status":
            key = value.strip().lower().replace(" ", "_")
            if key not in STATUS_NAMES:
                problems.append(
                    FilterProblem(
                        f"unknown status {value[:40]!r}",
                        "statuses: " + ", ".join(s.value for s in RunStatus) + ", parked, all",
                        *span,
                    )
                )
                continue
            if names_status and STATUS_NAMES[key] is not status:
                problems.append(
                    FilterProblem(
                        "a filter names one status",
                        "keep one status: term (status:all shows every status)",
                        *span,
                    )
                )
                continue
            names_status, status = True, STATUS_NAMES[key]
        else:
            assert isinstance(kind, TextField)
            terms.append(Term(kind, value))
    if len(terms) + len(run_ids) > MAX_TERMS:
        problems.append(
            FilterProblem(
                f"too many terms ({len(terms) + len(run_ids)}; at most {MAX_TERMS})",
                "narrow the filter with fewer, longer phrases",
                0,
                len(text),
            )
        )
    parsed = Filter(
        terms=tuple(dict.fromkeys(terms)),
        run_ids=tuple(dict.fromkeys(run_ids)),
        names_status=names_status,
        status=status,
    )
    return ParsedFilter(parsed, tuple(problems))


def quote(value: str) -> str:
    """``value`` as one term: bare when it is a plain word, else a quoted phrase."""
    plain = (
        value
        and not any(char.isspace() or char in '"\\' for char in value)
        and not _FIELD.match(value)
        and not value.startswith("#")
    )
    if plain:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_filter(parsed: Filter) -> str:
    """A text that :func:`parse_filter` reads back as ``parsed``."""
    parts: list[str] = []
    if parsed.names_status:
        parts.append(f"status:{'all' if parsed.status is None else parsed.status.value}")
    parts += [f"#{run_id}" for run_id in parsed.run_ids]
    for term in parsed.terms:
        prefix = "" if term.field is TextField.ANY else f"{term.field.value}:"
        parts.append(prefix + quote(term.value))
    return " ".join(parts)
