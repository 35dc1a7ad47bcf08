"""Hostile text in, no raw control character out: `list`, `show` and snapshot files.

Titles, block reasons and worker names drawn from the hostile strategies go into the
database; every byte the CLI then prints (human tables and --json) and every file a
snapshot writes must be free of raw C0/C1 controls and ESC - terminal escapes show up
escaped, never executed - while --json still returns the text exactly as stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from faults import cli_sweep
from faults.strategies import (
    BIDI,
    ESCAPES,
    MARKUP,
    ZERO_WIDTH,
    framed,
    raw_controls,
    storable_text,
)
from parkbench.core.store import Store

HOSTILE_SETTINGS = settings(
    deadline=None,
    max_examples=20,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@HOSTILE_SETTINGS
@given(
    title=framed(storable_text()),
    reason=framed(storable_text()),
    worker=framed(storable_text(max_size=4), 256),
)
def test_list_and_show_print_no_raw_controls(
    store: Store, db_url: str, workspace: Path, title: str, reason: str, worker: str
) -> None:
    enqueued = store.enqueue(title, workspace, priority=10**6)
    run_id = enqueued.run_id
    claim = store.claim_next(worker)
    assert claim is not None and claim.run_id == run_id
    store.block(run_id, claim.claim_token, reason=reason)
    for json_mode in (True, False):
        for argv in (("list", "--task", str(enqueued.task_id)), ("show", str(run_id))):
            outcome = cli_sweep.invoke(argv, db_url, json_mode=json_mode)
            assert outcome.code == 0, outcome.stderr
            assert raw_controls(outcome.stdout) == [], (argv, json_mode)
            assert raw_controls(outcome.stderr) == [], (argv, json_mode)
            if json_mode:  # escaped on the wire, exact once parsed
                strings = set(_strings(json.loads(outcome.stdout)))
                assert {title, reason, worker} <= strings, argv


def _strings(document: object) -> Iterator[str]:
    if isinstance(document, str):
        yield document
    elif isinstance(document, dict):
        for value in document.values():
            yield from _strings(value)
    elif isinstance(document, list):
        for value in document:
            yield from _strings(value)


def test_snapshot_files_carry_no_raw_controls(db_url: str, workspace: Path, tmp_path: Path) -> None:
    pieces = ESCAPES + BIDI + ZERO_WIDTH + MARKUP
    with Store.open(db_url) as store:
        for i, piece in enumerate(pieces):
            store.enqueue(f"task {i} {piece} end", workspace)
            claim = store.claim_next(f"worker{piece}")
            assert claim is not None
            store.block(claim.run_id, claim.claim_token, reason=f"reason {piece} {'x' * i}")
    out = tmp_path / "shots"
    outcome = cli_sweep.invoke(
        ("snapshot", "--out", str(out), "--size", "100x30", "--screens", "all",
         "--now", "2026-09-01T00:00:00Z"),
        db_url, json_mode=True,
    )  # fmt: skip
    assert outcome.code == 0, outcome.stderr[-800:]
    files = sorted(p for p in out.iterdir() if p.is_file())
    assert {p.suffix for p in files} >= {".svg", ".txt", ".json"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert raw_controls(text) == [], (path.name, raw_controls(text)[:5])
    summary_text = (out / "summary.json").read_text(encoding="utf-8")
    assert summary_text.isascii(), "the README promises an ASCII summary.json"
    assert json.loads(summary_text)["needs_attention_total"] == len(pieces)
