"""Untrusted text is data: stored and returned byte-for-byte on both backends.

Sanitising for display is the renderer's job. Storage refuses only what no database can hold
faithfully (NUL, lone surrogates), trims reasons, and requires them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from parkbench.core.errors import ValidationError
from parkbench.core.inputs import MAX_TITLE
from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import RunFilter
from parkbench.core.store import Store

#: Everything a hostile or careless agent might send. None has leading/trailing whitespace,
#: so trimming leaves them whole.
SAMPLES = {
    "rich-markup": "[bold red]BOOM[/bold red] [link=https://evil.example]click[/link]",
    "textual-markup": "[@click=app.quit]quit[/] $variable {braces} [/]",
    "html": "<script>alert('x')</script>&amp;",
    "ansi-colour": "\x1b[31mred\x1b[0m and \x1b[1;4mbold\x1b[m",
    "ansi-osc8": "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "ansi-clear": "x\x1b[2J\x1b[H\x1b[?1049h\x1bcy",
    "c0-controls": "a\x07b\x08c\x0bd\x0ce\x7ff",
    "c1-controls": "a\x85b\x9bc",
    "newlines": "line 1\nline 2\r\nline 3\rline\t4",
    "emoji": "👩‍💻 🏳️‍🌈 👍🏽 🇩🇪 ✅",
    "bidi": "abc\u202etxt.exe\u202c \u2066isolate\u2069 \u200f\u200e",
    "zero-width": "a\u200bb\u200cc\u200dd\ufeffe",
    "combining": "e\u0301 Z\u0335\u0321\u031a",
    "scripts": "日本語 العربية עברית ру́сский",  # noqa: RUF001 (lookalikes are the point)
    "astral": "\U0001f600\U00010348\U0002a6d6",
    "quotes": "'; DROP TABLE runs; -- \" \\ %_ %",
    "64kib-mixed": ("ab😀\u202e\x1b[0m[b]" * 6554)[:65536],
}


def _claim(store: Store, workspace: Path, title: str = "t", **options: object) -> tuple[int, str]:
    run_id = store.enqueue(title, workspace, **options).run_id  # type: ignore[arg-type]
    claim = store.claim_next("w")
    assert claim is not None and claim.run_id == run_id
    return run_id, claim.claim_token


def test_text_round_trips_byte_for_byte(store: Store, workspace: Path) -> None:
    parked_ids = {}
    for name, text in SAMPLES.items():
        title = text[:MAX_TITLE]
        metadata = {"note": text, text[:200]: [text[:50], {"deep": text[:10]}]}
        run_id = store.enqueue(title, workspace, metadata=metadata, run_metadata={"r": text}).run_id
        claim = store.claim_next(f"worker {text[:100]}")
        assert claim is not None and claim.run_id == run_id
        store.block(run_id, claim.claim_token, reason=text)
        parked_ids[name] = run_id
        detail = store.get_run(run_id)
        row = detail.run
        assert row.title == title, name
        assert row.block_reason == text, name
        assert row.worker == f"worker {text[:100]}", name
        assert detail.task_metadata == metadata, name
        assert detail.run_metadata == {"r": text}, name
        assert detail.events[-1].reason == text, name
        assert row.title.encode() == title.encode()  # byte-for-byte, not merely equal
    # The parked list returns the same text.
    page = store.list_runs(RunFilter(), limit=100)
    by_id = {row.id: row for row in page.rows}
    for name, run_id in parked_ids.items():
        assert by_id[run_id].block_reason == SAMPLES[name]


def test_failure_reasons_results_and_reviewer_text_round_trip(
    store: Store, workspace: Path
) -> None:
    text = SAMPLES["64kib-mixed"]
    run_id, token = _claim(store, workspace, max_attempts=1)
    assert store.fail(run_id, token, reason=text) is RunStatus.FAILED
    assert store.get_run(run_id).run.failure_reason == text

    run_id, token = _claim(store, workspace)
    result = {"log": text, "ansi": SAMPLES["ansi-osc8"], "n": [1, 2.5, None, True]}
    store.complete(run_id, token, result=result)
    assert store.get_run(run_id).result == result

    run_id, token = _claim(store, workspace)
    store.block(run_id, token, reason="stuck")
    actor = SAMPLES["bidi"]
    [outcome] = store.force_fail([run_id], reason=SAMPLES["emoji"], actor=actor)
    assert outcome.ok
    detail = store.get_run(run_id)
    assert detail.run.failure_reason == SAMPLES["emoji"]
    assert (detail.events[-1].actor, detail.events[-1].reason) == (actor, SAMPLES["emoji"])


def test_reasons_are_trimmed_and_required(store: Store, workspace: Path) -> None:
    run_id, token = _claim(store, workspace)
    for blank in ("", "   ", "\n\t \r\n", "\u3000"):
        with pytest.raises(ValidationError):
            store.block(run_id, token, reason=blank)
        with pytest.raises(ValidationError):
            store.fail(run_id, token, reason=blank)
        with pytest.raises(ValidationError):
            store.force_fail([run_id], reason=blank, actor="rita")
    assert store.get_run(run_id).run.status is RunStatus.CLAIMED
    store.block(run_id, token, reason="  \n needs a key \t ")
    assert store.get_run(run_id).run.block_reason == "needs a key"
    [result] = store.requeue([run_id], reason="\n key added  ", actor="  rita ")
    event = store.get_run(run_id).events[-1]
    assert result.ok and (event.reason, event.actor) == ("key added", "rita")


def test_titles_and_names_are_required(store: Store, workspace: Path) -> None:
    for blank in ("", "  ", "\n"):
        with pytest.raises(ValidationError):
            store.enqueue(blank, workspace)
        with pytest.raises(ValidationError):
            store.claim_next(blank)
    assert sum(store.counts_by_status().values()) == 0


@pytest.mark.parametrize(
    "bad", ["a\x00b", "\x00", "lone \ud800 high", "lone \udfff low", "\udc80"], ids=repr
)
def test_nul_and_lone_surrogates_are_validation_errors(
    store: Store, workspace: Path, bad: str
) -> None:
    run_id, token = _claim(store, workspace)
    attempts = {
        "title": lambda: store.enqueue(bad, workspace),
        "worker": lambda: store.claim_next(bad),
        "block reason": lambda: store.block(run_id, token, reason=bad),
        "fail reason": lambda: store.fail(run_id, token, reason=bad),
        "review reason": lambda: store.force_fail([run_id], reason=bad, actor="rita"),
        "review actor": lambda: store.force_fail([run_id], reason="r", actor=bad),
        "metadata text": lambda: store.enqueue("t", workspace, metadata=f'{{"k": "{bad}"}}'),
        "workspace": lambda: store.enqueue("t", f"{workspace}/{bad}"),
    }
    if "\x00" not in bad:
        # JSON escapes NUL (\u0000), so only surrogates are unstorable inside JSON values.
        attempts["metadata value"] = lambda: store.enqueue("t", workspace, metadata={"k": bad})
        attempts["metadata key"] = lambda: store.enqueue("t", workspace, metadata={bad: 1})
        attempts["result"] = lambda: store.complete(run_id, token, result={"k": bad})
    for name, attempt in attempts.items():
        with pytest.raises(ValidationError):
            attempt()
            pytest.fail(f"{name} accepted {bad!r}")
    detail = store.get_run(run_id)
    assert detail.run.status is RunStatus.CLAIMED and len(detail.events) == 2
    assert sum(store.counts_by_status().values()) == 1


def test_nul_inside_json_is_kept_as_an_escape(store: Store, workspace: Path) -> None:
    metadata = {"k": "a\x00b"}
    run_id = store.enqueue("t", workspace, metadata=metadata).run_id
    assert store.get_run(run_id).task_metadata == metadata


def test_length_limits_are_validation_errors_not_truncation(store: Store, workspace: Path) -> None:
    with pytest.raises(ValidationError):
        store.enqueue("x" * (MAX_TITLE + 1), workspace)
    exact = "é" * MAX_TITLE
    run_id = store.enqueue(exact, workspace).run_id
    assert store.get_run(run_id).run.title == exact
    claim = store.claim_next("w")
    assert claim is not None
    with pytest.raises(ValidationError):
        store.block(run_id, claim.claim_token, reason="r" * (1024 * 1024 + 1))
    with pytest.raises(ValidationError):
        store.claim_next("w" * 257)
