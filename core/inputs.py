"""Validation of text and JSON that enters storage from agents and reviewers.

Storage keeps text exactly as given (markup, escapes, emoji, bidi: all data) with two
exceptions: what no database can hold faithfully (NUL, lone surrogates) is refused, and
anything that looks like a claim token is redacted so a secret never lands in a row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import cast

from parkbench.core.errors import ValidationError
from parkbench.core.tokens import redact, redact_json

MAX_TITLE = 64 * 1024
MAX_NAME = 256
MAX_REASON = 1024 * 1024
MAX_JSON = 1024 * 1024
#: A reviewer's note: a comment, not a report (long detail belongs in a workspace file).
MAX_NOTE = 10_000
#: Priorities are 32-bit columns on PostgreSQL: every backend refuses the same range.
MIN_PRIORITY = -(2**31)
MAX_PRIORITY = 2**31 - 1
DEFAULT_LEASE_S = 300
#: The spec's bounds: a shorter lease would end about as soon as it was granted.
MIN_LEASE_S = 1
MAX_LEASE_S = 24 * 3600


def _check_encodable(field: str, value: str) -> None:
    if "\x00" in value:
        raise ValidationError(
            f"{field} contains a NUL character", hint=f"remove NUL bytes from the {field}"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            f"{field} is not valid UTF-8 (it contains a lone surrogate)",
            hint=f"send the {field} as valid UTF-8 text",
        ) from None


def required_text(field: str, value: str | None, *, limit: int, hint: str) -> str:
    """Trimmed, non-empty, encodable, within ``limit`` characters, token-redacted."""
    if value is None or not value.strip():
        raise ValidationError(f"{field} is required and must not be blank", hint=hint)
    value = value.strip()
    _check_encodable(field, value)
    if len(value) > limit:
        raise ValidationError(
            f"{field} is {len(value):,} characters; the limit is {limit:,}",
            hint=f"shorten the {field}, or put long detail in a file under the workspace",
        )
    return redact(value)


def reason(value: str | None) -> str:
    return required_text(
        "reason", value, limit=MAX_REASON, hint='give one with --reason "why this is needed"'
    )


def note(value: str | None) -> str:
    """A reviewer's note: required, trimmed, at most :data:`MAX_NOTE` characters (lines
    kept as written)."""
    return required_text(
        "note", value, limit=MAX_NOTE, hint='give one with --text "looking at this"'
    )


def priority(value: int) -> int:
    """A run's priority (higher runs first), within the 32-bit range of the column."""
    if not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise ValidationError(
            f"priority must be between {MIN_PRIORITY:,} and {MAX_PRIORITY:,}, got {value}",
            hint="pass a smaller --priority (higher runs first)",
        )
    return value


def title(value: str | None) -> str:
    return required_text("title", value, limit=MAX_TITLE, hint='e.g. parkbench enqueue "Fix x"')


def name(field: str, value: str | None) -> str:
    return required_text(field, value, limit=MAX_NAME, hint=f"pass a non-blank --{field}")


def json_object(field: str, value: Mapping[str, object] | str | None) -> dict[str, object]:
    """Parse (if needed) and redact a JSON object; returns the redacted object."""
    return json_object_text(field, value)[0]


def json_object_text(
    field: str, value: Mapping[str, object] | str | None
) -> tuple[dict[str, object], str]:
    """:func:`json_object` and the JSON text it is stored as (encoded once, by the check)."""
    if value is None:
        return {}, "{}"
    if isinstance(value, str):
        _check_encodable(field, value)
        if len(value) > MAX_JSON:
            raise ValidationError(
                f"{field} is {len(value):,} characters of JSON; the limit is {MAX_JSON:,}",
                hint=f"keep {field} small and put large data in workspace files",
            )
        parsed = _parse(
            field, value, hint=f"""pass {field} as a JSON object, e.g. '{{"k": "v"}}'"""
        )
    else:
        parsed = value
    if not isinstance(parsed, Mapping):
        raise ValidationError(
            f"{field} must be a JSON object, got {type(parsed).__name__}",
            hint=f"""pass {field} as a JSON object, e.g. '{{"key": "value"}}'""",
        )
    # redact_json maps a dict to a dict with str keys (it redacts str(key) for every key).
    redacted = cast("dict[str, object]", _redacted(field, dict(parsed)))
    return redacted, _encoded(field, redacted)


def json_value(field: str, value: object) -> object:
    if isinstance(value, str):
        value = _parse(field, value, hint=f"pass {field} as JSON, e.g. '{{\"ok\": true}}'")
    redacted = _redacted(field, value)
    _encoded(field, redacted)
    return redacted


def _parse(field: str, text: str, *, hint: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationError(
            f"{field} is not valid JSON: {error.msg} at position {error.pos}", hint=hint
        ) from None
    except RecursionError:  # e.g. 100,000 nested brackets, well inside the size limit
        raise ValidationError(f"{field} is nested too deeply", hint=hint) from None


def _redacted(field: str, value: object) -> object:
    try:
        return redact_json(value)
    except RecursionError:
        raise ValidationError(
            f"{field} is nested too deeply", hint=f"flatten the {field}"
        ) from None


def _encoded(field: str, value: object) -> str:
    """The JSON text that will be stored: serialisable, valid UTF-8, within the limit
    (whether it arrived as text or as an object)."""
    try:
        encoded = dump(value)
    except (TypeError, ValueError, RecursionError) as error:
        raise ValidationError(
            f"{field} cannot be stored as JSON: {error}",
            hint=f"pass {field} as plain JSON: objects, arrays, strings, numbers, booleans",
        ) from None
    _check_encodable(field, encoded)
    if len(encoded) > MAX_JSON:
        raise ValidationError(
            f"{field} is {len(encoded):,} characters of JSON; the limit is {MAX_JSON:,}",
            hint=f"keep {field} small and put large data in workspace files",
        )
    return encoded


def dump(value: object) -> str:
    # ensure_ascii=False keeps text as written; surrogates then fail loudly in encode.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def load(text: str | None) -> object:
    return None if text is None else json.loads(text)


def load_object(text: str | None) -> dict[str, object] | None:
    """:func:`load` for a column only ever written from :func:`json_object` (metadata, event
    details): its text is a JSON object or NULL."""
    return cast("dict[str, object] | None", load(text))


def lease_ms(lease_s: float | None, *, default_s: float, max_s: float) -> int:
    """A lease length in milliseconds: ``lease_s`` seconds, or ``default_s`` when None.

    Refused outside [MIN_LEASE_S, ``max_s``] (NaN included: every comparison with it fails).
    """
    lease = default_s if lease_s is None else lease_s
    if not MIN_LEASE_S <= lease <= max_s:
        raise ValidationError(
            f"lease must be between {MIN_LEASE_S} and {max_s:g} seconds, got {lease:g}",
            hint=f"pass --lease SECONDS from {MIN_LEASE_S} to {max_s:g}",
        )
    return int(lease * 1000)
