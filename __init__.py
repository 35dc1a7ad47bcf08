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

#: name -> the module it comes from (loaded on first access).
_EXPORTS = {
    "Store": "parkbench.core.store",
    "Lease": "parkbench.core.store",
    "RunStatus": "parkbench.core.lifecycle",
    "Claim": "parkbench.core.records",
    "ClaimedTask": "parkbench.core.records",
    "Handoff": "parkbench.core.records",
    "Completion": "parkbench.core.records",
    "Enqueued": "parkbench.core.records",
    "Expectation": "parkbench.core.records",
    "RunFilter": "parkbench.core.records",
    **dict.fromkeys(
        (
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
        "parkbench.core.errors",
    ),
}

__all__ = ["__version__", "open", *_EXPORTS]


def open(url: str | None = None, **options: Any) -> Store:
    """Open the queue at ``url`` (a SQLite path or URL, or a PostgreSQL URL; default: the
    ``PARKBENCH_DB`` environment variable, else the per-user default file)."""
    from parkbench.core.store import Lease, Store

    return Store.open(url, **options)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'parkbench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
