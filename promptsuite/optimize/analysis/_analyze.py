"""Reading an optimization run: the trajectory, where prompting fails, the cost, the advice.

:func:`analyze` takes the :class:`~promptsuite.optimize.OptimizationRun` the search recorded
and returns an :class:`Analysis`: the best-so-far trajectory and its plateau (``_advice``),
the final figures on the held-out test split, every case's and tag's story across the
candidates (``_insights``), tokens and money per call (``_cost``), and the verdict. The
definitions are in ``docs/optimize.md``. Pure Python; no model is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptsuite.optimize._records import Candidate, OptimizationRun, mean
from promptsuite.optimize._references import reference_answers
from promptsuite.optimize.analysis._advice import (
    RECOMMENDED_MIN_EXAMPLES,
    Evidence,
    FailureFacts,
    FinalScore,
    LabelFacts,
    SearchFacts,
    StopFacts,
    Verdict,
    decide,
)
from promptsuite.optimize.analysis._consistency import Consistency, consistency
from promptsuite.optimize.analysis._cost import (
    DEFAULT_CALL_VOLUME,
    CostSummary,
    Prices,
    cost_summary,
    with_finetune_line,
)
from promptsuite.optimize.analysis._failures import FailureSummary, summarize_failures
from promptsuite.optimize.analysis._insights import (
    CaseInsight,
    TagInsight,
    case_insights,
    tag_insights,
)
from promptsuite.optimize.analysis._learning import LearningCurve
from promptsuite.optimize.analysis._plateau import (
    DEFAULT_MARGIN,
    PLATEAU_CONFIDENCE,
    Plateau,
    best_so_far,
    default_window,
    detect_plateau,
)
from promptsuite.stats import mcnemar_exact, paired_bootstrap, wilson_interval

if TYPE_CHECKING:
    from promptsuite.suite import Suite


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
        val_cases: Validation cases it was scored on (None in reports from before racing:
            all of them).
        stopped: Why it was scored on part of them only (racing dropped it, or a spending
            limit ran out); None when it was scored on all.
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
    val_cases: int | None = None
    stopped: str | None = None


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
        failures: Where the best candidate fails on the held-out cases, and why.
        labelled: Train/validation cases with a reference answer.
        needs_reference: Train/validation cases without one -> why.
        min_examples: Labelled cases needed before fine-tuning is advised.
        seed: Bootstrap seed.
        consistency: The sampling stage's pass@1, pass@k and per-case pass rates, overall
            and per tag (None when no train case was sampled).
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
    failures: FailureSummary
    labelled: int
    needs_reference: dict[str, str]
    min_examples: int
    seed: int
    consistency: Consistency | None = None


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
    learning_curve: LearningCurve | None = None,
) -> Analysis:
    """Analyse an optimization run and give the advice.

    Args:
        run: The recorded run; candidate 0 is the user's prompt.
        suite: The suite, to derive reference answers from its checks; without it only
            the run's verified outputs count as labels.
        margin: Smallest gain over the window that counts as still improving.
        window: Candidates the plateau looks back over; default a quarter of the budget,
            at least 3.
        seed: Bootstrap seed.
        call_volume: Calls the cost table prices.
        prices: Model label -> (USD per 1M prompt tokens, USD per 1M completion tokens),
            over :data:`promptsuite.prices.DEFAULT_PRICES`; ``ft:<model>`` prices the
            fine-tuned projection. Local and scripted models cost $0.
        require_consistency: Count a case by its worst repeat when judging the target.
        min_examples: Labelled cases needed before fine-tuning is advised.
        confidence: Two-sided confidence of the plateau's bootstrap interval (default 80%:
            a one-sided 90% lower bound; see the calibration in ``docs/optimize.md``).
        resamples: Bootstrap resamples.
        learning_curve: A fine-tune's measured learning curve (``promptsuite finetune
            --curve``); when given, the labelled cases it says the target needs replace
            ``min_examples``.

    Returns:
        The analysis.

    Raises:
        ValueError: If the run has no candidates.
    """
    if not run.candidates:
        raise ValueError("the run recorded no candidates; nothing to analyse")
    candidates = run.candidates
    scores = [c.val_score for c in candidates]
    complete = [c.complete for c in candidates]
    best_positions = best_so_far(scores, complete)
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
            val_cases=c.val_cases,
            stopped=c.stopped,
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
        complete=complete,
    )
    final = _final_figures(run, baseline, best, seed, resamples)
    references, missing = reference_answers(run, suite)
    cases = case_insights(run, baseline.index, best.index, references)
    tags = tag_insights(candidates, baseline.index, best.index, cases)
    trainable = {c.case_id for c in cases if c.split != "test"} | {
        case_id for case_id, split in run.split.items() if split != "test"
    }
    labelled = sum(1 for case_id in trainable if case_id in references)
    needs = {case_id: why for case_id, why in missing.items() if case_id in trainable}
    resistant = sum(1 for c in cases if c.status == "resistant")
    cost = cost_summary(run, baseline, best, prices or {}, call_volume, plateau.plateaued)
    consistent = final.best_consistent_score if require_consistency else None
    failures = summarize_failures(run, best.index, references, suite)
    sampled = consistency(run.sampling)
    basis: str | None = None
    if learning_curve is not None:
        basis = learning_curve.reason()
        if learning_curve.cases_needed is not None:
            min_examples = learning_curve.cases_needed
        else:
            basis += f"; the fixed default of {min_examples} applies"
    evidence = Evidence(
        plateau=plateau,
        final=FinalScore(
            score=final.best_score,
            source=final.source,
            consistent_score=consistent,
            held_out=final.n_cases,
        ),
        target=run.target,
        budget=run.budget,
        search=search_facts(run),
        labels=LabelFacts(
            labelled=labelled,
            needs_reference=len(needs),
            min_examples=min_examples,
            basis=basis,
        ),
        failures=FailureFacts(
            kind=failures.dominant,
            reasons=failures.lines(),
            resistant=resistant,
        ),
        extra_reasons=_extra_reasons(final, cases, cost, run),
        stopped_early=run.optimizer_error,
        consistency=sampled,
        stop=stop_facts(run),
    )
    verdict = decide(evidence)
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
        cost=with_finetune_line(cost, verdict, baseline, prices or {}, run.model),
        failures=failures,
        labelled=labelled,
        needs_reference=needs,
        min_examples=min_examples,
        seed=seed,
        consistency=sampled,
    )


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
        baseline_score=mean([a.score for a, _ in pairs]),
        best_score=mean([b.score for _, b in pairs]),
        best_consistent_score=mean([min(b.scores, default=0.0) for _, b in pairs])
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


def search_facts(run: OptimizationRun) -> SearchFacts:
    """What the search did, and what kept it from proposing candidates."""
    others = [c for c in run.candidates if c.index != 0]
    train_references = run.references.with_reference if run.references else 0
    why: list[str] = []
    if train_references == 0:
        why.append(
            "no train case has a reference answer (state `reference:`, or add checks that "
            "pin the answer), so there were no labelled demos to try"
        )
    proposer = run.prompt_model == run.model
    if run.optimizer in ("bootstrap", "mipro") and not others:
        why.append(
            "bootstrapped demos need the model's own passing replies on train cases, and none "
            "passed"
        )
    if run.optimizer in ("copro", "mipro", "gepa") and proposer:
        why.append(
            "instruction proposals need a model that can write instructions; give a capable "
            "one with --prompt-model"
        )
    if run.optimizer_error:
        why.append(f"the optimizer stopped early: {run.optimizer_error}")
    return SearchFacts(
        candidates=len(others),
        demos_tried=any(c.demos for c in others),
        train_references=train_references,
        why_empty=tuple(why),
    )


_UNITS = {"max-calls": "calls", "max-tokens": "tokens", "max-cost": "USD"}


def stop_facts(run: OptimizationRun) -> StopFacts | None:
    """Why the run's search stopped before its budget, in the verdict's terms."""
    stop = run.stopped
    if stop is None:
        return None
    unit = _UNITS.get(stop.reason)
    each = stop.per_candidate
    per_candidate: float | None = None
    if unit is not None and each is not None:
        per_candidate = {"calls": each.calls, "tokens": each.tokens, "USD": each.cost}[unit]
    return StopFacts(
        reason=stop.reason,
        detail=stop.detail,
        candidates=stop.candidates,
        complete=sum(1 for c in run.candidates if c.complete),
        unit=unit,
        per_candidate=per_candidate,
        sampling=run.sampling.stopped if run.sampling is not None else None,
    )


def _extra_reasons(
    final: FinalFigures,
    cases: Sequence[CaseInsight],
    cost: CostSummary,
    run: OptimizationRun,
) -> tuple[str, ...]:
    lines = []
    stop = run.stopped
    if stop is not None and stop.reason == "plateau":
        lines.append(
            f"the search stopped after {stop.candidates} of {run.budget + 1} candidates, once "
            "the plateau was decided"
        )
    partial = sum(1 for c in run.candidates if not c.complete)
    if partial:
        lines.append(
            f"{partial} of {len(run.candidates)} candidates were scored on part of the "
            "validation cases (clearly behind the best so far, or cut by a limit); only those "
            "scored on every case compete for the best"
        )
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
    lines.append(f"cost: {cost.note}")
    return tuple(lines)
