"""parkbench.tui.cli.coerce converts option values exactly as typer's pydantic adapters would.

Every parameter of every command is checked on typical and bad inputs for its type: the
same value, or an error from both (a usage error: exit 2, code validation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import parkbench.tui.cli
import pytest
import typer
from parkbench.tui.cli import coerce
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param

SAMPLES: dict[Any, list[Any]] = {
    str: ["x", "", " a b ", "数据 🚧", "--json", "needs_attention"],
    int: ["5", "-3", " 7 ", "3.0", "x", "2.5", "", "1_000", 50, 1000, 0, 3],
    float: ["1.5", "-2", "1e3", "x", "", "3", 300, 1.5],
    Path: ["a/b", "/abs/dir", ".", Path("p")],
    bool: [True, False, "true", "0", "yes", "off", "maybe"],
    list[str]: [["a", "b"], []],
    list[int]: [["1", "2"], ["x"], []],
}


def _outcome(runtime: Any, value: Any, param: Any, ctx: Any) -> tuple[str, Any]:
    try:
        return "ok", runtime._coerce_value(value, param=param, ctx=ctx)
    except BadParameter:
        return "error", None


def _params(command: Any):
    stack = [command]
    while stack:
        current = stack.pop()
        stack.extend(getattr(current, "commands", {}).values())
        for param in current.params:
            yield current, param


def _every_command() -> list[Any]:
    root = typer.main.get_command(parkbench.tui.cli.app)
    coerce.install(root)
    ctx = typer.Context(root)
    return [root, *(root.get_command(ctx, name) for name in root.list_commands(ctx))]


def test_every_parameter_converts_like_typer() -> None:
    checked = fitted = 0
    for owner, param in (pair for command in _every_command() for pair in _params(command)):
        fitted += 1
        annotation = param.type_descriptor.annotation
        assert param._runtime_param is not None, (owner.name, param.name)
        ctx = typer.Context(owner)
        theirs = build_runtime_param(param.type_descriptor)
        samples = list(SAMPLES[annotation])
        if param.default is not None and not callable(param.default):
            samples.append(param.default)  # defaults go through conversion too
        for value in samples:
            assert _outcome(param._runtime_param, value, param, ctx) == _outcome(
                theirs, value, param, ctx
            ), (owner.name, param.name, value)
            checked += 1
    assert fitted > 50 and checked > 300


def test_unknown_annotations_are_left_to_typer() -> None:
    assert coerce.converter(dict) is None and coerce.converter(list[dict]) is None
    assert coerce.converter(int) is not None and coerce.converter(list[Path]) is not None


@pytest.mark.parametrize("args", [("list", "--limit", "x"), ("show", "1.5")])
def test_bad_numbers_are_usage_errors(args: tuple[str, ...]) -> None:
    from clitest_support import invoke

    done = invoke(*args, "--json")
    assert done.code == 2 and "not a valid integer" in done.error()["message"]
