"""Look inside a workspace without reading it whole: the first block of a file, or a
bounded, sorted listing of a directory.

The review app's file viewer (and anything else that shows what an agent left behind)
calls :func:`peek`. Paths are resolved by the contract rules
(:func:`parkbench.core.contracts.workspace_path`): absolute paths, ``..`` and symlinks
leading outside the root are refused with the same ``validation`` error. A file is opened
once and at most ``limit`` bytes are read from it, whatever its size; a FIFO, socket or
device is named, never opened. No Textual here: safe on any thread, testable on its own.
"""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass, replace
from enum import StrEnum

from parkbench.core.contracts import workspace_path

#: Bytes read from a file (the viewer shows "first 64 KB of M").
LIMIT = 64 * 1024
#: Directory entries looked at (sorted among themselves) and entries kept.
SCAN_MAX = 10_000
ENTRIES_MAX = 1_000
#: Bytes of a binary file shown as a hex dump.
HEX_BYTES = 256


class PeekKind(StrEnum):
    TEXT = "text"
    BINARY = "binary"
    DIRECTORY = "directory"
    OTHER = "other"  # a FIFO, socket or device: never opened
    MISSING = "missing"


class EntryKind(StrEnum):
    DIRECTORY = "dir"
    FILE = "file"
    LINK = "link"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    kind: EntryKind
    size: int | None  # files: bytes; others: None

    @property
    def is_dir(self) -> bool:
        return self.kind is EntryKind.DIRECTORY


@dataclass(frozen=True, slots=True)
class Peek:
    """What :func:`peek` saw at ``relative`` (under ``root``, resolved to ``path``)."""

    root: str
    relative: str
    path: str
    kind: PeekKind
    size: int = 0  # the file's size in bytes (a directory: 0)
    bytes_read: int = 0
    text: str = ""  # TEXT: the decoded first block (unescaped: display escapes it)
    head: bytes = b""  # BINARY: the first bytes, for a hex dump
    why_binary: str = ""
    entries: tuple[Entry, ...] = ()
    #: DIRECTORY: entries counted (at most SCAN_MAX) and whether there were more.
    entries_seen: int = 0
    entries_more: bool = False

    @property
    def truncated(self) -> bool:
        return self.bytes_read < self.size


def _decode(data: bytes, *, final: bool) -> str | None:
    """UTF-8 text, or None if it is not; a character cut at the block's end is dropped."""
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=final)
    except UnicodeDecodeError:
        return None


def read_head(path: str, limit: int = LIMIT) -> tuple[int, bytes] | None:
    """``(size, first limit bytes)`` of the regular file at ``path``, or None when it is
    not one. Opened non-blocking (a FIFO swapped in cannot hang the caller) and checked
    with ``fstat`` on the open descriptor; one ``read`` of at most ``limit`` bytes."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        chunks: list[bytes] = []
        left = limit
        while left > 0:  # a regular file gives all it has in one read; loop for short reads
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return info.st_size, b"".join(chunks)
    finally:
        os.close(fd)


def _entry(item: os.DirEntry[str]) -> Entry:
    try:
        if item.is_symlink():
            return Entry(item.name, EntryKind.LINK, None)
        if item.is_dir(follow_symlinks=False):
            return Entry(item.name, EntryKind.DIRECTORY, None)
        if item.is_file(follow_symlinks=False):
            return Entry(item.name, EntryKind.FILE, item.stat(follow_symlinks=False).st_size)
    except OSError:
        pass
    return Entry(item.name, EntryKind.OTHER, None)


def list_directory(
    path: str, *, scan_max: int = SCAN_MAX, entries_max: int = ENTRIES_MAX
) -> tuple[tuple[Entry, ...], int, bool]:
    """``(entries, seen, more)``: directories first, then by name, among the first
    ``scan_max`` entries the OS gives; ``more``: there were more than that."""
    seen: list[Entry] = []
    more = False
    with os.scandir(path) as items:
        for item in items:
            if len(seen) >= scan_max:
                more = True
                break
            seen.append(_entry(item))
    seen.sort(key=lambda e: (not e.is_dir, e.name))
    return tuple(seen[:entries_max]), len(seen), more


def peek(root: str, relative: str, *, limit: int = LIMIT) -> Peek:
    """What is at ``relative`` under the workspace ``root`` (blank: the root itself).

    Raises :class:`parkbench.core.errors.ValidationError` for a path outside the root
    (the contract rules) and ``OSError`` when it cannot be read (permission denied)."""
    path = workspace_path(root, relative)
    real_root = os.path.realpath(root)
    shown = os.path.relpath(path, real_root) if path != real_root else "."
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return Peek(root, shown, path, PeekKind.MISSING)
    if stat.S_ISDIR(mode):
        entries, seen, more = list_directory(path)
        return Peek(
            root, shown, path, PeekKind.DIRECTORY, entries=entries, entries_seen=seen,
            entries_more=more,
        )  # fmt: skip
    if not stat.S_ISREG(mode):
        return Peek(root, shown, path, PeekKind.OTHER)
    head = read_head(path, limit)
    if head is None:  # replaced by something else since the stat
        return Peek(root, shown, path, PeekKind.OTHER)
    size, data = head
    base = Peek(root, shown, path, PeekKind.TEXT, size=size, bytes_read=len(data))
    if b"\x00" in data:
        why = "contains NUL bytes"
    elif (text := _decode(data, final=len(data) >= size)) is None:
        why = "not UTF-8 text"
    else:
        return replace(base, text=text)
    return replace(base, kind=PeekKind.BINARY, head=data[:HEX_BYTES], why_binary=why)


def hex_dump(data: bytes, width: int = 16) -> str:
    """``offset  hex bytes  ascii`` lines (non-printable bytes as ``.``)."""
    lines = []
    for offset in range(0, len(data), width):
        chunk = data[offset : offset + width]
        hexed = " ".join(f"{b:02x}" for b in chunk)
        shown = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexed:<{width * 3 - 1}}  {shown}")
    return "\n".join(lines)


def human_size(size: int) -> str:
    """``512 B``, ``64 KB``, ``1.5 MB``, ``50 MB`` (powers of 1024)."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    return f"{value:.0f} {unit}" if value >= 100 or value.is_integer() else f"{value:.1f} {unit}"
