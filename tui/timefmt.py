"""Instants as text, the one way every output writes them (the CLI, summary.json).

Pure and dependency-free, so both :mod:`parkbench.tui.cli.output` and the snapshot code
(:mod:`parkbench.tui.snapshot`), which must not import the CLI, use it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso(value: datetime | int | None) -> str | None:
    """UTC ISO-8601 with a Z; ints are epoch milliseconds."""
    if value is None:
        return None
    if isinstance(value, int):
        value = datetime.fromtimestamp(value / 1000, tz=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
