"""parkbench.tui.textsafe: untrusted text made safe for a terminal, visibly, and bounded."""

from __future__ import annotations

import re
import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from parkbench.tui.textsafe import ELLIPSIS, UNSAFE_CHARS, escape_char, one_line, safe_text

UNSAFE = re.compile(f"[{UNSAFE_CHARS}]")


def _dangerous(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs")


def test_the_unsafe_set_covers_every_control_and_format_character() -> None:
    missing = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if _dangerous(chr(code)) and not UNSAFE.match(chr(code))
    ]
    assert missing == []


def test_terminal_escapes_become_visible() -> None:
    assert safe_text("a\x1b[31mred\x1b[0m") == "a\\x1b[31mred\\x1b[0m"
    assert safe_text("\x1b]0;pwned\x07") == "\\x1b]0;pwned\\x07"
    assert safe_text("csi\x9b31m del\x7f") == "csi\\x9b31m del\\x7f"
    assert safe_text("a\rb\nc\td") == "a\\x0db\\x0ac\\x09d"
    assert safe_text("x\u202eevil\u202c") == "x\\u202eevil\\u202c"
    assert safe_text("zero\u200bwidth\ufeff") == "zero\\u200bwidth\\ufeff"
    assert safe_text("tag\U000e0041") == "tag\\U000e0041"
    assert escape_char("\u2028") == "\\u2028"


def test_markup_and_wide_text_pass_through_unchanged() -> None:
    for text in ("[bold]x[/]", "[@click=app.quit]", "需要人工审核", "مطلوب مراجعة", "🚧🔥"):
        assert safe_text(text) == text


def test_emoji_joiners_survive_but_stray_ones_do_not() -> None:
    family = "👩\u200d💻 and 👨\u200d👩\u200d👧"
    assert safe_text(family) == family
    assert safe_text("a\u200db") == "a\\u200db"


def test_multiline_keeps_lines_and_tabs_only() -> None:
    assert safe_text("one\r\ntwo\tx\ry\x1b", multiline=True) == "one\ntwo\tx\\x0dy\\x1b"


def test_bounded_with_an_ellipsis_and_never_a_split_escape() -> None:
    assert safe_text("x" * 20, 10) == "x" * 9 + ELLIPSIS
    assert safe_text("abcdefg\x1b", 9) == "abcdefg" + ELLIPSIS  # \x1b would not fit whole
    assert safe_text("abc", 3) == "abc"
    assert safe_text("a" * 100_000, 5) == "aaaa" + ELLIPSIS


def test_one_line_collapses_whitespace() -> None:
    assert one_line("  a\n\n b\t c  ") == "a b c"
    assert one_line("line\nline\n" * 10_000, 12) == "line line l" + ELLIPSIS


@given(st.text(), st.one_of(st.none(), st.integers(min_value=1, max_value=80)), st.booleans())
def test_output_never_carries_a_dangerous_character(
    text: str, bound: int | None, multiline: bool
) -> None:
    shown = safe_text(text, bound, multiline=multiline)
    allowed = {"\n", "\t"} if multiline else set()
    for index, char in enumerate(shown):
        if char == "\u200d":  # only kept between two pictographs
            assert 0 < index < len(shown) - 1
            continue
        assert char in allowed or not _dangerous(char), (text, shown)
    if bound is not None:
        assert len(shown) <= bound
        if len(shown) == bound and shown != safe_text(text, multiline=multiline):
            assert shown.endswith(ELLIPSIS)
    else:
        assert len(shown) >= len(text.replace("\r\n", "\n") if multiline else text)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Zl", "Zp", "Cs"))))
def test_safe_text_is_the_identity_on_safe_text(text: str) -> None:
    assert safe_text(text) == text


def test_one_line_can_keep_line_breaks_visible() -> None:
    text = "a\nerror[x]: forged\r\nhint:\t b \x1b[2J\rc"
    shown = one_line(text, show_newlines=True)
    assert shown == "a\\nerror[x]: forged\\nhint: b \\x1b[2J c"
    assert "\n" not in shown and "\r" not in shown
    assert one_line(text) == "a error[x]: forged hint: b \\x1b[2J c"  # default unchanged
    bounded = one_line("x\n" * 100, 9, show_newlines=True)
    assert len(bounded) <= 9 and bounded.endswith("…") and "\\n" in bounded
    # the \n mark is never split by the bound
    assert one_line("ab\ncd", 4, show_newlines=True) == "ab…"
