"""The bounded reader behind the file viewer (issue 20 §2): a file is read up to the
limit and no further, binary files are named as such, a directory lists sorted entries,
and paths leading outside the workspace are refused as the contract rules refuse them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parkbench.core.contracts import workspace_path
from parkbench.core.errors import ValidationError
from parkbench.core.peek import (
    LIMIT,
    EntryKind,
    PeekKind,
    hex_dump,
    human_size,
    list_directory,
    peek,
    read_head,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    (workspace / "out").mkdir(parents=True)
    (workspace / "out" / "a.txt").write_text("hello\n")
    return workspace


def test_a_50_mb_file_is_read_only_up_to_the_limit(root: Path) -> None:
    big = root / "out" / "big.log"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB without writing them
    with big.open("r+b") as handle:
        handle.write(b"line one\n" * 10)
    seen = peek(str(root), "out/big.log")
    # Sparse zeros after the first line: that block is text, the rest NULs.
    assert seen.size == 50 * 1024 * 1024
    assert seen.bytes_read == LIMIT < seen.size
    assert seen.truncated
    size, data = read_head(str(big), 4096) or (0, b"")
    assert (size, len(data)) == (50 * 1024 * 1024, 4096)


def test_a_large_text_file_shows_its_first_block(root: Path) -> None:
    line = "é agent wrote this line\n"  # a two-byte character may fall on the cut
    (root / "out" / "log.txt").write_text(line * 20_000, encoding="utf-8")
    seen = peek(str(root), "out/log.txt", limit=1001)
    assert seen.kind is PeekKind.TEXT
    assert seen.bytes_read == 1001 and seen.size == len(line.encode()) * 20_000
    assert seen.text.startswith(line) and len(seen.text.encode()) <= 1001


def test_a_small_file_is_read_whole(root: Path) -> None:
    seen = peek(str(root), "out/a.txt")
    assert (seen.kind, seen.text, seen.size, seen.truncated) == (PeekKind.TEXT, "hello\n", 6, False)
    assert seen.relative == "out/a.txt"


@pytest.mark.parametrize(
    ("data", "why"),
    [(b"PK\x03\x04\x00\x00binary", "contains NUL bytes"), (b"caf\xe9 latin-1", "not UTF-8 text")],
)
def test_binary_files_are_named_binary(root: Path, data: bytes, why: str) -> None:
    (root / "out" / "blob").write_bytes(data)
    seen = peek(str(root), "out/blob")
    assert (seen.kind, seen.why_binary, seen.text) == (PeekKind.BINARY, why, "")
    assert seen.head == data
    assert hex_dump(b"AB\x00") == "00000000  41 42 00" + " " * 39 + "  AB."


def test_a_directory_lists_sorted_entries_with_kinds_and_sizes(root: Path) -> None:
    (root / "b.txt").write_text("12345")
    (root / "a-dir").mkdir()
    os.symlink("out/a.txt", root / "link")
    os.mkfifo(root / "pipe")
    seen = peek(str(root), "")
    assert seen.kind is PeekKind.DIRECTORY and seen.relative == "."
    assert [(e.name, e.kind, e.size) for e in seen.entries] == [
        ("a-dir", EntryKind.DIRECTORY, None),
        ("out", EntryKind.DIRECTORY, None),
        ("b.txt", EntryKind.FILE, 5),
        ("link", EntryKind.LINK, None),
        ("pipe", EntryKind.OTHER, None),
    ]
    assert peek(str(root), "pipe").kind is PeekKind.OTHER  # named, never opened (no hang)


def test_a_directory_listing_is_bounded(root: Path) -> None:
    many = root / "many"
    many.mkdir()
    for n in range(30):
        (many / f"f{n:02}").write_text("")
    entries, seen, more = list_directory(str(many), scan_max=20, entries_max=5)
    assert (len(entries), seen, more) == (5, 20, True)
    assert [e.name for e in entries] == sorted(e.name for e in entries)
    entries, seen, more = list_directory(str(many))
    assert (len(entries), seen, more) == (30, 30, False)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/etc/passwd", "is absolute"),
        ("../outside.txt", "contains '..'"),
        ("out/../../outside.txt", "contains '..'"),
        ("out\\a.txt", "backslash"),
        ("out/\x00", "NUL"),
        ("escape/secret.txt", "resolves outside the workspace root"),
        ("escape", "resolves outside the workspace root"),
        ("out/up", "resolves outside the workspace root"),
    ],
)
def test_paths_outside_the_workspace_are_refused(root: Path, path: str, says: str) -> None:
    outside = root.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    os.symlink(outside, root / "escape")
    os.symlink("../..", root / "out" / "up")
    with pytest.raises(ValidationError) as raised:
        peek(str(root), path)
    assert raised.value.code == "validation" and says in raised.value.message


def test_links_inside_the_workspace_are_followed(root: Path) -> None:
    os.symlink("out", root / "inside")
    assert peek(str(root), "inside/a.txt").text == "hello\n"
    assert peek(str(root), "out/gone.txt").kind is PeekKind.MISSING


def test_the_root_itself_may_be_browsed(root: Path) -> None:
    for path in ("", ".", "./", " . "):
        assert workspace_path(str(root), path) == os.path.realpath(root)
    with pytest.raises(ValidationError):
        workspace_path(str(root), "/")


@given(st.text(max_size=40))
def test_every_path_resolves_inside_the_root_or_is_refused(path: str) -> None:
    root = os.path.realpath("/tmp")
    try:
        resolved = workspace_path(root, path)
    except ValidationError:
        return
    assert resolved == root or resolved.startswith(root + os.sep)


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 B"), (1023, "1023 B"), (65536, "64 KB"), (1536 * 1024, "1.5 MB"), (50 << 20, "50 MB")],
)
def test_sizes_read_as_people_write_them(size: int, shown: str) -> None:
    assert human_size(size) == shown
