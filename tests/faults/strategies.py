"""Hypothesis strategies for hostile text, shared by the core, CLI and TUI tests.

Everything an agent could put in a title, reason, worker name, metadata or path to confuse
a terminal or a renderer: Rich/Textual markup, ANSI CSI/OSC/DCS escapes (clear screen, set
title, hyperlinks, clipboard), C0/C1 controls, bidi overrides, zero-width and wide
characters, combining marks, odd line breaks, token-like strings. Two families:

* :func:`storable_text` - valid Unicode without NUL: storage must keep it byte-for-byte.
* :func:`unstorable_text` - contains NUL or a lone surrogate: must be refused (validation).

Use from any test: ``from faults.strategies import storable_text, raw_controls``.
"""

from __future__ import annotations

import re
import string

from hypothesis import strategies as st

MARKUP = (
    "[bold]", "[/bold]", "[/]", "[/foo]", "[@click=app.quit]", "[@click=screen.dismiss()]",
    "[link=https://evil.example]click[/link]", "[red on white]", "[b]x[/b]", "\\[escaped]",
    "[bold red]ALERT[/]", ":warning:", "[[double]]", "[", "]", "[$accent]", "{x}", "%s",
)  # fmt: skip
ESCAPES = (
    "\x1b[2J", "\x1b[H", "\x1b[3J", "\x1bc", "\x1b[31m", "\x1b[0m", "\x1b[1A\x1b[2K",
    "\x1b]0;pwned\x07", "\x1b]2;title\x1b\\", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",
    "\x1b]52;c;ZXZpbA==\x07", "\x1bP+q544e\x1b\\", "\x1b[?1049h", "\x1b[?25l", "\x1b[6n",
    "\x9b31m", "\x9d0;c1\x9c", "\x1b", "\x07", "\x08", "\x7f", "\x0e", "\x0f",
)  # fmt: skip
BIDI = ("\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2068",
        "\u2069", "\u200e", "\u200f", "\u061c")  # fmt: skip
ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\ufeff", "\u2060", "\u00ad", "\u034f", "\u180e")
WIDE = (
    "漢字",
    "表",
    "👍",
    "👨\u200d👩\u200d👧\u200d👦",
    "🇺🇳",
    "\uff46\uff55\uff4c\uff4c",
    "\u3000",
    "한국어",
    "ﷺ",
)
COMBINING = ("e\u0301", "a" + "\u0300\u0301\u0302\u0303\u0304\u0305" * 8, "\u0e49\u0e49",
             "\u20dd", "Z\u0335\u0321\u0358")  # fmt: skip
RIGHT_TO_LEFT = ("مرحبا بالعالم", "שלום", "\u202eevil.exe\u202c")
LINE_BREAKS = ("\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\t", "\x0b", "\x0c")
TOKEN_PREFIX = "pkb_claim_"
URLSAFE = string.ascii_letters + string.digits + "-_"

FRAGMENTS = MARKUP + ESCAPES + BIDI + ZERO_WIDTH + WIDE + COMBINING + RIGHT_TO_LEFT + LINE_BREAKS

#: Any Unicode scalar except NUL and surrogates: what valid UTF-8 text can carry.
_valid_char = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


def hostile_fragment() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(FRAGMENTS), st.text(_valid_char, min_size=1, max_size=12))


def storable_text(min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[str]:
    """Hostile but valid text (no NUL, no lone surrogate); never blank after strip()."""
    return (
        st.lists(hostile_fragment(), min_size=min_size, max_size=max_size)
        .map("".join)
        .filter(lambda s: s.strip() != "")
    )


def framed(text: st.SearchStrategy[str], limit: int | None = None) -> st.SearchStrategy[str]:
    """Text wrapped in visible sentinels, so trimming never applies and equality is exact."""
    return text.map(lambda s: f"«{s[: limit - 2] if limit else s}»")


def unstorable_text() -> st.SearchStrategy[str]:
    """Hostile text with a NUL or a lone surrogate spliced in somewhere."""
    poison = st.one_of(st.just("\x00"), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
    return st.tuples(storable_text(max_size=4), poison, st.integers(0, 10_000)).map(
        lambda t: t[0][: t[2] % (len(t[0]) + 1)] + t[1] + t[0][t[2] % (len(t[0]) + 1) :]
    )


def token_like() -> st.SearchStrategy[str]:
    """A string shaped exactly like a claim token (prefix + 43 URL-safe characters)."""
    return st.text(st.sampled_from(URLSAFE), min_size=43, max_size=43).map(
        lambda body: TOKEN_PREFIX + body
    )


def text_around_token() -> st.SearchStrategy[tuple[str, str, str]]:
    """(before, token, after) - after starts with a non-URL-safe character, so the token's
    end is unambiguous and the expected redaction is exactly before + marker + after."""
    after = st.tuples(st.sampled_from(" ]\x1b\u202e\n:"), storable_text(max_size=3)).map("".join)
    return st.tuples(storable_text(max_size=3), token_like(), after)


def huge_text(size: int = 1_000_000) -> st.SearchStrategy[str]:
    """Exactly ``size`` characters of repeated hostile text (cheap to generate)."""
    return storable_text(max_size=4).map(lambda s: (s * (size // len(s) + 1))[:size])


def path_segment() -> st.SearchStrategy[str]:
    """One file name of hostile text: no '/', no backslash, not '.' or '..', <= 60 chars."""
    return (
        storable_text(max_size=3)
        .map(lambda s: s.replace("/", "\u2215").replace("\\", "\u29f5")[:60])
        .filter(lambda s: s.strip() == s and s not in ("", ".", "..") and "\x00" not in s)
        .filter(lambda s: len(s.encode("utf-8")) <= 200)
    )


def relative_path() -> st.SearchStrategy[str]:
    """A safe relative receipt path (``x:...`` is excluded: the core reads it as a drive)."""
    return (
        st.lists(path_segment(), min_size=1, max_size=3)
        .map("/".join)
        .filter(lambda p: not (len(p) > 1 and p[1] == ":"))
    )


#: Raw control characters a terminal would act on: C0 (except tab and newline), DEL, C1.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def raw_controls(text: str) -> list[str]:
    """The raw control characters in rendered output (should be none)."""
    return RAW_CONTROL.findall(text)
