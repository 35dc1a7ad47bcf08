"""Claim tokens: mint, hash, verify, redact.

A raw token exists in exactly one place: the return value of ``claim_next``. Storage holds
``sha256:<hex>``; verification compares digests in constant time; any free text that looks
like it carries a token is redacted before it is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

TOKEN_PREFIX = "pkb_claim_"
HASH_PREFIX = "sha256:"
REDACTED = "pkb_claim_[REDACTED]"
#: 32 random bytes in URL-safe base64 without padding are 43 characters.
_TOKEN_BODY_LEN = 43
#: Anything that starts with the prefix and carries a plausible body. Deliberately loose
#: (16+ chars) so a truncated or pasted-with-noise token is still caught.
_TOKEN_LIKE = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_\-]{16,}")


def mint() -> str:
    body = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    assert len(body) == _TOKEN_BODY_LEN
    return TOKEN_PREFIX + body


def hash_token(raw: str) -> str:
    return HASH_PREFIX + hashlib.sha256(raw.encode("utf-8")).hexdigest()


def verify(raw: str, stored_hash: str | None) -> bool:
    """Constant-time check that ``raw`` hashes to ``stored_hash``."""
    if not stored_hash:
        # Still spend the hashing time so a missing lease is not distinguishable by timing.
        hmac.compare_digest(hash_token(raw), HASH_PREFIX + "0" * 64)
        return False
    return hmac.compare_digest(hash_token(raw), stored_hash)


def hash_prefix(token_hash: str | None) -> str | None:
    """The short, non-secret prefix events record to correlate actions of one lease."""
    if not token_hash:
        return None
    return token_hash[: len(HASH_PREFIX) + 12]


def contains_token(text: str) -> bool:
    return _TOKEN_LIKE.search(text) is not None


def redact(text: str) -> str:
    return _TOKEN_LIKE.sub(REDACTED, text)


def redact_json(value: object) -> object:
    """Redact every string (keys included) inside a JSON-shaped value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_json(v) for v in value]
    if isinstance(value, dict):
        return {redact(str(k)): redact_json(v) for k, v in value.items()}
    return value
