"""What the check families share: reading a check's fields, quoting output, validators."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from promptsuite._schema import CheckSpec
from promptsuite.checks._registry import Problem, has_value
from promptsuite.errors import CheckError

_QUOTE_LIMIT = 80


def num(x: float) -> str:
    """A number as a person writes it in a YAML file (``5``, ``0.8``)."""
    return f"{x:g}"


def quote(text: str, limit: int = _QUOTE_LIMIT) -> str:
    """``repr`` of text, cut to ``limit`` characters with an ellipsis."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text)


def one_line(text: str, limit: int = 200) -> str:
    """Text with its whitespace folded to single spaces, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def is_number(value: Any) -> bool:
    """A JSON number: an int or float, never a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_text(value: Any) -> bool:
    """A value a text check can look for: a string, or a number written bare in YAML."""
    return isinstance(value, str) or is_number(value)


def text_value(spec: CheckSpec) -> str:
    """The check's ``value`` as text.

    Raises:
        CheckError: The value is not a string (or a number).
    """
    if not is_text(spec.value):
        raise CheckError(f"{spec.type} needs a string value, got {spec.value!r}")
    return str(spec.value)


def list_value(spec: CheckSpec) -> list[str]:
    """The check's ``value`` as a non-empty list of strings.

    Raises:
        CheckError: The value is not such a list.
    """
    value = spec.value
    if not isinstance(value, list) or not value or not all(is_text(v) for v in value):
        raise CheckError(f"{spec.type} needs a list of strings as value, got {value!r}")
    return [str(v) for v in value]


def threshold_or(spec: CheckSpec, default: float) -> float:
    """The check's ``threshold``, or ``default`` when it states none."""
    return default if spec.threshold is None else spec.threshold


def bounds_text(lo: float | None, hi: float | None, unit: str) -> str | None:
    """``between 1 and 5 words``, ``at least 1 words``, ``at most 5 words``; None for no
    bound."""
    if lo is not None and hi is not None:
        return f"between {num(lo)} and {num(hi)} {unit}"
    if lo is not None:
        return f"at least {num(lo)} {unit}"
    if hi is not None:
        return f"at most {num(hi)} {unit}"
    return None


def bounds(lo: float | None, hi: float | None, unit: str) -> str:
    """:func:`bounds_text` of a check that must have a bound.

    Raises:
        CheckError: Neither bound is set.
    """
    text = bounds_text(lo, hi, unit)
    if text is None:
        raise CheckError("this check needs min or max")
    return text


def within(x: float, lo: float | None, hi: float | None) -> bool:
    """``lo <= x <= hi``, each bound optional."""
    return (lo is None or x >= lo) and (hi is None or x <= hi)


# --- validators shared by several families --------------------------------------------------


def need_text(spec: CheckSpec) -> Iterator[Problem]:
    """A ``value`` that is text to look for."""
    if not has_value(spec):
        yield "value", f"{spec.type} needs a value: the text to look for"
    elif not is_text(spec.value):
        yield "value", f"{spec.type} needs a string value, got {type(spec.value).__name__}"


def need_list(spec: CheckSpec) -> Iterator[Problem]:
    """A ``value`` that is a non-empty list of strings."""
    value = spec.value
    if not isinstance(value, list) or not value or not all(is_text(v) for v in value):
        yield "value", f"{spec.type} needs a non-empty list of strings as value"


def score_threshold(spec: CheckSpec) -> Iterator[Problem]:
    """An optional ``threshold`` that is a score, 0..1."""
    if spec.threshold is not None and not 0 <= spec.threshold <= 1:
        yield "threshold", f"threshold must be between 0 and 1, got {num(spec.threshold)}"


def need_bounds(spec: CheckSpec) -> Iterator[Problem]:
    """``min``, ``max`` or both, neither negative."""
    if spec.min is None and spec.max is None:
        yield None, f"{spec.type} needs min, max or both"
    for name, bound in (("min", spec.min), ("max", spec.max)):
        if bound is not None and bound < 0:
            yield name, f"{name} must not be negative, got {num(bound)}"


def need_max(spec: CheckSpec, unit: str) -> Iterator[Problem]:
    """A non-negative ``max`` in ``unit``."""
    if spec.max is None:
        yield "max", f"{spec.type} needs max ({unit})"
    elif spec.max < 0:
        yield "max", f"max must not be negative, got {num(spec.max)}"
