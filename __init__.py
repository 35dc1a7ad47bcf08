"""Parkbench: a lease core for task runs that autonomous workers park, and a review app.

The repository root is this package (``pyproject.toml`` maps it): :mod:`parkbench.core` is the
lease core (``core/``, never imports Textual) and :mod:`parkbench.tui` the review app and the
command line (``tui/``). What is importable from here is the public Python API; everything is
loaded on first use, so ``import parkbench`` costs nothing for a command that needs little.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parkbench.core.errors import (
        ConflictError,
        DatabaseError,
        InvalidTokenError,
        InvalidTransitionError,
        LeaseExpiredError,
        MissingArtifactsError,
        NotFoundError,
        ParkbenchError,
        ValidationError,
    )
    from parkbench.core.lifecycle import RunStatus
    from parkbench.core.records import (
        Claim,
        ClaimedTask,
        Completion,
        Enqueued,
        Expectation,
        Handoff,
        RunFilter,
    )
    from parkbench.core.store import Lease, Store

__version__ = "0.1.0"

__all__ = [
    "Claim",
    "ClaimedTask",
    "Completion",
    "ConflictError",
    "DatabaseError",
    "Enqueued",
    "Expectation",
    "Handoff",
    "InvalidTokenError",
    "InvalidTransitionError",
    "Lease",
    "LeaseExpiredError",
    "MissingArtifactsError",
    "NotFoundError",
    "ParkbenchError",
    "RunFilter",
    "RunStatus",
    "Store",
    "ValidationError",
    "__version__",
    "open",
]

#: Where each name lives; loaded on first access (``import parkbench`` stays cheap).
_HOMES = {
    "parkbench.core.store": ("Store", "Lease"),
    "parkbench.core.lifecycle": ("RunStatus",),
    "parkbench.core.records": (
        "Claim",
        "ClaimedTask",
        "Completion",
        "Enqueued",
        "Expectation",
        "Handoff",
        "RunFilter",
    ),
    "parkbench.core.errors": (
        "ParkbenchError",
        "ValidationError",
        "NotFoundError",
        "InvalidTokenError",
        "LeaseExpiredError",
        "InvalidTransitionError",
        "MissingArtifactsError",
        "ConflictError",
        "DatabaseError",
    ),
}
_EXPORTS = {name: module for module, names in _HOMES.items() for name in names}


def open(url: str | None = None, **options: Any) -> Store:
    """Open the queue at ``url`` (a SQLite path or URL, or a PostgreSQL URL; default: the
    ``PARKBENCH_DB`` environment variable, else the per-user default file)."""
    from parkbench.core.store import Store

    return Store.open(url, **options)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'parkbench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
