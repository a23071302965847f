"""Generation checks: what the call cost in time, tokens and money, not what it said."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from promptsuite._schema import CheckSpec
from promptsuite.checks._common import bounds, is_number, need_bounds, need_max, num, within
from promptsuite.checks._registry import EPSILON, CheckContext, Finding, Problem, check
from promptsuite.errors import CheckError
from promptsuite.models import Generation
from promptsuite.prices import cost_usd

_TOKEN_KINDS = ("completion", "prompt", "total")
_PRICE_KEYS = frozenset({"prompt", "completion"})


def _need_milliseconds(spec: CheckSpec) -> Iterator[Problem]:
    yield from need_max(spec, "milliseconds")


@check("latency", "max", validate=_need_milliseconds)
def latency(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The call took at most ``max`` milliseconds (a cached generation keeps the latency
    recorded when it was made)."""
    if spec.max is None:
        raise CheckError("latency needs max (milliseconds)")
    ms = ctx.generation.latency_s * 1000
    cached = " (recorded when cached)" if ctx.generation.cached else ""
    return Finding.of(
        ms <= spec.max, f"take at most {num(spec.max)} ms", f"took {ms:.0f} ms{cached}"
    )


def _require_token_counts(generation: Generation, check: str) -> None:
    if generation.prompt_tokens == 0 and generation.completion_tokens == 0:
        raise CheckError(f"{check} needs token counts, and the backend reported none")


def _need_token_kind(spec: CheckSpec) -> Iterator[Problem]:
    if spec.value is not None and spec.value not in _TOKEN_KINDS:
        yield "value", f"tokens value must be one of {', '.join(_TOKEN_KINDS)} (default completion)"
    yield from need_bounds(spec)


@check("tokens", "value", "min", "max", validate=_need_token_kind)
def tokens(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """Completion tokens (``value: prompt`` or ``value: total`` for the others) are within
    ``min``/``max``."""
    kind = "completion" if spec.value is None else spec.value
    if kind not in _TOKEN_KINDS:
        raise CheckError(f"tokens value must be one of {_TOKEN_KINDS}, got {kind!r}")
    gen = ctx.generation
    _require_token_counts(gen, "tokens")
    counts = {
        "completion": gen.completion_tokens,
        "prompt": gen.prompt_tokens,
        "total": gen.prompt_tokens + gen.completion_tokens,
    }
    n = counts[kind]
    return Finding.of(
        within(n, spec.min, spec.max),
        f"use {bounds(spec.min, spec.max, f'{kind} tokens')}",
        f"used {n}",
    )


def _prices(value: Any) -> tuple[float, float]:
    if (
        not isinstance(value, dict)
        or not value
        or not set(value) <= _PRICE_KEYS
        or not all(is_number(v) and v >= 0 for v in value.values())
    ):
        raise CheckError(
            f"cost value must be {{prompt: USD, completion: USD}} per 1M tokens, got {value!r}"
        )
    return float(value.get("prompt", 0.0)), float(value.get("completion", 0.0))


def _need_prices(spec: CheckSpec) -> Iterator[Problem]:
    try:
        _prices(spec.value)
    except CheckError:
        yield "value", "cost needs value: {prompt: USD, completion: USD} per million tokens"
    yield from need_max(spec, "USD")


@check("cost", "value", "max", validate=_need_prices)
def cost(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The call's cost at ``value: {prompt: USD, completion: USD}`` per million tokens is at
    most ``max`` USD."""
    price = _prices(spec.value)
    if spec.max is None:
        raise CheckError("cost needs max (USD)")
    gen = ctx.generation
    _require_token_counts(gen, "cost")
    spent = cost_usd(gen.prompt_tokens, gen.completion_tokens, price)
    return Finding.of(
        spent <= spec.max * (1 + EPSILON),
        f"cost at most ${spec.max:.6g}",
        f"cost ${spent:.6g} ({gen.prompt_tokens} prompt + {gen.completion_tokens} completion"
        " tokens)",
    )
