"""Text checks: what the output says, how long it is, how close it is to a reference."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from functools import lru_cache

from promptsuite._schema import CheckSpec
from promptsuite.checks._common import (
    bounds,
    list_value,
    need_bounds,
    need_list,
    need_text,
    num,
    quote,
    score_threshold,
    text_value,
    within,
)
from promptsuite.checks._json import json_equal, parse_json_output
from promptsuite.checks._registry import EPSILON, CheckContext, Finding, Problem, check, has_value
from promptsuite.errors import CheckError


def _need_equals_value(spec: CheckSpec) -> Iterator[Problem]:
    if not has_value(spec):
        yield "value", "equals needs a value: the expected text (or JSON value)"


@check("equals", "value", validate=_need_equals_value)
def equals(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The output equals ``value``, surrounding whitespace ignored; a non-string ``value`` is
    compared with the output parsed as JSON."""
    if isinstance(spec.value, str):
        expected = spec.value.strip()
        got = ctx.output.strip()
        return Finding.of(got == expected, f"equal {quote(expected)}", f"got {quote(got)}")
    wanted = json.dumps(spec.value)
    found, data = parse_json_output(ctx.output)
    if not found:
        return Finding.of(False, f"equal JSON {quote(wanted)}", f"got non-JSON {quote(ctx.output)}")
    return Finding.of(
        json_equal(data, spec.value),
        f"equal JSON {quote(wanted)}",
        f"got {quote(json.dumps(data))}",
    )


def _contains(spec: CheckSpec, ctx: CheckContext, *, fold: bool) -> Finding:
    needle = text_value(spec)
    haystack = ctx.output.casefold() if fold else ctx.output
    at = haystack.find(needle.casefold() if fold else needle)
    verb = "contain" + (" (any case)" if fold else "")
    seen = f"found at index {at}" if at >= 0 else f"got {quote(ctx.output)}"
    return Finding.of(at >= 0, f"{verb} {quote(needle)}", seen)


