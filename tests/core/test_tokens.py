"""Claim tokens: format, hashing, constant-time verification, redaction, and the rule that a
raw token is never stored — checked in every table on both backends and in the bytes of the
SQLite database files themselves."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from pathlib import Path

import pytest
from coretest_support import stored_texts

from parkbench.core import tokens
from parkbench.core.lifecycle import RunStatus
from parkbench.core.store import Store

TOKEN_RE = re.compile(r"^pkb_claim_[A-Za-z0-9_-]{43}$")


def test_mint_is_the_prefix_and_43_urlsafe_characters_of_32_random_bytes() -> None:
    minted = {tokens.mint() for _ in range(2000)}
    assert len(minted) == 2000
    for raw in list(minted)[:50]:
        assert TOKEN_RE.match(raw), raw
        body = raw.removeprefix("pkb_claim_")
        assert len(base64.urlsafe_b64decode(body + "=")) == 32


def test_hash_is_sha256_hex_of_the_raw_token() -> None:
    raw = tokens.mint()
    stored = tokens.hash_token(raw)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", stored)
    assert stored == "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
    prefix = tokens.hash_prefix(stored)
    assert prefix is not None and stored.startswith(prefix) and len(prefix) == len("sha256:") + 12
    assert tokens.hash_prefix(None) is None


def test_verify_compares_digests_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def recording(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", recording)
    raw = tokens.mint()
    stored = tokens.hash_token(raw)
    assert tokens.verify(raw, stored) is True
    assert tokens.verify(tokens.mint(), stored) is False
    assert tokens.verify(raw, None) is False  # no lease: still hashes and compares
    assert tokens.verify("", stored) is False
    assert len(calls) == 4
    # What is compared is always two digests, never the raw token.
    assert all(a.startswith("sha256:") and b.startswith("sha256:") for a, b in calls)


def test_redact_catches_token_like_text_anywhere() -> None:
    raw = tokens.mint()
    assert tokens.contains_token(f"see {raw}.")
    assert tokens.redact(f"a {raw} b {raw}") == "a pkb_claim_[REDACTED] b pkb_claim_[REDACTED]"
    truncated = raw[:30]  # a pasted fragment is still caught
    assert tokens.redact(truncated) == tokens.REDACTED
    assert not tokens.contains_token("pkb_claim_short")
    assert not tokens.contains_token(tokens.REDACTED)  # redaction is idempotent
    assert tokens.redact(tokens.redact(raw)) == tokens.REDACTED
    nested = tokens.redact_json({raw: [raw, {"k": f"x{raw}"}, 3, None, True]})
    assert raw not in repr(nested)
    assert nested == {
        tokens.REDACTED: [tokens.REDACTED, {"k": "x" + tokens.REDACTED}, 3, None, True]
    }


def test_a_claim_shows_its_token_once_and_never_in_its_repr(store: Store, workspace: Path) -> None:
    store.enqueue("t", workspace)
    claim = store.claim_next("w")
    assert claim is not None and TOKEN_RE.match(claim.claim_token)
    assert claim.claim_token not in repr(claim)
    detail = store.get_run(claim.run_id)
    assert claim.claim_token not in repr(detail.to_dict())
    assert claim.claim_token not in repr(store.list_runs().rows)


def test_text_carrying_a_token_is_redacted_before_it_is_stored(
    store: Store, workspace: Path
) -> None:
    enqueue_token = tokens.mint()
    first = store.enqueue(
        f"title {enqueue_token}",
        workspace,
        metadata={"note": f"meta {enqueue_token}", enqueue_token: "as a key"},
        run_metadata=f'{{"note": "{enqueue_token}"}}',
        actor=f"actor-{enqueue_token}",
    )
    store.enqueue("second", workspace)
    store.enqueue("third", workspace, max_attempts=1)
    minted = [enqueue_token]

    claim = store.claim_next(f"worker {enqueue_token}")
    assert claim is not None and claim.run_id == first.run_id
    minted.append(claim.claim_token)
    store.heartbeat(claim.run_id, claim.claim_token)
    store.block(claim.run_id, claim.claim_token, reason=f"my token is {claim.claim_token}")
    row = store.get_run(claim.run_id).run
    assert row.block_reason == f"my token is {tokens.REDACTED}"

    second = store.claim_next("w2")
    assert second is not None
    minted.append(second.claim_token)
    store.complete(second.run_id, second.claim_token, result={"log": second.claim_token})
    assert store.get_run(second.run_id).result == {"log": tokens.REDACTED}

    third = store.claim_next("w3")
    assert third is not None
    minted.append(third.claim_token)
    store.fail(third.run_id, third.claim_token, reason=f"failed with {third.claim_token}")
    [result] = store.requeue(
        [claim.run_id], reason=f"reviewer pasted {claim.claim_token}", actor="rita"
    )
    assert result.ok

    with store.engine.connect() as conn:
        texts = list(stored_texts(conn))
    assert texts
    for table, column, row_id, value in texts:
        for raw in minted:
            assert raw not in value, (table, column, row_id)
        assert not tokens.contains_token(value), (table, column, row_id, value)
    assert sum(tokens.REDACTED in value for *_, value in texts) >= 8


def _file_bytes(db: Path) -> dict[str, bytes]:
    found = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(f"{db}{suffix}")
        if path.exists():
            found[path.name] = path.read_bytes()
    return found


def _leaks(files: dict[str, bytes], raws: list[str]) -> list[tuple[str, str]]:
    leaks = []
    for name, data in files.items():
        for raw in raws:
            body = raw.removeprefix("pkb_claim_").encode()
            # the whole token, its body alone, or its body in UTF-16 (never expected)
            for needle in (raw.encode(), body, body.decode().encode("utf-16-le")):
                if needle in data:
                    leaks.append((name, raw))
    return leaks


@pytest.mark.sqlite_only
def test_the_raw_token_never_reaches_the_sqlite_files(tmp_path: Path, workspace: Path) -> None:
    db = tmp_path / "tokens.db"
    raws: list[str] = []
    with Store.open(f"sqlite:///{db}") as store:
        for i in range(6):
            store.enqueue(f"task {i}", workspace, max_attempts=1)
        for i in range(6):
            claim = store.claim_next(f"worker-{i}")
            assert claim is not None
            raws.append(claim.claim_token)
            store.heartbeat(claim.run_id, claim.claim_token, lease_s=600)
            if i % 3 == 0:
                store.block(claim.run_id, claim.claim_token, reason=f"blocked {claim.claim_token}")
            elif i % 3 == 1:
                store.complete(claim.run_id, claim.claim_token, result={"out": claim.claim_token})
            else:
                store.fail(claim.run_id, claim.claim_token, reason=claim.claim_token)
        # While the store is open the WAL holds the recent pages: read it now.
        live = _file_bytes(db)
        assert "tokens.db-wal" in live and len(live["tokens.db-wal"]) > 0
        assert _leaks(live, raws) == []
        counts = store.counts_by_status()
        assert counts[RunStatus.NEEDS_ATTENTION] == 2 and counts[RunStatus.COMPLETED] == 2
    # After close (checkpointed into the main file) as well.
    closed = _file_bytes(db)
    assert _leaks(closed, raws) == []
    # The check can fail: the hashes of these very tokens are in the files.
    hashed = tokens.hash_token(raws[-1]).removeprefix("sha256:").encode()
    assert any(hashed in data for data in (live | closed).values())
