"""Hostile input, property-based: every text field keeps what it is given, or refuses it.

For every field that takes text - title, reasons (worker and reviewer), worker and actor
names, metadata keys and values, results, receipt paths - hypothesis throws markup, ANSI /
OSC / CSI escapes, bidi overrides, zero-width, wide and combining characters, odd line
breaks and 1 MB strings at the store. Each is stored losslessly (read back equal, through
the store and through plain SQL) or refused with `validation` (NUL, lone surrogates, over
the limit) with nothing written. A token-like string is redacted wherever it lands.
Clock skew lives in test_clock_skew.py.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from faults import invariants
from faults.environments import assert_clear_error
from faults.strategies import (
    framed,
    huge_text,
    relative_path,
    storable_text,
    text_around_token,
    unstorable_text,
)
from parkbench.core.contracts import ArtifactState
from parkbench.core.errors import ValidationError
from parkbench.core.inputs import MAX_NAME, MAX_REASON, MAX_TITLE
from parkbench.core.store import Store
from parkbench.core.tokens import REDACTED

FIXTURES_OK = settings(
    deadline=None,
    max_examples=30,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
name_text = framed(storable_text(max_size=6), MAX_NAME)


def _raw(store: Store, sql: str, **params: object) -> list[str]:
    with store.engine.connect() as conn:
        return [row[0] for row in conn.execute(sa.text(sql), params)]


@FIXTURES_OK
@given(
    title=framed(storable_text()),
    worker=name_text,
    actor=name_text,
    block_reason=framed(storable_text()),
    review_reason=framed(storable_text()),
    key=framed(storable_text(max_size=3)),
    value=framed(storable_text()),
    path=relative_path(),
)
def test_every_text_field_round_trips_exactly(
    store: Store,
    workspace: Path,
    title: str,
    worker: str,
    actor: str,
    block_reason: str,
    review_reason: str,
    key: str,
    value: str,
    path: str,
) -> None:
    path = f"{uuid.uuid4().hex}/{path}"  # a fresh directory per example
    metadata = {
        key: value,
        "nested": [value, {key: title}],
        "completion_contract": {"required_paths": [path], "missing_policy": "park"},
    }
    enqueued = store.enqueue(title, workspace, metadata=metadata, actor=actor)
    claim = store.claim_next(worker)
    assert claim is not None and claim.run_id == enqueued.run_id
    store.block(claim.run_id, claim.claim_token, reason=block_reason)
    [requeued] = store.requeue([claim.run_id], reason=review_reason, actor=actor)
    assert requeued.ok and requeued.new_run_id is not None
    store.force_fail([requeued.new_run_id], reason=review_reason, actor=actor)

    detail = store.get_run(claim.run_id)
    assert detail.run.title == title
    assert detail.task_metadata == metadata
    assert detail.run.worker == worker
    assert detail.run.block_reason == block_reason
    assert [(a.path, a.state) for a in detail.artifacts] == [(path, ArtifactState.MISSING)]
    by_action = {e.action: e for e in detail.events}
    assert by_action["enqueue"].actor == actor
    assert by_action["claim"].actor == worker
    assert by_action["block"].reason == block_reason
    assert (by_action["requeue"].actor, by_action["requeue"].reason) == (actor, review_reason)
    assert store.get_run(requeued.new_run_id).run.failure_reason == review_reason

    # Byte-for-byte through plain SQL too, not only through the store's own read side.
    assert _raw(store, "SELECT title FROM tasks WHERE id = :i", i=enqueued.task_id) == [title]
    reasons = _raw(store, "SELECT reason FROM events WHERE run_id = :i ORDER BY id", i=claim.run_id)
    assert [r.encode() for r in reasons if r] == [block_reason.encode(), review_reason.encode()]

    receipt = workspace / path
    receipt.parent.mkdir(parents=True, exist_ok=True)
    receipt.write_text("hostile name, real file")
    assert store.get_run(claim.run_id).artifacts[0].state is ArtifactState.PRESENT


def _attempts(store: Store, workspace: Path, claim, parked: int, bad: str):
    return {
        "title": lambda: store.enqueue(bad, workspace),
        "actor": lambda: store.enqueue("t", workspace, actor=bad),
        "workspace": lambda: store.enqueue("t", f"{workspace}/{bad}"),
        "path": lambda: store.enqueue(
            "t", workspace, metadata={"completion_contract": {"required_paths": [bad]}}
        ),
        "worker": lambda: store.claim_next(bad),
        "block reason": lambda: store.block(claim.run_id, claim.claim_token, reason=bad),
        "fail reason": lambda: store.fail(claim.run_id, claim.claim_token, reason=bad),
        "review reason": lambda: store.requeue([parked], reason=bad, actor="alice"),
        "review actor": lambda: store.force_release([parked], reason="r", actor=bad),
    }


@FIXTURES_OK
@given(bad=unstorable_text(), field=st.sampled_from(list(_attempts(*[None] * 5))))
def test_nul_and_lone_surrogates_are_refused_with_nothing_written(
    store: Store, workspace: Path, bad: str, field: str
) -> None:
    if not store.list_runs().rows:  # first example: one parked run, one claimed
        store.enqueue("parked", workspace, priority=9)
        store.enqueue("claimed", workspace)
        first = store.claim_next("w", lease_s=86_400)
        store.block(first.run_id, first.claim_token, reason="parked")
    parked = store.list_runs().rows[0].id
    claim = _held_claim(store)
    before = invariants.snapshot(store.engine)
    with pytest.raises(ValidationError) as caught:
        _attempts(store, workspace, claim, parked, bad)[field]()
    assert_clear_error(caught.value, "validation")
    assert invariants.snapshot(store.engine) == before


_CLAIMS: dict[str, object] = {}


def _held_claim(store: Store):
    """The one claimed run's claim, minted once per store (tokens are returned only once)."""
    if store.url not in _CLAIMS:
        claim = store.claim_next("w", lease_s=86_400)
        assert claim is not None
        _CLAIMS[store.url] = claim
    return _CLAIMS[store.url]


