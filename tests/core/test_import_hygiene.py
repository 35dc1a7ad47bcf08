"""The core never imports the UI: not textual, not rich, nothing from tui/; and on SQLite
never psycopg (the ``postgres`` extra, absent from SQLite-only installs).

Checked in a fresh interpreter, after importing every core module and exercising the store
(migrations, claim, block, list), so lazy imports are caught too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = r"""
import importlib, json, os, pkgutil, sys, tempfile

import parkbench.core

names = []
for info in pkgutil.walk_packages(parkbench.core.__path__, "parkbench.core."):
    importlib.import_module(info.name)
    names.append(info.name)

from parkbench.core.store import Store

with tempfile.TemporaryDirectory() as tmp:
    with Store.open(f"sqlite:///{tmp}/hygiene.db") as store:
        store.enqueue("t", tmp, metadata={"completion_contract": {"required_paths": ["a"]}})
        claim = store.claim_next("w")
        store.block(claim.run_id, claim.claim_token, reason="r")
        store.list_runs()
        store.get_run(claim.run_id)
        store.requeue([claim.run_id], reason="r", actor="a")
        store.recover_expired()

ui = sorted(
    m for m in sys.modules
    if m.split(".")[0] in {"textual", "rich", "typer"} or m.startswith("parkbench.tui")
)
pg = sorted(m for m in sys.modules if m.split(".")[0] in {"psycopg", "psycopg_binary"})
print(json.dumps({"imported": names, "ui": ui, "pg": pg}))
"""


def test_core_imports_no_ui_modules(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,  # not the repo root: `core` must come from the installed package path
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ui"] == []
    assert report["pg"] == []  # a SQLite user need not install the postgres extra
    # The probe really walked the package (a broken walk would pass vacuously).
    for expected in (
        "parkbench.core.store",
        "parkbench.core.lifecycle",
        "parkbench.core.contracts",
        "parkbench.core.db.engine",
        "parkbench.core.tokens",
    ):
        assert expected in report["imported"]
