"""Fixtures for the receipt-watcher tests (helpers live in watchtest_support)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the workspace (symlinks into it are unsafe)."""
    path = tmp_path / "outside"
    path.mkdir()
    return path
