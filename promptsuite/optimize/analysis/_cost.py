"""Tokens and money per call: the user's prompt, the best candidate, a fine-tuned model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from promptsuite.optimize._records import Candidate, OptimizationRun, mean
from promptsuite.optimize.analysis._advice import Verdict
from promptsuite.prices import Price, cost_usd, price_for

#: Model label -> USD per 1M prompt tokens, USD per 1M completion tokens.
Prices = Mapping[str, Price]

DEFAULT_CALL_VOLUME = 100_000
#: A rough characters-per-token ratio for English text, used only when the run did not
#: record completion tokens; figures made with it are marked as estimates.
CHARS_PER_TOKEN = 4.0


@dataclass(frozen=True)
class CostLine:
    """Tokens and money per call for one way of prompting.

    Attributes:
        label: ``baseline``, ``best`` or ``fine-tuned (projected)``.
        candidate_index: The candidate, if any.
        demos: Few-shot examples in the prompt.
        prompt_tokens_per_call: Mean prompt tokens of one call.
        completion_tokens_per_call: Mean completion tokens of one call.
        completion_estimated: True when completion tokens were estimated from output length.
        usd_per_call: Cost of one call; None without a price.
        usd_at_volume: Cost of ``call_volume`` calls; None without a price.
    """

    label: str
    candidate_index: int | None
    demos: int
    prompt_tokens_per_call: float
    completion_tokens_per_call: float
    completion_estimated: bool
    usd_per_call: float | None
    usd_at_volume: float | None


@dataclass(frozen=True)
class CostSummary:
    """The cost table and what it says.

    Attributes:
        model: The task model.
        call_volume: The call volume the ``usd_at_volume`` figures are for.
        prompt_price: USD per 1M prompt tokens (None when unknown).
        completion_price: USD per 1M completion tokens (None when unknown).
        lines: Baseline, best, and (when fine-tuning is advised) the fine-tuned projection.
        prompt_growth: Best prompt tokens / baseline prompt tokens (None when unknown).
        note: One line of interpretation.
    """

    model: str
    call_volume: int
    prompt_price: float | None
    completion_price: float | None
    lines: tuple[CostLine, ...]
    prompt_growth: float | None
    note: str


def _price(model: str, prices: Prices) -> Price | None:
    provider, _, name = model.partition(":")
    return price_for(model, {"provider": provider, "model": name or model}, prices)


def _completion_tokens(candidate: Candidate) -> float:
    outputs = [s.output for s in candidate.cases]
    return mean([len(o) / CHARS_PER_TOKEN for o in outputs]) if outputs else 0.0


def _line(
    label: str,
    index: int | None,
    demos: int,
    prompt_tokens: float,
    completion_tokens: float,
    price: Price | None,
    volume: int,
) -> CostLine:
    per_call = cost_usd(prompt_tokens, completion_tokens, price) if price is not None else None
    return CostLine(
        label=label,
        candidate_index=index,
        demos=demos,
        prompt_tokens_per_call=prompt_tokens,
        completion_tokens_per_call=completion_tokens,
        completion_estimated=True,
        usd_per_call=per_call,
        usd_at_volume=per_call * volume if per_call is not None else None,
    )


def cost_summary(
    run: OptimizationRun,
    baseline: Candidate,
    best: Candidate,
    prices: Prices,
    volume: int,
    plateaued: bool,
) -> CostSummary:
    """The cost table of the user's prompt and the best candidate."""
    price = _price(run.model, prices)
    lines = (
        _line(
            "baseline",
            baseline.index,
            len(baseline.demos),
            baseline.prompt_tokens_per_call,
            _completion_tokens(baseline),
            price,
            volume,
        ),
        _line(
            "best",
            best.index,
            len(best.demos),
            best.prompt_tokens_per_call,
            _completion_tokens(best),
            price,
            volume,
        ),
    )
    growth = None
    if baseline.prompt_tokens_per_call > 0:
        growth = best.prompt_tokens_per_call / baseline.prompt_tokens_per_call
    if growth is None:
        note = "prompt tokens were not recorded for the baseline; the growth is unknown"
    else:
        note = (
            f"the best prompt is {growth:.1f}x the baseline's prompt tokens "
            f"({best.prompt_tokens_per_call:.0f} vs {baseline.prompt_tokens_per_call:.0f}"
            f" per call, {len(best.demos)} few-shot demos)"
        )
    if price is None:
        note += f"; no price given for {run.model!r}, so no money figures"
    elif price == (0.0, 0.0):
        note += f"; {run.model!r} runs locally at $0, tokens still cost time"
    else:
        extra = (lines[1].usd_at_volume or 0.0) - (lines[0].usd_at_volume or 0.0)
        note += f"; {extra:+,.2f} USD per {volume:,} calls against the baseline"
    return CostSummary(
        model=run.model,
        call_volume=volume,
        prompt_price=price[0] if price else None,
        completion_price=price[1] if price else None,
        lines=lines,
        prompt_growth=growth,
        note=note,
    )


def with_finetune_line(
    cost: CostSummary, verdict: Verdict, baseline: Candidate, prices: Prices, model: str
) -> CostSummary:
    """The cost table plus a fine-tuned model's projected line, when fine-tuning is advised."""
    if verdict.code != "plateau-finetune":
        return cost
    price = prices.get(f"ft:{model}") or _price(model, prices)
    line = _line(
        "fine-tuned (projected)",
        None,
        0,
        baseline.prompt_tokens_per_call,
        cost.lines[0].completion_tokens_per_call,
        price,
        cost.call_volume,
    )
    return CostSummary(
        model=cost.model,
        call_volume=cost.call_volume,
        prompt_price=cost.prompt_price,
        completion_price=cost.completion_price,
        lines=(*cost.lines, line),
        prompt_growth=cost.prompt_growth,
        note=cost.note
        + "; a fine-tuned model is prompted with your own template, without the demos"
        + ("" if f"ft:{model}" in prices else " (priced as the base model: give ft:<model>)"),
    )
