"""Print a pip constraints file pinning every dependency of pyproject.toml to its lower bound.

pip has no "lowest" resolution, so `.ci/lowest.sh` pins each bound with `==` instead:
base dependencies and every extra (``dev`` pulls in ``postgres`` through ``parkbench[...]``,
which is this project and is skipped). A dependency without a lower bound is an error, so
every bound in pyproject.toml stays tested. ``NAME==VERSION`` arguments replace a pin, to
try a candidate floor before writing it into pyproject.toml. ``--verify FILE`` checks that
this interpreter has exactly the versions FILE pins (a silent upgrade would test the wrong
thing).
"""

from __future__ import annotations

import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

PROJECT = "parkbench"
LOWER = (">=", "==", "~=")


def lower_bounds(pyproject: Path) -> dict[str, str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    pins: dict[str, str] = {}
    for line in requirements:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name == PROJECT:
            continue  # a self-reference such as parkbench[postgres]: its bounds are listed too
        floors = [spec.version for spec in requirement.specifier if spec.operator in LOWER]
        if len(floors) != 1:
            raise SystemExit(f"{line!r}: give it exactly one lower bound (>=X) in pyproject.toml")
        if pins.setdefault(name, floors[0]) != floors[0]:
            raise SystemExit(f"{name}: two different lower bounds in pyproject.toml")
    return pins


def verify(constraints: Path) -> None:
    wrong = []
    for line in constraints.read_text().split():
        name, _, pinned = line.partition("==")
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "nothing"
        if installed == "nothing" or Version(installed) != Version(pinned):
            wrong.append(f"{name}: {installed} installed, {pinned} pinned")
    if wrong:
        raise SystemExit("not the lowest versions: " + "; ".join(wrong))


def main(argv: list[str]) -> None:
    if argv[:1] == ["--verify"]:
        verify(Path(argv[1]))
        return
    pins = lower_bounds(Path(__file__).resolve().parents[1] / "pyproject.toml")
    for override in argv:
        name, _, version = override.partition("==")
        if not version:
            raise SystemExit(f"{override!r}: write an override as NAME==VERSION")
        pins[canonicalize_name(name)] = version
    for name, version in sorted(pins.items()):
        print(f"{name}=={version}")


if __name__ == "__main__":
    main(sys.argv[1:])