@FIXTURES_OK
@given(metadata_value=unstorable_text())
def test_json_fields_keep_nul_as_an_escape_and_refuse_lone_surrogates(
    store: Store, workspace: Path, metadata_value: str
) -> None:
    metadata = {"note": metadata_value}
    if any(0xD800 <= ord(c) <= 0xDFFF for c in metadata_value):
        with pytest.raises(ValidationError) as caught:
            store.enqueue("t", workspace, metadata=metadata)
        assert_clear_error(caught.value, "validation", "UTF-8")
    else:  # NUL only: JSON carries it as \u0000, losslessly
        run_id = store.enqueue("t", workspace, metadata=metadata).run_id
        assert store.get_run(run_id).task_metadata == metadata


@settings(FIXTURES_OK, max_examples=3)
@given(huge=huge_text(1_000_000))
def test_one_megabyte_strings_fit_where_the_limit_allows(
    store: Store, workspace: Path, huge: str
) -> None:
    framed_huge = f"«{huge[2:]}»"
    run_id = store.enqueue("big reason ahead", workspace, priority=100).run_id
    claim = store.claim_next("w")
    assert claim is not None and claim.run_id == run_id
    store.block(run_id, claim.claim_token, reason=framed_huge)  # 1,000,000 <= MAX_REASON
    assert store.get_run(run_id, check_disk=False).run.block_reason == framed_huge
    before = invariants.snapshot(store.engine)
    too_long = {
        "title": lambda: store.enqueue(framed_huge, workspace),
        "worker": lambda: store.claim_next(framed_huge),
        "actor": lambda: store.requeue([run_id], reason="r", actor=framed_huge),
        "reason": lambda: store.requeue([run_id], reason=huge * 2),
        "metadata text": lambda: store.enqueue("t", workspace, metadata=f'{{"k": "{huge}{huge}"}}'),
        "metadata object": lambda: store.enqueue("t", workspace, metadata={"k": huge + huge}),
    }
    for field, attempt in too_long.items():
        with pytest.raises(ValidationError) as caught:
            attempt()
        assert "limit" in caught.value.message, field
        assert_clear_error(caught.value, "validation")
    assert invariants.snapshot(store.engine) == before
    assert MAX_TITLE < len(framed_huge) <= MAX_REASON


def test_deeply_nested_json_is_a_validation_error(store: Store, workspace: Path) -> None:
    for nested in ("[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000):
        with pytest.raises(ValidationError) as caught:
            store.enqueue("t", workspace, metadata=nested)
        assert_clear_error(caught.value, "validation", "nested too deeply")


@FIXTURES_OK
@given(parts=text_around_token(), where=st.sampled_from(
    ["title", "block reason", "review reason", "actor", "worker", "metadata key",
     "metadata value", "result"]))  # fmt: skip
def test_token_like_strings_are_redacted_wherever_they_land(
    store: Store, workspace: Path, parts: tuple[str, str, str], where: str
) -> None:
    before, token, after = parts
    text = f"«{before}{token}{after}»"
    assume(len(text) <= MAX_NAME or where not in ("actor", "worker"))
    expected = f"«{before}{REDACTED}{after}»"
    run_id = store.enqueue(
        text if where == "title" else "t", workspace, priority=50,
        actor=text if where == "actor" else "a",
        metadata={text: 1} if where == "metadata key" else {"k": text},
    ).run_id  # fmt: skip
    claim = store.claim_next(text if where == "worker" else "w")
    assert claim is not None and claim.run_id == run_id
    if where == "result":
        store.complete(run_id, claim.claim_token, result={"log": text})
    else:
        store.block(run_id, claim.claim_token, reason=text)
        store.force_fail([run_id], reason=text, actor="alice")  # terminal: no queued leftovers
    detail = store.get_run(run_id, check_disk=False)
    found = {
        "title": detail.run.title,
        "actor": detail.events[0].actor,
        "worker": detail.events[1].actor,
        "metadata key": next(iter(detail.task_metadata)),
        "metadata value": detail.task_metadata.get("k"),
        "block reason": detail.events[2].reason if where != "result" else None,
        "review reason": detail.events[-1].reason if where != "result" else None,
        "result": (detail.result or {}).get("log") if isinstance(detail.result, dict) else None,
    }[where]
    assert found == expected
    assert not _anywhere(store, token[len("pkb_claim_") :])


def _anywhere(store: Store, needle: str) -> list[str]:
    """Every table and text column that holds ``needle`` (a raw token must be in none)."""
    hits = []
    with store.engine.connect() as conn:
        for table in ("workspaces", "tasks", "runs", "events"):
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                hits += [f"{table}: {v[:60]!r}" for v in row if isinstance(v, str) and needle in v]
    return hits


@pytest.mark.parametrize(
    "path", ["../escape.txt", "/etc/passwd", "a\\..\\b", "ok/../../up", "pkb_claim_" + "A" * 43]
)
def test_unsafe_receipt_paths_are_refused(store: Store, workspace: Path, path: str) -> None:
    before = invariants.snapshot(store.engine)
    with pytest.raises(ValidationError) as caught:
        store.enqueue("t", workspace, metadata={"completion_contract": {"required_paths": [path]}})
    assert_clear_error(caught.value, "validation")
    assert invariants.snapshot(store.engine) == before
