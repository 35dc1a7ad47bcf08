"""Parkbench's lease core: runs, leases, receipts and their audit trail. No UI in here."""

from core.store import Store

__all__ = ["Store"]
