"""The typed records the receipt watcher yields, one per observed change.

Every record is immutable and has ``to_dict()`` for a JSON line (``kind`` first). Paths and
roots are data from agents: consumers render them literally, never as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from parkbench.core.contracts import ArtifactCheck, ArtifactState


class WorkspaceState(StrEnum):
    OK = "ok"
    MISSING = "missing"  # deleted, renamed away, or not a directory any more
    UNREADABLE = "unreadable"  # exists, but cannot be listed or watched


@dataclass(frozen=True, slots=True)
class ReceiptChange:
    """One required path of one parked run changed state on disk."""

    run_id: int
    workspace: str
    path: str
    old_state: ArtifactState
    new_state: ArtifactState
    detail: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": "receipt",
            "run_id": self.run_id,
            "workspace": self.workspace,
            "path": self.path,
            "old_state": self.old_state.value,
            "new_state": self.new_state.value,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class ReadinessChange:
    """A run's receipts became all present (``ready``: it can be requeued), or stopped being."""

    run_id: int
    ready: bool

    def to_dict(self) -> dict[str, object]:
        return {"kind": "ready", "run_id": self.run_id, "ready": self.ready}


@dataclass(frozen=True, slots=True)
class WorkspaceChange:
    """A watched workspace root went missing, became unreadable, or came back."""

    workspace: str
    state: WorkspaceState
    detail: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": "workspace",
            "workspace": self.workspace,
            "state": self.state.value,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class RunWatched:
    """A run entered the watched set (it was parked with a completion contract)."""

    run_id: int
    workspace: str
    receipts: tuple[ArtifactCheck, ...]
    ready: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": "watched",
            "run_id": self.run_id,
            "workspace": self.workspace,
            "receipts": [check.to_dict() for check in self.receipts],
            "ready": self.ready,
        }


@dataclass(frozen=True, slots=True)
class RunDropped:
    """A run left the watched set: it was requeued, failed, released or otherwise moved on."""

    run_id: int
    workspace: str

    def to_dict(self) -> dict[str, object]:
        return {"kind": "dropped", "run_id": self.run_id, "workspace": self.workspace}


@dataclass(frozen=True, slots=True)
class AutoRequeued:
    """The outcome of an automatic requeue (``--auto-requeue``) of a run whose receipts arrived."""

    run_id: int
    ok: bool
    new_run_id: int | None = None
    error_code: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"kind": "auto_requeue", "run_id": self.run_id, "ok": self.ok}
        if self.new_run_id is not None:
            body["new_run_id"] = self.new_run_id
        if self.error_code is not None:
            body["error"] = {"code": self.error_code, "message": self.message}
        return body


WatchRecord: TypeAlias = (
    ReceiptChange | ReadinessChange | WorkspaceChange | RunWatched | RunDropped | AutoRequeued
)
