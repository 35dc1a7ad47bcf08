"""Open a file in the reviewer's own pager or editor, the app suspended meanwhile.

Precedence: ``$PAGER``, then ``$EDITOR``, then ``less`` if it is on the PATH (the viewer
is read-only, so a pager comes first; an editor is what many people set instead). Each is
split like a shell would (``PAGER="less -R"``) and given the file's path as its last
argument; nothing goes through a shell.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping

#: The variables read, in order.
PAGER_VARIABLES = ("PAGER", "EDITOR")
FALLBACK = "less"


def pager_command(path: str, environ: Mapping[str, str] | None = None) -> list[str] | None:
    """The command that shows ``path``, or None when no pager or editor is known."""
    environ = os.environ if environ is None else environ
    for name in PAGER_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            try:
                words = shlex.split(value)
            except ValueError:  # an unbalanced quote: the value as one program name
                words = [value]
            if words:
                return [*words, path]
    found = shutil.which(FALLBACK)
    return [found, path] if found else None


def run_command(command: list[str]) -> int:
    """Run ``command`` on the terminal as it is (the app suspended) and wait for it; its
    exit status, or 127 when it cannot be started."""
    try:
        return subprocess.run(command, check=False).returncode
    except OSError:
        return 127
