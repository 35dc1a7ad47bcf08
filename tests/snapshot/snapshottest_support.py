"""Helpers for the snapshot tests: parked runs made through the real store (hostile texts
included), the real `parkbench` in a subprocess, and checks on exported files.

Not a test module (no ``test_`` prefix); imported by name like tests/tui/tuitest_support.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parkbench.core.store import Store
from parkbench.tui.textsafe import UNSAFE_CHARS

#: tests/conftest.py's T0_MS (2026-09-01T00:00:00Z) plus one hour: the screens' "now".
NOW_MS = 1_788_220_800_000 + 3_600_000
NOW_ISO = "2026-09-01T01:00:00Z"
SIZE = (120, 40)

#: Agent-supplied text of every dangerous kind (storage keeps it exactly; NUL is refused).
HOSTILE: dict[str, str] = {
    "markup": "[bold red]x[/] [@click=app.quit]quit[/] [link=https://evil.example]l[/link]",
    "ansi": "\x1b[31mred\x1b[0m \x1b]0;pwned\x07 then \x1b[2J\x1b[H cleared",
    "svg": "<script>alert(1)</script> & <b>bold</b> \"q\" 'a' ]]> <!-- -->",
    "bidi": "invoice_\u202efdp.exe\u202c \u2066iso\u2069 zero\u200bwidth",
    "c1": "\x9b31m csi \x85 nel \x07 bel",
    "nonchar": "\ufffe\uffff nonchars",
    "long": "L" * 5000 + " the end",
}
#: Characters no exported file may contain (besides the line feed of the text files).
FORBIDDEN = re.compile(f"(?!\n)[{UNSAFE_CHARS}\ufffe\uffff]")
_FORBIDDEN_TEXT = re.compile(f"[{UNSAFE_CHARS}\ufffe\uffff]")


def park(
    store: Store,
    workspace: Path,
    title: str,
    reason: str,
    *,
    worker: str = "agent-1",
    required: Sequence[str] = (),
    priority: int = 0,
    clock: Any = None,
) -> int:
    """Enqueue, claim and block one run (the real worker path); returns its id."""
    metadata = {"completion_contract": {"required_paths": list(required)}} if required else None
    enqueued = store.enqueue(title, workspace, priority=priority, metadata=metadata, actor="ci")
    claim = store.claim_next(worker)
    assert claim is not None and claim.run_id == enqueued.run_id
    store.block(claim.run_id, claim.claim_token, reason=reason)
    if clock is not None:
        clock.advance(60)
    return enqueued.run_id


def seed_review(store: Store, workspace: Path, clock: Any) -> list[int]:
    """A few parked runs (receipts present, missing, a directory), one queued, one failed."""
    (workspace / "out").mkdir(exist_ok=True)
    (workspace / "out" / "a.txt").write_text("ok\n")
    (workspace / "out" / "dir.json").mkdir(exist_ok=True)
    parked = [
        park(
            store,
            workspace,
            "Summarise the logs",
            "need an API key\nsee ticket 12",
            worker="agent-1",
            required=["out/a.txt", "out/b.txt", "out/dir.json", "out/c.txt"],
            clock=clock,
        ),
        park(
            store,
            workspace,
            "Rebuild the index",
            "disk full",
            worker="agent-2",
            priority=5,
            clock=clock,
        ),
        park(
            store,
            workspace,
            "Translate docs",
            "which locale?",
            worker="agent-3",
            required=["out/a.txt"],
            clock=clock,
        ),
    ]
    # Lowest priority: later park() calls claim their own fresh run, never this one.
    store.enqueue("Still queued", workspace, actor="ci", priority=-1000)
    return parked


def seed_hostile(store: Store, workspace: Path, clock: Any) -> dict[str, int]:
    """One parked run per hostile text, used as title, reason and worker at once."""
    return {
        name: park(
            store,
            workspace,
            f"{name} title {text}",
            f"{name} reason {text}",
            worker=f"w-{name}-{text[:40]}",
            clock=clock,
        )
        for name, text in HOSTILE.items()
    }


def entry_point() -> list[str]:
    """The installed console script next to this interpreter, else `python -m parkbench.tui.cli`."""
    script = Path(sys.executable).with_name("parkbench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "parkbench.tui.cli"]


#: What a developer's shell may carry that would change what the app or the CLI does.
SCRUBBED = (
    "PARKBENCH_DB",
    "PARKBENCH_DEBUG",
    "PARKBENCH_KEYMAP",
    "COLUMNS",
    "LINES",
    "NO_COLOR",
    "FORCE_COLOR",
    "TEXTUAL_THEME",
    "TEXTUAL_ANIMATIONS",
    "TEXTUAL_COLOR_SYSTEM",
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(extra)
    return env


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 180
) -> Result:
    done = subprocess.run(
        [*entry_point(), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or clean_env(),
        timeout=timeout,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def assert_safe_svg(svg: str) -> ET.Element:
    """Well-formed XML, only the elements Rich's export uses, no forbidden character."""
    assert not FORBIDDEN.search(svg), FORBIDDEN.search(svg)
    root = ET.fromstring(svg)
    allowed = {"svg", "style", "defs", "clipPath", "rect", "g", "text", "circle"}
    tags = {element.tag.rpartition("}")[2] for element in root.iter()}
    assert tags <= allowed, tags - allowed
    return root


def svg_text(root: ET.Element) -> str:
    """All text drawn in an SVG, in document order (non-breaking spaces as spaces)."""
    return "".join(
        element.text or "" for element in root.iter() if element.tag.endswith("text")
    ).replace("\xa0", " ")


def assert_safe_text(text: str, size: tuple[int, int] = SIZE) -> None:
    """Plain text: no escape sequence or other unsafe character; the screen's shape."""
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) - 1 == size[1], len(lines)
    for line in lines:
        assert not _FORBIDDEN_TEXT.search(line), (line, _FORBIDDEN_TEXT.search(line))
        assert len(line) <= size[0], line
