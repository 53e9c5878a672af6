"""Typed option fields and the coercion of YAML values into them.

Every component's recipe options are one dataclass whose fields are declared
with ``option()``. The field's help text is what ``zoo validate`` and the
docs show. Coercion repairs the YAML 1.1 readings that are unambiguous
(``1e-3`` read as a string for a float field, ``no`` read as a boolean for a
string field) and reports the ambiguous ones (``010`` read as octal 8).
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from typing import Any, Union

from ._errors import close_matches
from ._yaml import Scalar, format_path

_MISSING = dataclasses.MISSING
_OCTAL = re.compile(r"^[-+]?0[0-7_]+$")
_SEXAGESIMAL = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")


def option(default: Any = _MISSING, *, help: str, choices: tuple | None = None,
           min: float | None = None, max: float | None = None, min_exclusive: bool = False,
           max_exclusive: bool = False) -> Any:
    """Declare one recipe option with its help text and the bounds a value must satisfy."""
    metadata = {"help": help, "choices": choices, "min": min, "max": max,
                "min_exclusive": min_exclusive, "max_exclusive": max_exclusive}
    if isinstance(default, (list, dict)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def option_fields(cls: type) -> dict[str, dataclasses.Field]:
    """Return the dataclass fields of an options class by name."""
    return {f.name: f for f in dataclasses.fields(cls)}


def _type_name(kind: Any) -> str:
    if kind is type(None):
        return "null"
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(kind))
    if origin is list:
        (inner,) = typing.get_args(kind) or (Any,)
        return f"a list of {_type_name(inner)}"
    if origin is dict:
        return "a mapping"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(kind))
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(kind, str(kind))


class CoercionError(ValueError):
    """A value that does not fit its field's type. The message explains how to fix it."""


def _coerce_scalar(value: Any, kind: Any, origin: Scalar | None) -> Any:
    text = origin.text if origin is not None and not origin.quoted else None
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise CoercionError(f"expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise CoercionError(
                f"expected an integer, got the boolean {text or value!r}; YAML reads "
                f"yes/no/on/off as booleans, so write a number"
            )
        if text is not None and _OCTAL.match(text) and text.strip("+-_0"):
            raise CoercionError(
                f"{text} has a leading zero, which YAML 1.1 reads as the octal number {value}; "
                f"write {int(text.replace('_', ''), 10)} for decimal, or 0o{text.lstrip('+-0')} for octal"
            )
        if text is not None and _SEXAGESIMAL.match(text):
            raise CoercionError(
                f"{text} is read by YAML 1.1 as the base-60 number {value}; write the integer you mean"
            )
        if isinstance(value, int):
            return value
        number = value
        if isinstance(value, str):
            try:
                number = float(value.replace("_", ""))
            except ValueError:
                raise CoercionError(f"expected an integer, got {value!r}") from None
        if isinstance(number, float) and math.isfinite(number) and number.is_integer():
            return int(number)
        raise CoercionError(f"expected an integer, got {value!r}")
    if kind is float:
        if isinstance(value, bool):
            raise CoercionError(
                f"expected a number, got the boolean {text or value!r}; YAML reads "
                f"yes/no/on/off as booleans, so write a number"
            )
        if isinstance(value, str):
            # YAML 1.1 needs a dot and a signed exponent, so 1e-3 and 3E4 arrive as strings.
            try:
                value = float(value.replace("_", ""))
            except ValueError:
                raise CoercionError(f"expected a number, got {value!r}") from None
        if isinstance(value, (int, float)):
            if not math.isfinite(value):
                raise CoercionError(f"expected a finite number, got {value!r}")
            return float(value)
        raise CoercionError(f"expected a number, got {value!r}")
    if kind is str:
        if isinstance(value, str):
            return value
        if text is not None and not isinstance(value, (list, dict)):
            # `no`, `on`, `1.10` or a date written for a string field: keep what was written.
            return text
        if isinstance(value, (int, float)):
            return str(value)
        raise CoercionError(f"expected a string, got {value!r}")
    if kind is Any:
        return value
    raise TypeError(f"unsupported option type {kind!r}")


def coerce(value: Any, kind: Any, path: tuple, origins: dict[tuple, Scalar]) -> Any:
    """Return ``value`` converted to ``kind``, or raise ``CoercionError``."""
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        args = typing.get_args(kind)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, path, origins)
            except CoercionError as error:
                errors.append(str(error))
        raise CoercionError(errors[0] if len(errors) == 1 else f"expected {_type_name(kind)}, got {value!r}")
    if value is None:
        raise CoercionError(f"must not be empty (null); expected {_type_name(kind)}")
    if origin is typing.Literal:
        allowed = typing.get_args(kind)
        coerced = _coerce_scalar(value, type(allowed[0]), origins.get(path))
        if coerced not in allowed:
            raise CoercionError(
                f"{coerced!r} is not allowed; use one of {', '.join(repr(a) for a in allowed)}."
                + close_matches(str(coerced), [str(a) for a in allowed])
            )
        return coerced
    if origin is list:
        (inner,) = typing.get_args(kind) or (Any,)
        if not isinstance(value, list):
            raise CoercionError(f"expected {_type_name(kind)}, got {value!r}; write it as [a, b]")
        return [coerce(item, inner, path + (i,), origins) for i, item in enumerate(value)]
    if origin is dict or kind is dict:
        if not isinstance(value, dict):
            raise CoercionError(f"expected a mapping, got {value!r}")
        return value
    return _coerce_scalar(value, kind, origins.get(path))


def check_bounds(value: Any, field: dataclasses.Field) -> str | None:
    """Return why ``value`` breaks the field's choices or bounds, or None."""
    meta = field.metadata
    if value is None:
        return None
    choices = meta.get("choices")
    if choices and value not in choices:
        return (f"{value!r} is not allowed; use one of {', '.join(repr(c) for c in choices)}."
                + close_matches(str(value), [str(c) for c in choices]))
    low, high = meta.get("min"), meta.get("max")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if low is not None and (value < low or (meta.get("min_exclusive") and value == low)):
            sign = ">" if meta.get("min_exclusive") else ">="
            return f"{value!r} is out of range; it must be {sign} {low}"
        if high is not None and (value > high or (meta.get("max_exclusive") and value == high)):
            sign = "<" if meta.get("max_exclusive") else "<="
            return f"{value!r} is out of range; it must be {sign} {high}"
    return None


def describe(cls: type) -> list[tuple[str, str, Any, str]]:
    """Return (name, type, default, help) for each option of ``cls``, for help output."""
    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.default is not _MISSING:
            default = f.default
        elif f.default_factory is not _MISSING:
            default = f.default_factory()
        else:
            default = "(required)"
        rows.append((f.name, _type_name(hints[f.name]), default, f.metadata.get("help", "")))
    return rows


__all__ = ["option", "option_fields", "coerce", "check_bounds", "describe", "CoercionError", "format_path"]
