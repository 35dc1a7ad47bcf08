"""Regenerate ``screenshots/`` (the README's images) from demo data: one command.

    python -m parkbench.tui.snapshot.screenshots            # writes screenshots/ here
    python -m parkbench.tui.snapshot.screenshots --out DIR  # anywhere else (the staleness test)

It is exactly::

    parkbench demo --db TMP/demo.db --workspace /tmp/parkbench-readme/workspace \\
        --runs 300 --seed 22 --now 2026-09-01T09:00:00Z
    parkbench snapshot --db TMP/demo.db --out TMP/report --screens all \\
        --size 120x40 --now 2026-09-01T09:00:00Z

run with a clean environment (no ``NO_COLOR``, ``TEXTUAL_*``, keymap...), keeping each
screen's ``.svg`` and ``.txt``, plus ``list.png`` when ``rsvg-convert`` (Debian:
``librsvg2-bin``) is installed. The workspace path is fixed because the detail screen shows
it. The PNG carries the SHA-256 of the SVG it was made from, so a test can tell it is
current without rendering it again. tests/snapshot/test_snapshot_screenshots.py fails when
the committed files differ from a fresh run: after a UI change, run this and commit.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

COMMAND = "python -m parkbench.tui.snapshot.screenshots"
WORKSPACE = Path("/tmp/parkbench-readme/workspace")
NOW = "2026-09-01T09:00:00Z"
DEMO = ("--runs", "300", "--seed", "22", "--now", NOW)
SNAPSHOT = ("--screens", "all", "--size", "120x40", "--now", NOW)
PNG_OF = "list"
PNG_KEY = b"parkbench:source-svg-sha256"
#: Environment that would change what the app draws or where the CLI looks.
SCRUBBED_PREFIXES = ("PARKBENCH_", "TEXTUAL_")
SCRUBBED = {"NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "COLORTERM"}


def clean_env() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if key not in SCRUBBED and not key.startswith(SCRUBBED_PREFIXES)
    }


def parkbench(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "parkbench.tui.cli", *args],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"parkbench {' '.join(args[:1])} failed:\n{done.stderr}")


def generate(out: Path) -> list[str]:
    """Write the screenshots into ``out``; return the names written."""
    out.mkdir(parents=True, exist_ok=True)
    WORKSPACE.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="parkbench-shots-") as tmp,
        open(WORKSPACE.parent / ".lock", "w") as lock,
    ):
        fcntl.flock(lock, fcntl.LOCK_EX)  # the workspace is shared by concurrent runs
        shutil.rmtree(WORKSPACE, ignore_errors=True)
        db = str(Path(tmp) / "demo.db")
        report = Path(tmp) / "report"
        parkbench("demo", "--db", db, "--workspace", str(WORKSPACE), *DEMO)
        parkbench("snapshot", "--db", db, "--out", str(report), *SNAPSHOT)
        names = sorted(p.name for p in report.iterdir() if p.suffix in (".svg", ".txt"))
        for old in out.iterdir():  # a screen that is gone leaves no image behind
            if old.suffix in (".svg", ".txt") and old.name not in names:
                old.unlink()
        for name in names:
            shutil.copyfile(report / name, out / name)
    svg = (out / f"{PNG_OF}.svg").read_bytes()
    png = out / f"{PNG_OF}.png"
    if png_source(png) != sha256(svg):
        made = render_png(svg)
        if made is None:
            png.unlink(missing_ok=True)
            print(
                f"note: {png.name} not made: install rsvg-convert (Debian: librsvg2-bin)",
                file=sys.stderr,
            )
        else:
            png.write_bytes(with_text_chunk(made, PNG_KEY, sha256(svg).encode()))
    if png.exists():
        names.append(png.name)
    return names


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def render_png(svg: bytes) -> bytes | None:
    tool = shutil.which("rsvg-convert")
    if tool is None:
        return None
    done = subprocess.run([tool, "--format", "png"], input=svg, capture_output=True, check=True)
    return done.stdout


def with_text_chunk(png: bytes, key: bytes, value: bytes) -> bytes:
    """``png`` with a tEXt chunk ``key=value`` right after its header chunk."""
    header_end = 8 + 4 + 4 + 13 + 4  # signature, then IHDR: length, type, data, CRC
    body = b"tEXt" + key + b"\x00" + value
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    return png[:header_end] + chunk + png[header_end:]


def png_source(path: Path) -> str | None:
    """The SVG hash a PNG made by :func:`generate` carries, if any."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    at = 8
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        if kind == b"tEXt" and body.startswith(PNG_KEY + b"\x00"):
            return body[len(PNG_KEY) + 1 :].decode("ascii", "replace")
        at += 12 + length
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("screenshots"),
        help="where to write (default: screenshots/)",
    )
    args = parser.parse_args(argv)
    names = generate(args.out)
    print(f"wrote {args.out}/: {' '.join(names)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
