"""Stable, machine-readable errors.

Every failure the core reports is one of these classes. Each carries a stable ``code``
(the spec's table), a one-line ``message`` and a ``hint`` naming the next useful command.
The CLI maps ``code`` to an exit status with :data:`EXIT_CODES`; the TUI shows message and hint.
"""

from __future__ import annotations

from typing import ClassVar


class ParkbenchError(Exception):
    """Base class: a failure with a stable code, a one-line message and a hint."""

    code: ClassVar[str] = "internal"
    exit_code: ClassVar[int] = 1
    default_hint: ClassVar[str] = "run with PARKBENCH_DEBUG=1 and report the traceback"

    def __init__(self, message: str, hint: str | None = None, **details: object) -> None:
        # One line, always: callers print it as-is next to the code.
        self.message = " ".join(message.split())
        self.hint = " ".join((hint or self.default_hint).split())
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message, "hint": self.hint}
        if self.details:
            body["details"] = self.details
        return body

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ValidationError(ParkbenchError):
    code = "validation"
    exit_code = 2
    default_hint = "check the arguments with --help"


class NotFoundError(ParkbenchError):
    code = "not_found"
    exit_code = 4
    default_hint = "list runs with `parkbench list --status all`"


class InvalidTokenError(ParkbenchError):
    code = "invalid_token"
    exit_code = 3
    default_hint = "use the claim_token printed by `parkbench lease claim` for this run"


class LeaseExpiredError(ParkbenchError):
    code = "lease_expired"
    exit_code = 3
    default_hint = "the run may have been recovered; claim new work with `parkbench lease claim`"


class InvalidTransitionError(ParkbenchError):
    code = "invalid_transition"
    exit_code = 3
    default_hint = "inspect the run with `parkbench show RUN`"


class MissingArtifactsError(ParkbenchError):
    code = "missing_artifacts"
    exit_code = 3
    default_hint = "write the missing receipts under the workspace root, then complete again"


class ConflictError(ParkbenchError):
    code = "conflict"
    exit_code = 3
    default_hint = "the run changed since you looked; inspect it with `parkbench show RUN`"


class DatabaseError(ParkbenchError):
    code = "database"
    exit_code = 5
    default_hint = "check the database with `parkbench db path` and `parkbench db upgrade`"


ERROR_CLASSES: tuple[type[ParkbenchError], ...] = (
    ValidationError,
    NotFoundError,
    InvalidTokenError,
    LeaseExpiredError,
    InvalidTransitionError,
    MissingArtifactsError,
    ConflictError,
    DatabaseError,
)

#: code -> CLI exit status (the spec's table). Anything not listed is a bug: exit 1.
EXIT_CODES: dict[str, int] = {cls.code: cls.exit_code for cls in ERROR_CLASSES}
