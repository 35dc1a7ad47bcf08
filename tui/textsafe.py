"""Make untrusted text safe to put on a terminal, without losing what it says.

Block reasons, titles, worker names and paths come from agents. Storage keeps them exactly
(see :mod:`parkbench.core.inputs`); everything that *displays* them goes through here first, so a
reason cannot recolour the screen, set the window title, reorder a line with bidi overrides
or hide words in zero-width characters. Nothing is dropped: each dangerous character is
shown as a visible escape (``\\x1b``, ``\\u202e``), so a reviewer sees that it was there.

Pure Python with no dependencies: the CLI and the Textual app both use it, and the CLI
must stay cheap to import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["ELLIPSIS", "UNSAFE_CHARS", "escape_char", "one_line", "safe_text"]

ELLIPSIS = "…"

# Characters a terminal (or a human reader) would act on instead of showing:
# C0 and C1 controls and DEL; every Unicode "format" (Cf) character: bidi embeddings,
# overrides and isolates, zero-width spaces and joiners, the BOM, invisible operators,
# interlinear annotation marks and the tag block (used to smuggle invisible ASCII);
# the line and paragraph separators; lone surrogates. tests/cli/test_textsafe.py checks
# this list against unicodedata, so a newer Unicode version cannot slip a Cf past it.
_NON_C0 = (
    "\x7f-\x9f"
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufeff\ufff9-\ufffb"
    "\ud800-\udfff"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
#: The unsafe set as a regex character class body.
UNSAFE_CHARS = "\x00-\x1f" + _NON_C0
_UNSAFE = re.compile(f"[{UNSAFE_CHARS}]")
# Multi-line text keeps tab (\x09) and line feed (\x0a).
_UNSAFE_MULTILINE = re.compile(f"[\x00-\x08\x0b-\x1f{_NON_C0}]")
_WHITESPACE = re.compile(r"\s+")
_WHITESPACE_BUT_LF = re.compile(r"[^\S\n]+")
#: How :func:`one_line` shows a line break when asked to keep it visible.
NEWLINE_MARK = "\\n"
_ZWJ = "\u200d"


def escape_char(char: str) -> str:
    """The visible escape for one character: ``\\x1b``, ``\\u202e``, ``\\U000e0041``."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _is_pictograph(char: str) -> bool:
    # Emoji and their modifiers live in these blocks; a ZWJ between two of them is part of
    # one glyph (a family, a profession) and renders as such, so it is left alone.
    code = ord(char)
    return (
        0x1F000 <= code <= 0x1FAFF
        or 0x2600 <= code <= 0x27BF
        or code == 0xFE0F
        or 0x2190 <= code <= 0x21FF
        or 0x2B00 <= code <= 0x2BFF
    )


def _pieces(text: str, multiline: bool) -> Iterator[tuple[str, bool]]:
    """Yield ``(chunk, atomic)``: plain runs (splittable) and escapes (never split)."""
    pattern = _UNSAFE_MULTILINE if multiline else _UNSAFE
    start = 0
    for match in pattern.finditer(text):
        index = match.start()
        char = text[index]
        if (
            char == _ZWJ
            and 0 < index < len(text) - 1
            and _is_pictograph(text[index - 1])
            and _is_pictograph(text[index + 1])
        ):
            continue
        if index > start:
            yield text[start:index], False
        yield escape_char(char), True
        start = index + 1
    if start < len(text):
        yield text[start:], False


def _bounded(pieces: Iterator[tuple[str, bool]], max_len: int | None, cut: bool) -> str:
    """Join pieces into at most ``max_len`` characters, ending in an ellipsis if cut."""
    if max_len is None:
        return "".join(chunk for chunk, _ in pieces)
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    out: list[tuple[str, bool]] = []
    length = 0
    for piece in pieces:
        out.append(piece)
        length += len(piece[0])
        if length > max_len:
            cut = True
            break
    if not cut:
        return "".join(chunk for chunk, _ in out)
    # Make room for the ellipsis: shorten plain text, drop escapes whole.
    excess = length - (max_len - 1)
    while excess > 0:
        chunk, atomic = out.pop()
        if not atomic and len(chunk) > excess:
            out.append((chunk[: len(chunk) - excess], False))
            break
        excess -= len(chunk)
    return "".join(chunk for chunk, _ in out) + ELLIPSIS


def safe_text(text: str, max_len: int | None = None, *, multiline: bool = False) -> str:
    """``text`` with every control, bidi and invisible character shown as an escape.

    ``max_len`` bounds the result in characters (an ellipsis marks the cut; an escape is
    never split). ``multiline`` keeps line feeds and tabs as they are (a CR LF becomes a
    line feed); otherwise they are escaped too, so the result is always one line.
    """
    if multiline:
        text = text.replace("\r\n", "\n")
    cut = False
    if max_len is not None and len(text) > max_len + 1:
        # Escaping only lengthens text, so nothing past max_len (+1 for ZWJ context) shows.
        text, cut = text[: max_len + 2], True
    return _bounded(_pieces(text, multiline), max_len, cut)


def one_line(text: str, max_len: int | None = None, *, show_newlines: bool = False) -> str:
    """One display line: whitespace runs (newlines included) collapse to one space.

    ``show_newlines`` keeps each line break visible as ``\\n`` (other whitespace runs still
    collapse): what the command line prints for agent text, so that a reviewer sees the
    text had several lines and none of them can pass for a line of the CLI's own output.
    """
    cut = False
    if max_len is not None:
        budget = max_len * 8 + 256  # collapsing shrinks text; this much is always enough
        if len(text) > budget:
            text, cut = text[:budget], True
    if show_newlines:
        text = text.replace("\r\n", "\n")
        collapsed = _WHITESPACE_BUT_LF.sub(" ", text).strip()
        # _pieces escapes a line feed like any control (as \x0a): name it \n instead.
        lf = escape_char("\n")
        pieces = (
            (NEWLINE_MARK, True) if atomic and chunk == lf else (chunk, atomic)
            for chunk, atomic in _pieces(collapsed, False)
        )
        return _bounded(pieces, max_len, cut)
    collapsed = _WHITESPACE.sub(" ", text).strip()
    if not cut:
        return safe_text(collapsed, max_len)
    return _bounded(_pieces(collapsed, False), max_len, cut=True)
