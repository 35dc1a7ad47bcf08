"""Option values converted without pydantic, so a worker's `parkbench` call starts fast.

Typer (0.2x) converts every option and argument through a pydantic ``TypeAdapter``, and
importing pydantic costs about 0.2 s CPU: a quarter of the budget of a `lease claim` that a
worker loop starts over and over. Our parameters are plain ``str``, ``int``, ``float``,
``bool``, ``Path`` and lists of those, which need no schema machinery: :func:`install`
gives each such parameter a small converter with the same results (tests/cli/test_cli_coerce.py
compares them with typer's own for every parameter) and leaves anything else to typer.

This uses typer's ``RuntimeParam`` hook, which is not public API; with a typer that lacks
it, :func:`install` does nothing and typer converts as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin


def _int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # a default, already typed
    if not isinstance(value, str):
        raise TypeError(type(value).__name__)
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        number = float(text)  # "3.0" is 3, as pydantic's lax mode has it; "3.5" is not
        if not number.is_integer():
            raise ValueError(text) from None
        return int(number)


_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off", ""}


def _bool(value: object) -> bool:
    """Flags arrive as bools; an env var or a value as text, read the way pydantic does."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(text)


_NAMES = {int: "integer", float: "number", str: "string", Path: "path", bool: "boolean"}
def _float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(type(value).__name__)
    return float(value)


def _str(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if not isinstance(value, str):
        raise TypeError(type(value).__name__)
    return value


def _path(value: object) -> Path:
    if not isinstance(value, (str, Path)):
        raise TypeError(type(value).__name__)
    return Path(value)


_CONVERT: dict[Any, Callable[[Any], Any]] = {
    str: _str, int: _int, float: _float, Path: _path, bool: _bool
}


def converter(annotation: Any) -> tuple[Callable[[str], Any], bool] | None:
    """(convert one value, is a list) for the annotations handled here, else None."""
    if annotation in _CONVERT:
        return _CONVERT[annotation], False
    if get_origin(annotation) is list:
        (item,) = get_args(annotation) or (None,)
        if item in _CONVERT:
            return _CONVERT[item], True
    return None


def install(command: Any) -> int:
    """Give every simple parameter in ``command``'s tree a light converter; count them.

    Each command's help option is made on first use, so it is fitted as it is made.
    """
    light = _light_param_class()
    if light is None:
        return 0
    count = 0
    stack = [command]
    while stack:
        current = stack.pop()
        stack.extend(getattr(current, "commands", {}).values())
        count += sum(_fit(param, light) for param in current.params)
        make_help = current.get_help_option

        def get_help_option(ctx: Any, _make: Any = make_help) -> Any:
            option = _make(ctx)
            if option is not None:
                _fit(option, light)
            return option

        current.get_help_option = get_help_option
    return count


def _fit(param: Any, light: type) -> bool:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "_runtime_param", True) is not None:
        return False
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or info.parser is not None or (
        getattr(info, "min", None) is not None or getattr(info, "max", None) is not None
    ):
        return False
    found = converter(descriptor.annotation)
    if found is None:
        return False
    convert, many = found
    item = get_args(descriptor.annotation)[0] if many else descriptor.annotation
    param._runtime_param = light(
        parameter_info=info,
        annotation=descriptor.annotation,
        convert=convert,
        many=many,
        kind=_NAMES[item],
    )
    return True


_LIGHT: list[type] = []


def _light_param_class() -> type | None:
    if _LIGHT:
        return _LIGHT[0]
    try:
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
    except ImportError:
        return None

    @dataclass(frozen=True)
    class LightParam(RuntimeParam):
        convert: Callable[[Any], Any] = str
        many: bool = False
        kind: str = "value"

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                if self.many:
                    return [self.convert(item) for item in value]
                return self.convert(value)
            except (TypeError, ValueError):
                shown = value if not self.many else next(iter(value), value)
                raise BadParameter(
                    f"{shown!r} is not a valid {self.kind}.", ctx=ctx, param=param
                ) from None

    _LIGHT.append(LightParam)
    return LightParam
