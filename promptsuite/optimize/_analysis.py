"""Reading an optimization run: the trajectory, where prompting fails, the cost, the advice.

:func:`analyze` takes the :class:`~promptsuite.optimize._records.OptimizationRun` the search
recorded and returns an :class:`Analysis`: the best-so-far trajectory and its plateau
(``_advice.py``), the final figures on the held-out test split, every case's and tag's story
across the candidates, tokens and money per call, and the verdict. The definitions are in
``docs/optimize.md``. Pure Python; no model is called.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from promptsuite.gate._stats import mcnemar_exact, paired_bootstrap, wilson_interval
from promptsuite.optimize._advice import (
    DEFAULT_MARGIN,
    PLATEAU_CONFIDENCE,
    RECOMMENDED_MIN_EXAMPLES,
    Plateau,
    Verdict,
    best_so_far,
    decide,
    default_window,
    detect_plateau,
)
from promptsuite.optimize._records import Candidate, CaseScore, OptimizationRun

if TYPE_CHECKING:
    from promptsuite.suite import Suite

CaseStatus = Literal["resistant", "unreliable", "unstable", "solved-elsewhere", "solved"]
"""How a case fared across the candidates; see :class:`CaseInsight`."""

#: USD per 1M prompt tokens, USD per 1M completion tokens.
Prices = Mapping[str, tuple[float, float]]

DEFAULT_CALL_VOLUME = 100_000
#: A rough characters-per-token ratio for English text, used only when the run did not
#: record completion tokens; figures made with it are marked as estimates.
CHARS_PER_TOKEN = 4.0


@dataclass(frozen=True)
class TrajectoryPoint:
    """One candidate on the score trajectory.

    Attributes:
        index: Candidate index.
        source: What proposed it.
        val_score: Its validation score.
        best_score: Best validation score so far.
        best_index: The candidate holding ``best_score``.
        demos: Few-shot examples it carries.
        prompt_tokens_per_call: Mean prompt tokens of one call.
        lm_calls: Task-model calls of the run so far.
        elapsed_s: Seconds into the run.
    """

    index: int
    source: str
    val_score: float
    best_score: float
    best_index: int
    demos: int
    prompt_tokens_per_call: float
    lm_calls: int
    elapsed_s: float


@dataclass(frozen=True)
class CaseInsight:
    """One case across every candidate that was scored on it.

    ``status`` is the first that applies:

    * ``resistant``: no candidate passed it on any repeat;
    * ``unreliable``: the best candidate passes it on some repeats, not all;
    * ``unstable``: candidates disagree and keep changing their minds: the outcome flips at
      least twice in evaluation order, and the minority side (passing or failing candidates)
      holds at least 2 candidates and at least 20% of them;
    * ``solved-elsewhere``: the best candidate fails it, but another candidate passed it;
    * ``solved``: the best candidate passes it on every repeat.

    Attributes:
        case_id: The case.
        split: ``train``, ``val`` or ``test``.
        tags: Its tags.
        status: See above.
        candidates_seen: Candidates scored on it.
        candidates_passed: Of those, the ones that passed it on every repeat.
        flips: Pass/fail changes between consecutive candidates in evaluation order.
        baseline_passed: Whether the user's prompt passed it (None if not scored on it).
        best_passed: Whether the best candidate passed it (None if not scored on it).
        best_score: The best candidate's score on it (None if not scored on it).
        best_pass_rate: Fraction of the best candidate's repeats that passed.
        best_pass_interval: Wilson 95% interval of that rate.
        best_repeats: The best candidate's repeats of it.
        reference: ``verified``, ``derived`` or None (needs a reference answer).
    """

    case_id: str
    split: str
    tags: tuple[str, ...]
    status: CaseStatus
    candidates_seen: int
    candidates_passed: int
    flips: int
    baseline_passed: bool | None
    best_passed: bool | None
    best_score: float | None
    best_pass_rate: float | None
    best_pass_interval: tuple[float, float] | None
    best_repeats: int
    reference: str | None


@dataclass(frozen=True)
class TagInsight:
    """One tag: how its validation cases fared.

    Attributes:
        tag: The tag.
        n_cases: Validation cases carrying it.
        baseline_score: The user's prompt's mean score on them.
        best_score: The best candidate's mean score on them.
        ceiling: The highest mean score any single candidate reached on them: where this
            tag plateaus.
        ceiling_index: The candidate reaching the ceiling.
        resistant: Of its cases, those no candidate solved.
        unstable: Of its cases, the unstable or unreliable ones.
    """

    tag: str
    n_cases: int
    baseline_score: float
    best_score: float
    ceiling: float
    ceiling_index: int
    resistant: int
    unstable: int


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


@dataclass(frozen=True)
class FinalFigures:
    """The best candidate against the user's prompt, on held-out test cases when available.

    Attributes:
        source: ``test`` (the verification run) or ``val`` (optimistic: it chose the best).
        n_cases: Cases compared.
        baseline_score: The user's prompt's mean score.
        best_score: The best candidate's mean score.
        best_consistent_score: The best candidate's mean score with each case counting its
            worst repeat; None when no case was repeated.
        baseline_pass_rate: Share of cases the user's prompt passed.
        best_pass_rate: Share of cases the best candidate passed.
        best_pass_interval: Wilson 95% interval of ``best_pass_rate`` over cases.
        improvement: Mean per-case score change, best - baseline.
        ci_low: Lower bound of its paired bootstrap 95% CI.
        ci_high: Upper bound of its paired bootstrap 95% CI.
        fail_to_pass: Cases the best fixed.
        pass_to_fail: Cases the best broke.
        p_value_mcnemar: Exact McNemar p-value of those flips.
    """

    source: str
    n_cases: int
    baseline_score: float
    best_score: float
    best_consistent_score: float | None
    baseline_pass_rate: float
    best_pass_rate: float
    best_pass_interval: tuple[float, float]
    improvement: float
    ci_low: float
    ci_high: float
    fail_to_pass: int
    pass_to_fail: int
    p_value_mcnemar: float


@dataclass(frozen=True)
class Analysis:
    """Everything the advice rests on.

    Attributes:
        suite: Suite name.
        model: Task model.
        optimizer: Optimizer name.
        target: Target score.
        baseline_index: The user's prompt (candidate 0).
        best_index: The candidate with the highest validation score (the first on ties).
        trajectory: Every candidate in evaluation order.
        plateau: The plateau decision.
        final: Best against baseline (test split when the run verified it).
        verdict: The advice.
        cases: Every case's story, worst first.
        tags: Every tag, lowest ceiling first.
        cost: Tokens and money per call.
        labelled: Train/validation cases with a reference answer.
        needs_reference: Train/validation cases without one -> why.
        min_examples: Labelled cases needed before fine-tuning is advised.
        seed: Bootstrap seed.
    """

    suite: str
    model: str
    optimizer: str
    target: float
    baseline_index: int
    best_index: int
    trajectory: tuple[TrajectoryPoint, ...]
    plateau: Plateau
    final: FinalFigures
    verdict: Verdict
    cases: tuple[CaseInsight, ...]
    tags: tuple[TagInsight, ...]
    cost: CostSummary
    labelled: int
    needs_reference: dict[str, str]
    min_examples: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """The analysis as JSON-ready data."""
        return asdict(self)


def analyze(
    run: OptimizationRun,
    *,
    suite: Suite | None = None,
    margin: float = DEFAULT_MARGIN,
    window: int | None = None,
    seed: int = 0,
    call_volume: int = DEFAULT_CALL_VOLUME,
    prices: Prices | None = None,
    require_consistency: bool = True,
    min_examples: int = RECOMMENDED_MIN_EXAMPLES,
    confidence: float = PLATEAU_CONFIDENCE,
    resamples: int = 10_000,
) -> Analysis:
    """Analyse an optimization run and give the advice.

    Args:
        run: The recorded run; candidate 0 is the user's prompt.
        suite: The suite, to derive reference answers from expectations; without it only
            the run's verified outputs count as labels.
        margin: Smallest gain over the window that counts as still improving.
        window: Candidates the plateau looks back over; default a quarter of the budget,
            at least 3.
        seed: Bootstrap seed.
        call_volume: Calls the cost table prices.
        prices: Model label -> (USD per 1M prompt tokens, USD per 1M completion tokens),
            over :data:`promptsuite.results.DEFAULT_PRICES`; ``ft:<model>`` prices the
            fine-tuned projection. Local and scripted models cost $0.
        require_consistency: Count a case by its worst repeat when judging the target.
        min_examples: Labelled cases needed before fine-tuning is advised.
        confidence: Two-sided confidence of the plateau's bootstrap interval (default 80%:
            a one-sided 90% lower bound; see the calibration in ``docs/optimize.md``).
        resamples: Bootstrap resamples.

    Returns:
        The analysis.

    Raises:
        ValueError: If the run has no candidates.
    """
    from promptsuite.optimize._export import reference_answers

    if not run.candidates:
        raise ValueError("the run recorded no candidates; nothing to analyse")
    candidates = run.candidates
    scores = [c.val_score for c in candidates]
    best_positions = best_so_far(scores)
    best = candidates[best_positions[-1]]
    baseline = next((c for c in candidates if c.index == 0), candidates[0])
    trajectory = tuple(
        TrajectoryPoint(
            index=c.index,
            source=c.source,
            val_score=c.val_score,
            best_score=scores[b],
            best_index=candidates[b].index,
            demos=len(c.demos),
            prompt_tokens_per_call=c.prompt_tokens_per_call,
            lm_calls=c.lm_calls,
            elapsed_s=c.elapsed_s,
        )
        for c, b in zip(candidates, best_positions, strict=True)
    )
    size = window if window is not None else default_window(run.budget, len(candidates))
    plateau = detect_plateau(
        [c.index for c in candidates],
        scores,
        [{s.case_id: s.score for s in c.cases} for c in candidates],
        window=size,
        margin=margin,
        confidence=confidence,
        seed=seed,
        resamples=resamples,
    )
    final = _final_figures(run, baseline, best, seed, resamples)
    references, missing = reference_answers(run, suite)
    cases = _case_insights(run, baseline.index, best.index, references)
    tags = _tag_insights(candidates, baseline.index, best.index, cases)
    trainable = {c.case_id for c in cases if c.split != "test"} | {
        case_id for case_id, split in run.split.items() if split != "test"
    }
    labelled = sum(1 for case_id in trainable if case_id in references)
    needs = {case_id: why for case_id, why in missing.items() if case_id in trainable}
    resistant = sum(1 for c in cases if c.status == "resistant")
    cost = _cost(run, baseline, best, prices or {}, call_volume, plateau.plateaued)
    consistent = final.best_consistent_score if require_consistency else None
    verdict = decide(
        plateau=plateau,
        final_score=final.best_score,
        final_source=final.source,
        consistent_score=consistent,
        target=run.target,
        labelled=labelled,
        needs_reference=len(needs),
        resistant=resistant,
        budget=run.budget,
        min_examples=min_examples,
        extra_reasons=_evidence(final, cases, tags, cost),
        stopped_early=run.metadata.get("optimizer_error"),
    )
    return Analysis(
        suite=run.suite,
        model=run.model,
        optimizer=run.optimizer,
        target=run.target,
        baseline_index=baseline.index,
        best_index=best.index,
        trajectory=trajectory,
        plateau=plateau,
        final=final,
        verdict=verdict,
        cases=cases,
        tags=tags,
        cost=_with_finetune_line(cost, verdict, baseline, prices or {}, run.model),
        labelled=labelled,
        needs_reference=needs,
        min_examples=min_examples,
        seed=seed,
    )


# ---------------------------------------------------------------- final figures


def _final_figures(
    run: OptimizationRun, baseline: Candidate, best: Candidate, seed: int, resamples: int
) -> FinalFigures:
    tested = baseline.index in run.test_results and best.index in run.test_results
    if tested:
        source, before, after = (
            "test",
            run.test_results[baseline.index],
            run.test_results[best.index],
        )
    else:
        source, before, after = "val", baseline.cases, best.cases
    was = {s.case_id: s for s in before}
    now = {s.case_id: s for s in after}
    shared = sorted(set(was) & set(now))
    pairs = [(was[c], now[c]) for c in shared]
    if not pairs:
        score = best.val_score
        return FinalFigures(
            source,
            0,
            baseline.val_score,
            score,
            None,
            0.0,
            0.0,
            (0.0, 1.0),
            score - baseline.val_score,
            0.0,
            0.0,
            0,
            0,
            1.0,
        )
    boot = paired_bootstrap(
        [a.score for a, _ in pairs], [b.score for _, b in pairs], seed=seed, resamples=resamples
    )
    fixed = sum(1 for a, b in pairs if not a.passed and b.passed)
    broke = sum(1 for a, b in pairs if a.passed and not b.passed)
    passed = sum(1 for _, b in pairs if b.passed)
    repeated = any(len(b.scores) > 1 for _, b in pairs)
    n = len(pairs)
    return FinalFigures(
        source=source,
        n_cases=n,
        baseline_score=_mean([a.score for a, _ in pairs]),
        best_score=_mean([b.score for _, b in pairs]),
        best_consistent_score=_mean([min(b.scores, default=0.0) for _, b in pairs])
        if repeated
        else None,
        baseline_pass_rate=sum(1 for a, _ in pairs if a.passed) / n,
        best_pass_rate=passed / n,
        best_pass_interval=wilson_interval(passed, n),
        improvement=boot.mean_diff,
        ci_low=boot.ci_low,
        ci_high=boot.ci_high,
        fail_to_pass=fixed,
        pass_to_fail=broke,
        p_value_mcnemar=mcnemar_exact(broke, fixed),
    )


# ---------------------------------------------------------------- where prompting fails


def _case_insights(
    run: OptimizationRun, baseline: int, best: int, references: Mapping[str, Any]
) -> tuple[CaseInsight, ...]:
    history: dict[str, list[tuple[int, CaseScore]]] = {}
    for candidate in run.candidates:
        for score in candidate.cases:
            history.setdefault(score.case_id, []).append((candidate.index, score))
    for index in sorted(run.test_results):
        for score in run.test_results[index]:
            history.setdefault(score.case_id, []).append((index, score))
    insights = []
    for case_id, seen in history.items():
        by_index = dict(seen)
        outcomes = [s.passed for _, s in seen]
        passed = sum(outcomes)
        failed = len(outcomes) - passed
        flips = sum(1 for a, b in itertools.pairwise(outcomes) if a != b)
        top = by_index.get(best)
        low = by_index.get(baseline)
        rate = (sum(top.passes) / len(top.passes)) if top and top.passes else None
        status: CaseStatus
        if not any(any(s.passes) for _, s in seen):
            status = "resistant"
        elif top is not None and 0 < sum(top.passes) < len(top.passes):
            status = "unreliable"
        elif flips >= 2 and min(passed, failed) >= max(2, math.ceil(0.2 * len(outcomes))):
            status = "unstable"
        elif (top is not None and not top.passed) or (top is None and failed > 0):
            status = "solved-elsewhere"
        else:
            status = "solved"
        reference = references.get(case_id)
        insights.append(
            CaseInsight(
                case_id=case_id,
                split=run.split.get(case_id, seen[0][1].split),
                tags=tuple(seen[0][1].tags),
                status=status,
                candidates_seen=len(outcomes),
                candidates_passed=passed,
                flips=flips,
                baseline_passed=low.passed if low else None,
                best_passed=top.passed if top else None,
                best_score=top.score if top else None,
                best_pass_rate=rate,
                best_pass_interval=wilson_interval(sum(top.passes), len(top.passes))
                if top and top.passes
                else None,
                best_repeats=len(top.passes) if top else 0,
                reference=getattr(reference, "source", None),
            )
        )
    order = {"resistant": 0, "unreliable": 1, "unstable": 2, "solved-elsewhere": 3, "solved": 4}
    return tuple(sorted(insights, key=lambda c: (order[c.status], c.case_id)))


def _tag_insights(
    candidates: Sequence[Candidate], baseline: int, best: int, cases: Sequence[CaseInsight]
) -> tuple[TagInsight, ...]:
    tags = sorted({t for c in candidates for s in c.cases for t in s.tags})
    status = {c.case_id: c.status for c in cases}
    rows = []
    for tag in tags:
        means: dict[int, float] = {}
        members: set[str] = set()
        for candidate in candidates:
            tagged = [s for s in candidate.cases if tag in s.tags]
            if tagged:
                means[candidate.index] = _mean([s.score for s in tagged])
                members.update(s.case_id for s in tagged)
        ceiling_index = max(means, key=lambda i: (means[i], -i))
        rows.append(
            TagInsight(
                tag=tag,
                n_cases=len(members),
                baseline_score=means.get(baseline, 0.0),
                best_score=means.get(best, 0.0),
                ceiling=means[ceiling_index],
                ceiling_index=ceiling_index,
                resistant=sum(1 for m in members if status.get(m) == "resistant"),
                unstable=sum(1 for m in members if status.get(m) in ("unstable", "unreliable")),
            )
        )
    return tuple(sorted(rows, key=lambda r: (r.ceiling, r.best_score, r.tag)))


# ---------------------------------------------------------------- cost


def _price(model: str, prices: Prices) -> tuple[float, float] | None:
    from promptsuite.results import price_for

    provider, _, name = model.partition(":")
    return price_for(model, {"provider": provider, "model": name or model}, prices)


def _completion_tokens(candidate: Candidate) -> float:
    outputs = [s.output for s in candidate.cases]
    return _mean([len(o) / CHARS_PER_TOKEN for o in outputs]) if outputs else 0.0


def _line(
    label: str,
    index: int | None,
    demos: int,
    prompt_tokens: float,
    completion_tokens: float,
    price: tuple[float, float] | None,
    volume: int,
) -> CostLine:
    per_call = None
    if price is not None:
        per_call = (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000
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


def _cost(
    run: OptimizationRun,
    baseline: Candidate,
    best: Candidate,
    prices: Prices,
    volume: int,
    plateaued: bool,
) -> CostSummary:
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


def _with_finetune_line(
    cost: CostSummary, verdict: Verdict, baseline: Candidate, prices: Prices, model: str
) -> CostSummary:
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


# ---------------------------------------------------------------- evidence


def _evidence(
    final: FinalFigures,
    cases: Sequence[CaseInsight],
    tags: Sequence[TagInsight],
    cost: CostSummary,
) -> tuple[str, ...]:
    lines = []
    if final.n_cases:
        lines.append(
            f"against your prompt on {final.n_cases} {final.source} cases: "
            f"{final.improvement:+.3f} mean score (95% CI [{final.ci_low:+.3f}, "
            f"{final.ci_high:+.3f}]), {final.fail_to_pass} fixed, {final.pass_to_fail} broken"
        )
    if final.source == "val":
        lines.append(
            "no held-out test results: validation figures are optimistic, they chose the best"
        )
    counts = {s: sum(1 for c in cases if c.status == s) for s in ("unstable", "unreliable")}
    if counts["unstable"] or counts["unreliable"]:
        lines.append(
            f"{counts['unstable']} cases flip between variants and {counts['unreliable']} "
            "pass only on some repeats under the best prompt"
        )
    if tags and len(tags) > 1:
        low = tags[0]
        lines.append(
            f"lowest tag: {low.tag!r}, no candidate scored above {low.ceiling:.2f} on its "
            f"{low.n_cases} cases"
        )
    lines.append(f"cost: {cost.note}")
    return tuple(lines)


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0
