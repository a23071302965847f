"""Generation checks: what the call cost in time, tokens and money, not what it said."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from promptsuite._schema import CheckSpec
from promptsuite.checks._common import bounds, is_number, need_bounds, num, score_threshold, within
from promptsuite.checks._registry import EPSILON, CheckContext, Finding, Problem, check
from promptsuite.errors import CheckError
from promptsuite.models import Generation
from promptsuite.prices import cost_usd

_TOKEN_KINDS = ("completion", "prompt", "total")
_PRICE_KEYS = frozenset({"prompt", "completion"})


def upper_bound(spec: CheckSpec) -> float | None:
    """A limit given as ``max`` or, promptfoo's spelling, ``threshold``."""
    return spec.max if spec.max is not None else spec.threshold


def _need_limit(spec: CheckSpec, unit: str) -> Iterator[Problem]:
    if spec.max is not None and spec.threshold is not None:
        yield "threshold", f"give {spec.type}'s limit as max or as threshold, not both"
    limit = upper_bound(spec)
    if limit is None:
        yield "max", f"{spec.type} needs max ({unit}; promptfoo's threshold also works)"
    elif limit < 0:
        yield "max", f"the limit must not be negative, got {num(limit)}"


def _need_milliseconds(spec: CheckSpec) -> Iterator[Problem]:
    yield from _need_limit(spec, "milliseconds")


@check("latency", "max", "threshold", validate=_need_milliseconds)
def latency(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The call took at most ``max`` (or ``threshold``) milliseconds (a cached generation
    keeps the latency recorded when it was made)."""
    limit = upper_bound(spec)
    if limit is None:
        raise CheckError("latency needs max (milliseconds)")
    ms = ctx.generation.latency_s * 1000
    cached = " (recorded when cached)" if ctx.generation.cached else ""
    return Finding.of(ms <= limit, f"take at most {num(limit)} ms", f"took {ms:.0f} ms{cached}")


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
    yield from _need_limit(spec, "USD")


@check("cost", "value", "max", "threshold", validate=_need_prices)
def cost(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The call's cost at ``value: {prompt: USD, completion: USD}`` per million tokens is at
    most ``max`` (or ``threshold``) USD."""
    price = _prices(spec.value)
    limit = upper_bound(spec)
    if limit is None:
        raise CheckError("cost needs max (USD)")
    gen = ctx.generation
    _require_token_counts(gen, "cost")
    spent = cost_usd(gen.prompt_tokens, gen.completion_tokens, price)
    return Finding.of(
        spent <= limit * (1 + EPSILON),
        f"cost at most ${limit:.6g}",
        f"cost ${spent:.6g} ({gen.prompt_tokens} prompt + {gen.completion_tokens} completion"
        " tokens)",
    )


def _need_reason(spec: CheckSpec) -> Iterator[Problem]:
    if not isinstance(spec.value, str) or not spec.value.strip():
        yield "value", "finish-reason needs a value: stop, length, content_filter or tool_calls"


@check("finish-reason", "value", validate=_need_reason)
def finish_reason(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The model stopped for the reason ``value`` names (``stop``, ``length``,
    ``content_filter``, ``tool_calls``), compared case-insensitively; a backend that reports
    no reason fails it."""
    if not isinstance(spec.value, str):
        raise CheckError(f"finish-reason needs a string value, got {spec.value!r}")
    wanted = spec.value.strip()
    got = ctx.generation.finish_reason
    expected = f"stop because of {wanted!r}"
    if not got:
        return Finding.of(False, expected, "the backend reported no finish reason")
    return Finding.of(got.lower() == wanted.lower(), expected, f"stopped because of {got!r}")


def _perplexity(ctx: CheckContext, check: str) -> float:
    logprobs = ctx.generation.logprobs
    if not logprobs:
        raise CheckError(
            f"{check} needs the log-probability of each token, and the backend returned none"
            " (the local model and OpenAI-compatible servers that support `logprobs` do)"
        )
    return math.exp(-sum(logprobs) / len(logprobs))


def _need_max_perplexity(spec: CheckSpec) -> Iterator[Problem]:
    if spec.threshold is None:
        yield "threshold", "perplexity needs threshold: the highest perplexity that passes"
    elif spec.threshold < 1:
        yield (
            "threshold",
            f"perplexity is at least 1; a threshold of {num(spec.threshold)} cannot pass",
        )


@check("perplexity", "threshold", validate=_need_max_perplexity)
def perplexity(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The model's perplexity on its own output, ``exp(-mean log-probability)``, is at most
    ``threshold`` (score 1 or 0)."""
    if spec.threshold is None:
        raise CheckError("perplexity needs threshold")
    value = _perplexity(ctx, "perplexity")
    return Finding.of(
        value <= spec.threshold,
        f"have perplexity at most {num(spec.threshold)}",
        f"perplexity {value:.3f} over {len(ctx.generation.logprobs or ())} tokens",
    )


@check("perplexity-score", "threshold", validate=score_threshold)
def perplexity_score(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The normalized perplexity ``1 / (1 + perplexity)`` is the score; with ``threshold``
    it must reach it (without, it always passes)."""
    value = 1 / (1 + _perplexity(ctx, "perplexity-score"))
    needed = spec.threshold
    passed = needed is None or value >= needed - EPSILON
    expected = "have a perplexity score" + (f" of at least {num(needed)}" if needed else "")
    return Finding(passed, value, expected, f"score {value:.3f}")