@check("contains", "value", validate=need_text)
def contains(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The output contains ``value``."""
    return _contains(spec, ctx, fold=False)


@check("icontains", "value", validate=need_text)
def icontains(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The output contains ``value``, ignoring case."""
    return _contains(spec, ctx, fold=True)


def _missing(spec: CheckSpec, ctx: CheckContext, fold: bool) -> tuple[list[str], list[str]]:
    """``(needles, missing)``: the value's strings, and those not in the output."""
    needles = list_value(spec)
    haystack = ctx.output.casefold() if fold else ctx.output
    missing = [n for n in needles if (n.casefold() if fold else n) not in haystack]
    return needles, missing


def _contains_any(spec: CheckSpec, ctx: CheckContext, *, fold: bool) -> Finding:
    needles, missing = _missing(spec, ctx, fold)
    found = [n for n in needles if n not in missing]
    expected = f"contain any of {quote(json.dumps(needles))}" + (" (any case)" * fold)
    seen = f"found {quote(found[0])}" if found else f"none found in {quote(ctx.output)}"
    return Finding.of(bool(found), expected, seen)


@check("contains-any", "value", validate=need_list)
def contains_any(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The output contains at least one string of the ``value`` list."""
    return _contains_any(spec, ctx, fold=False)


@check("icontains-any", "value", validate=need_list)
def icontains_any(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The output contains at least one string of the ``value`` list, ignoring case."""
    return _contains_any(spec, ctx, fold=True)


def _need_list_and_threshold(spec: CheckSpec) -> Iterator[Problem]:
    yield from need_list(spec)
    yield from score_threshold(spec)


def _contains_all(spec: CheckSpec, ctx: CheckContext, *, fold: bool) -> Finding:
    needles, missing = _missing(spec, ctx, fold)
    fraction = 1.0 - len(missing) / len(needles)
    needed = 1.0 if spec.threshold is None else spec.threshold
    expected = f"contain all of {quote(json.dumps(needles))}" + (" (any case)" * fold)
    if spec.threshold is not None:
        expected += f" (at least {needed:.0%})"
    seen = f"found {len(needles) - len(missing)}/{len(needles)}"
    if missing:
        seen += f", missing {quote(json.dumps(missing))}"
    return Finding(fraction >= needed - EPSILON, fraction, expected, seen)


@check("contains-all", "value", "threshold", validate=_need_list_and_threshold)
def contains_all(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The output contains every string of the ``value`` list; the score is the fraction
    found (``threshold`` lowers the fraction needed to pass)."""
    return _contains_all(spec, ctx, fold=False)


@check("icontains-all", "value", "threshold", validate=_need_list_and_threshold)
def icontains_all(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The output contains every string of the ``value`` list, ignoring case; scored like
    ``contains-all``."""
    return _contains_all(spec, ctx, fold=True)


@check("starts-with", "value", validate=need_text)
def starts_with(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The output, less leading whitespace, starts with ``value``."""
    prefix = text_value(spec)
    got = ctx.output.lstrip()
    return Finding.of(got.startswith(prefix), f"start with {quote(prefix)}", f"got {quote(got)}")


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _need_regex(spec: CheckSpec) -> Iterator[Problem]:
    problems = list(need_text(spec))
    yield from problems
    if not problems:
        try:
            _compile(str(spec.value))
        except re.error as err:
            yield "value", f"invalid regular expression {spec.value!r}: {err}"


@check("regex", "value", validate=_need_regex)
def regex(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """``re.search(value, output)`` finds a match (Python's ``re``; flags inline, ``(?i)``)."""
    pattern = text_value(spec)
    try:
        match = _compile(pattern).search(ctx.output)
    except re.error as err:
        raise CheckError(f"regex {pattern!r} is invalid: {err}") from err
    expected = f"match /{pattern}/"
    if match is None:
        return Finding.of(False, expected, f"no match in {quote(ctx.output)}")
    return Finding.of(True, expected, f"matched {quote(match.group(0))} at index {match.start()}")


@check("length", "min", "max", validate=need_bounds)
def length(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The number of characters is within ``min``/``max``."""
    n = len(ctx.output)
    return Finding.of(
        within(n, spec.min, spec.max),
        f"have {bounds(spec.min, spec.max, 'characters')}",
        f"got {n} characters",
    )


@check("word-count", "min", "max", validate=need_bounds)
def word_count(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The number of whitespace-separated words is within ``min``/``max``."""
    n = len(ctx.output.split())
    return Finding.of(
        within(n, spec.min, spec.max),
        f"have {bounds(spec.min, spec.max, 'words')}",
        f"got {n} words",
    )


def edit_distance(a: str, b: str) -> int:
    """The Levenshtein distance of two strings."""
    # Near-matches are the common case: drop the shared prefix and suffix before the
    # quadratic part.
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end = 0
    while end < len(a) - start and end < len(b) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    a, b = a[start : len(a) - end], b[start : len(b) - end]
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def _need_reference(spec: CheckSpec) -> Iterator[Problem]:
    yield from need_text(spec)
    if spec.threshold is not None and spec.threshold < 0:
        yield "threshold", f"threshold is an edit distance, >= 0; got {num(spec.threshold)}"


@check("levenshtein", "value", "threshold", validate=_need_reference)
def levenshtein(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The edit distance to ``value`` is at most ``threshold`` (default 5); the score is
    ``1 - distance / longer length``."""
    reference = text_value(spec).strip()
    got = ctx.output.strip()
    limit = 5.0 if spec.threshold is None else spec.threshold
    distance = edit_distance(got, reference)
    longest = max(len(got), len(reference))
    value = 1.0 - distance / longest if longest else 1.0
    return Finding(
        distance <= limit,
        value,
        f"be within edit distance {num(limit)} of {quote(reference)}",
        f"distance {distance} from {quote(got)}",
    )


def _need_reference_and_threshold(spec: CheckSpec) -> Iterator[Problem]:
    yield from need_text(spec)
    yield from score_threshold(spec)


@check("similar", "value", "threshold", validate=_need_reference_and_threshold)
def similar(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The ``difflib`` similarity ratio to ``value`` is at least ``threshold`` (default
    0.8); the score is the ratio."""
    reference = text_value(spec).strip()
    got = ctx.output.strip()
    needed = 0.8 if spec.threshold is None else spec.threshold
    ratio = difflib.SequenceMatcher(None, got, reference, autojunk=False).ratio()
    return Finding(
        ratio >= needed - EPSILON,
        ratio,
        f"be similar to {quote(reference)} (ratio >= {num(needed)})",
        f"ratio {ratio:.2f} for {quote(got)}",
    )
