"""Parkbench's lease core: runs, leases, receipts and their audit trail. No UI in here.

``Store`` is loaded on first use, not on ``import core``: importing a light module such as
:mod:`core.errors` must not pull in SQLAlchemy (the worker's ``lease claim`` path has none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.store import Store

__all__ = ["Store"]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from core.store import Store

        return Store
    raise AttributeError(f"module 'core' has no attribute {name!r}")
