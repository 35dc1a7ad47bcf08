"""screenshots/ (the README's images) must be what the current UI draws."""

from __future__ import annotations

import difflib
from pathlib import Path

from parkbench.tui.snapshot.screenshots import COMMAND, PNG_OF, generate, png_source, sha256

COMMITTED = Path(__file__).resolve().parents[2] / "screenshots"


def test_the_committed_screenshots_are_current(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    generate(fresh)
    made = {p.name for p in fresh.iterdir() if p.suffix in (".svg", ".txt")}
    kept = {p.name for p in COMMITTED.iterdir() if p.suffix in (".svg", ".txt")}
    problems = [f"missing: {name}" for name in sorted(made - kept)]
    problems += [f"no longer made: {name}" for name in sorted(kept - made)]
    for name in sorted(made & kept):
        now, then = (fresh / name).read_bytes(), (COMMITTED / name).read_bytes()
        if now != then:
            problems.append(f"stale: {name}")
            if name.endswith(".txt"):
                diff = difflib.unified_diff(
                    then.decode().splitlines(),
                    now.decode().splitlines(),
                    f"screenshots/{name}",
                    "now",
                    lineterm="",
                    n=1,
                )
                problems.extend(list(diff)[:40])
    png = COMMITTED / f"{PNG_OF}.png"
    if png.exists() and png_source(png) != sha256((COMMITTED / f"{PNG_OF}.svg").read_bytes()):
        problems.append(f"stale: {png.name} (made from another {PNG_OF}.svg)")
    assert not problems, (
        f"screenshots/ does not show the current UI. Regenerate it with `{COMMAND}` "
        "(needs rsvg-convert for the PNG: Debian package librsvg2-bin) and commit "
        "screenshots/.\n" + "\n".join(problems)
    )
