"""A layer's fields: how each value is checked, its default, and how the page's editor draws it.

Every problem with a spec is a SpecError whose message names the layer; the checks here say what
is wrong with one value ('must be a positive integer, got "3" (a string)').
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

Shape = tuple[int, ...]  # (C, H, W) for images, (N,) for vectors; no batch dimension
Check = Callable[[Any], str | None]  # returns a problem, or None when the value is fine
REQUIRED = object()  # marks a field without a default


class SpecError(ValueError):
    """A spec problem; `path` is the layer's index, nested for blocks: (4, 1) or (4, branch, 1)."""

    def __init__(self, message: str, path: tuple[int, ...] = ()):
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Field:
    check: Check
    kind: str  # what the editor draws: "int" (> 0), "int0" (>= 0), "number", "prob", "bool", "choice",
    #            "layers" (a list of layers), "branches" (a list of layer lists)
    default: Any = REQUIRED
    choices: tuple[str, ...] | None = None
    same_as: str | None = None  # defaults to this other field's value (pool's stride: its size)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED and self.same_as is None


def fmt_shape(shape: Shape) -> str:
    """(16, 8, 8) -> '16x8x8'; (320,) -> '(320,)'."""
    return "x".join(map(str, shape)) if len(shape) == 3 else f"({shape[0]},)"


def show(value: Any) -> str:
    """A value as the user wrote it in JSON, cut short."""
    try:
        shown = json.dumps(value)
    except (TypeError, ValueError):
        shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def describe(value: Any) -> str:
    kind = {bool: "a boolean", str: "a string", int: "an integer", float: "a number",
            list: "a list", dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)
    return f"{show(value)} ({kind})"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive(default: Any = REQUIRED, same_as: str | None = None) -> Field:
    def check(value: Any) -> str | None:
        return None if _is_int(value) and value > 0 else f"must be a positive integer, got {describe(value)}"
    return Field(check, "int", default, same_as=same_as)


def non_negative(default: Any = REQUIRED) -> Field:
    def check(value: Any) -> str | None:
        return None if _is_int(value) and value >= 0 else f"must be an integer >= 0, got {describe(value)}"
    return Field(check, "int0", default)


def boolean(default: Any = REQUIRED) -> Field:
    def check(value: Any) -> str | None:
        return None if isinstance(value, bool) else f"must be true or false, got {describe(value)}"
    return Field(check, "bool", default)


def probability(default: Any = REQUIRED) -> Field:
    def check(value: Any) -> str | None:
        ok = _is_number(value) and 0 <= value < 1
        return None if ok else f"must be a number in [0, 1), got {describe(value)}"
    return Field(check, "prob", default)


def factor(default: Any = REQUIRED) -> Field:
    def check(value: Any) -> str | None:
        ok = _is_number(value) and 0 < abs(value) <= 1000
        return None if ok else f"must be a non-zero number of size at most 1000, got {describe(value)}"
    return Field(check, "number", default)


def choice(*options: str, default: Any = REQUIRED) -> Field:
    def check(value: Any) -> str | None:
        allowed = ", ".join(map(json.dumps, options))
        return None if value in options else f"must be one of {allowed}, got {describe(value)}"
    return Field(check, "choice", default, choices=options)


def layer_list() -> Field:
    def check(value: Any) -> str | None:
        return None if isinstance(value, list) and value else \
            f"must be a non-empty list of layers, got {describe(value)}"
    return Field(check, "layers")


def branch_list() -> Field:
    def check(value: Any) -> str | None:
        ok = isinstance(value, list) and value and all(isinstance(b, list) for b in value)
        return None if ok else f"must be a non-empty list of layer lists, got {describe(value)}"
    return Field(check, "branches")
