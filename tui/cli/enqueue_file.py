"""``parkbench enqueue --from FILE.jsonl``: one task per line, all or nothing per file.

Each line is a JSON object with the fields of ``parkbench enqueue``'s options — ``title``
(required), ``workspace``, ``priority``, ``max_attempts``, ``require`` (a list of paths),
``missing_policy``, ``metadata`` (an object), and also ``run_metadata`` and
``max_runtime_s``; options given on the command line are the defaults for every line. Blank
lines are skipped. Every line is checked before anything is written; each bad line is
reported with its line number.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from parkbench.core.errors import ValidationError

if TYPE_CHECKING:
    from parkbench.core.store import NewTask

FIELDS = {
    "title": str,
    "workspace": str,
    "priority": int,
    "max_attempts": int,
    "require": list,
    "missing_policy": str,
    "metadata": dict,
    "run_metadata": dict,
    "max_runtime_s": (int, float),
}

KIND_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object"}


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"line": self.line, "message": self.message}


ContractMerger = Callable[[object, list[str], str | None], dict[str, object]]


def read_tasks(
    lines: Iterable[str], *, defaults: NewTask, merge_contract: ContractMerger
) -> tuple[list[NewTask], list[int], list[LineError]]:
    """The tasks of a JSON-lines file, the line number of each, and the lines' errors."""
    found: list[NewTask] = []
    numbers: list[int] = []
    errors: list[LineError] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            found.append(_task(text, defaults, merge_contract))
            numbers.append(number)
        except ValidationError as error:
            errors.append(LineError(number, error.message))
    return found, numbers, errors


def _task(text: str, defaults: NewTask, merge_contract: ContractMerger) -> NewTask:
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationError(f"not JSON: {error.msg} (column {error.colno})") from None
    if not isinstance(fields, dict):
        raise ValidationError(f"expected a JSON object, got {type(fields).__name__}")
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}")
    for name, value in fields.items():
        kind = FIELDS[name]
        if isinstance(value, bool) or not isinstance(value, kind):  # bool is an int too
            expected = KIND_NAMES.get(kind, "number")  # type: ignore[call-overload]
            raise ValidationError(f"{name} must be {expected}, got {json.dumps(value)}")
    if "title" not in fields:
        raise ValidationError("title is required")
    if "workspace" not in fields and not str(defaults.workspace):
        raise ValidationError("workspace is required (in the line, or --workspace)")
    policy = fields.get("missing_policy")
    if policy is not None and policy.strip().lower() not in ("reject", "park"):
        raise ValidationError(f"missing_policy must be reject or park, got {policy!r}")
    require = fields.get("require", [])
    if not all(isinstance(path, str) for path in require):
        raise ValidationError("require must be a list of paths (strings)")
    metadata = merge_contract(fields.get("metadata", defaults.metadata), require, policy)
    changes: dict[str, object] = {
        name: fields[name]
        for name in (
            "title",
            "workspace",
            "priority",
            "max_attempts",
            "run_metadata",
            "max_runtime_s",
        )
        if name in fields
    }
    return replace(defaults, metadata=metadata, **changes)  # type: ignore[arg-type]
