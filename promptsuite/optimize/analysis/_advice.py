"""Plateau detection and the verdict: should you keep searching, stop, or fine-tune?

The search evaluates candidate prompts one after another on the validation cases. This module
reads that trajectory and decides whether the best-so-far score is still climbing or has
flattened, with the same statistics as the regression gate: a paired bootstrap CI over cases
(:func:`promptsuite.gate.paired_bootstrap`). The rules are written out in ``docs/optimize.md``
("Plateau and verdicts"); everything here is pure standard-library Python, deterministic for
a given seed.

The verdict is a table of rules, :data:`VERDICT_RULES`. :func:`decide` hands the
:class:`Evidence` and the reason lines so far to each rule in turn; a rule may add lines, and
the first rule that gives a verdict wins, so the table's order is the precedence:

================================  ==========================================================
rule                              what it adds, or the verdict it gives
================================  ==========================================================
``state_the_score``               the score against the target (every verdict's first line)
``too_few_held_out_cases``        ``undecided``: under :data:`MIN_HELD_OUT` test cases
``no_held_out_results``           ``undecided``: validation figures only
``note_unreliable_passes``        at the target on average, not by each case's worst repeat
``target_reached``                ``target-reached`` (reliably, when consistency is required)
``empty_search``                  ``undecided``: no candidate besides the user's prompt
``stopped_before_a_plateau``      ``undecided``: the optimizer stopped before a plateau
``no_labelled_demos``             ``undecided``: no train reference, so no demo was tried
``state_the_plateau``             the plateau's reason
``too_early_for_a_plateau``       ``undecided``: no more candidates than the window
``still_improving``               ``still-improving``, with the gain of another budget
``note_resistant_cases``          the cases no prompt variant solved
``format_failures``               ``plateau-format``: failures of the reply's format
``count_the_labels``              the labelled cases against the fine-tuning threshold
``count_the_missing_references``  the cases a person would have to label
``enough_labels_to_finetune``     ``plateau-finetune``
``collect_more_labels``           ``plateau-collect`` (always: the last rule)
================================  ==========================================================

A new kind of evidence is one rule in its place in the table (and its field in
:class:`Evidence`).

Over 500 lines on purpose, and the old reason still holds: the rules quote the plateau's
reason and call its gain estimate, and the thresholds they test are defined beside both, so
the file reads as one decision. The table made the module longer (a small function with its
docstring per rule), not more tangled: the plateau statistics (:class:`Plateau`,
:func:`detect_plateau`, :class:`GainEstimate`, :func:`estimate_gain`) and the verdict
(:class:`Verdict`, :class:`Evidence`, the rules) meet only where a rule reads the plateau
and calls :func:`estimate_gain`; that is the seam to cut along if the module grows further.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from promptsuite.stats import CASES_NEEDED_CAP, paired_bootstrap, required_cases

VerdictCode = Literal[
    "target-reached",
    "still-improving",
    "plateau-format",
    "plateau-finetune",
    "plateau-collect",
    "undecided",
]
"""The answers of the advice (docs/optimize.md, "Plateau and verdicts")."""

#: OpenAI refuses a fine-tuning file with fewer examples than this.
OPENAI_MIN_EXAMPLES = 10
#: OpenAI's guide: "we typically see clear improvements from fine-tuning on 50 to 100 training
#: examples"; below this the advice asks for more labelled cases before fine-tuning.
RECOMMENDED_MIN_EXAMPLES = 50

DEFAULT_MARGIN = 0.01
"""Smallest mean-score gain over the window that counts as "still improving"."""

#: Two-sided confidence of the plateau's interval: its lower bound is a one-sided 90% bound.
#: Calibrated in ``benchmarks/plateau_calibration.py``: 95% called most runs that were still
#: improving a plateau, 80% keeps flat runs at >= 97% plateau and halves that error.
PLATEAU_CONFIDENCE = 0.80

MIN_WINDOW = 3
#: Fewest held-out test cases a verdict rests on; with fewer, it is undecided.
MIN_HELD_OUT = 5


@dataclass(frozen=True)
class Plateau:
    """Whether the best-so-far validation score has stopped improving.

    The best-so-far candidate at the end of the run is compared, case by case on the
    validation split, with the best-so-far candidate ``window`` candidates earlier. The run
    has plateaued when the lower bound of the paired bootstrap CI of that gain is at most
    ``margin``: the last ``window`` candidates did not demonstrably improve by more than the
    margin.

    Attributes:
        decided: False when the run has no more than ``window`` candidates (too early).
        plateaued: The verdict; False when not ``decided``.
        window: Candidates looked back over.
        margin: The smallest gain that counts as an improvement.
        confidence: Two-sided confidence of the interval.
        gain: Mean per-case score gain of the final best over the best at the window start.
        ci_low: Lower bound of the gain's bootstrap interval.
        ci_high: Upper bound of the gain's bootstrap interval.
        sd_gain: Standard deviation of the per-case gains.
        n_cases: Validation cases both candidates were scored on.
        start_index: Candidate index of the best-so-far at the window start (None if undecided).
        best_index: Candidate index of the final best.
        plateau_point: When plateaued, the first candidate whose score the final best does
            not beat by more than the margin: where the curve flattened.
        cases_to_decide: When the interval straddles the margin, the validation cases that
            would settle it (the gate's ``required_cases``); None otherwise.
        reason: One line a person can read.
    """

    decided: bool
    plateaued: bool
    window: int
    margin: float
    confidence: float
    gain: float
    ci_low: float
    ci_high: float
    sd_gain: float
    n_cases: int
    start_index: int | None
    best_index: int
    plateau_point: int | None
    cases_to_decide: int | None
    reason: str


@dataclass(frozen=True)
class GainEstimate:
    """What extending the search might still gain, extrapolated from the recent slope.

    Attributes:
        per_candidate: Observed gain per candidate over the window.
        per_candidate_low: Lower CI bound of that slope.
        per_candidate_high: Upper CI bound of that slope.
        extra_candidates: The extension the estimate is for.
        expected: Linear extrapolation over ``extra_candidates``, capped at the room left.
        low: Its lower bound (at least 0).
        high: Its upper bound, capped at the room left (1 - current best score).
        candidates_to_target: At the observed slope, candidates until the target; None when
            the slope is not positive or the target is already reached.
    """

    per_candidate: float
    per_candidate_low: float
    per_candidate_high: float
    extra_candidates: int
    expected: float
    low: float
    high: float
    candidates_to_target: int | None


@dataclass(frozen=True)
class Verdict:
    """The advice, with the evidence behind it.

    Attributes:
        code: One of :data:`VerdictCode`.
        headline: One sentence.
        reasons: The evidence, one line each.
        collect_more: For ``plateau-collect``, about how many more labelled cases to collect.
        gain_estimate: For ``still-improving``, the estimated gain of a longer search.
    """

    code: VerdictCode
    headline: str
    reasons: tuple[str, ...]
    collect_more: int | None = None
    gain_estimate: GainEstimate | None = None


def default_window(budget: int, n_candidates: int) -> int:
    """The window used when none is given: a quarter of the budget, at least 3 candidates."""
    return max(MIN_WINDOW, round(0.25 * max(budget, n_candidates)))


def best_so_far(scores: Sequence[float]) -> list[int]:
    """Position of the best score among positions ``0..k``, for every ``k``; ties keep the first."""
    positions: list[int] = []
    for position, score in enumerate(scores):
        if not positions or score > scores[positions[-1]]:
            positions.append(position)
        else:
            positions.append(positions[-1])
    return positions


def detect_plateau(
    indices: Sequence[int],
    scores: Sequence[float],
    case_scores: Sequence[Mapping[str, float]],
    *,
    window: int,
    margin: float = DEFAULT_MARGIN,
    confidence: float = PLATEAU_CONFIDENCE,
    seed: int = 0,
    resamples: int = 10_000,
) -> Plateau:
    """Decide whether a search trajectory has plateaued.

    Args:
        indices: Candidate indices, in evaluation order.
        scores: Each candidate's validation score (what the search ranked them by).
        case_scores: Each candidate's per-case validation scores, case id -> score.
        window: Candidates to look back over (K); at least 1.
        margin: The smallest mean-score gain that counts as an improvement (>= 0).
        confidence: Two-sided confidence of the bootstrap interval.
        seed: Bootstrap seed.
        resamples: Bootstrap resamples.

    Returns:
        The plateau decision and its evidence.

    Raises:
        ValueError: If the sequences are empty or differ in length, or a setting is out of range.
    """
    if not len(indices) == len(scores) == len(case_scores):
        raise ValueError("indices, scores and case_scores must have one entry per candidate")
    if not scores:
        raise ValueError("a trajectory needs at least one candidate")
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    if margin < 0:
        raise ValueError(f"margin must be non-negative, got {margin}")
    best = best_so_far(scores)
    end = best[-1]
    if len(scores) <= window:
        return Plateau(
            decided=False,
            plateaued=False,
            window=window,
            margin=margin,
            confidence=confidence,
            gain=0.0,
            ci_low=0.0,
            ci_high=0.0,
            sd_gain=0.0,
            n_cases=0,
            start_index=None,
            best_index=indices[end],
            plateau_point=None,
            cases_to_decide=None,
            reason=(
                f"too early to tell: {len(scores)} candidates, and a plateau is judged over "
                f"the last {window} after a first one"
            ),
        )
    start = best[len(scores) - 1 - window]

    def compare(earlier: int) -> tuple[float, float, float, float, int]:
        shared = sorted(set(case_scores[earlier]) & set(case_scores[end]))
        if not shared:
            gain = scores[end] - scores[earlier]
            return gain, gain, gain, 0.0, 0
        boot = paired_bootstrap(
            [case_scores[earlier][c] for c in shared],
            [case_scores[end][c] for c in shared],
            resamples=resamples,
            confidence=confidence,
            seed=seed,
        )
        return boot.mean_diff, boot.ci_low, boot.ci_high, boot.sd_diff, boot.n_cases

    gain, low, high, sd, n_cases = compare(start)
    plateaued = low <= margin
    point = None
    if plateaued:
        for position in sorted(set(best)):
            if position == end or compare(position)[1] <= margin:
                point = indices[position]
                break
    to_decide = None
    if low <= margin < high and n_cases and sd > 0:
        to_decide = required_cases(sd, abs(gain - margin), confidence)
    interval = (
        f"the best score moved {gain:+.3f} over the last {window} candidates "
        f"({confidence:.0%} CI [{low:+.3f}, {high:+.3f}] over {n_cases} cases)"
    )
    if plateaued:
        reason = f"plateaued: {interval}, not clearly more than the {margin:g} margin"
        if to_decide is not None:
            need = f"{to_decide}" if to_decide != CASES_NEEDED_CAP else f"over {CASES_NEEDED_CAP}"
            reason += f"; about {need} validation cases would tell a real gain from noise"
    else:
        reason = f"still improving: {interval}, clearly more than the {margin:g} margin"
    return Plateau(
        decided=True,
        plateaued=plateaued,
        window=window,
        margin=margin,
        confidence=confidence,
        gain=gain,
        ci_low=low,
        ci_high=high,
        sd_gain=sd,
        n_cases=n_cases,
        start_index=indices[start],
        best_index=indices[end],
        plateau_point=point,
        cases_to_decide=to_decide,
        reason=reason,
    )


def estimate_gain(
    plateau: Plateau, best_score: float, target: float, extra_candidates: int
) -> GainEstimate:
    """Extrapolate the window's slope over a longer search, with its interval, capped.

    The slope is the window's gain (and its CI bounds) divided by the window. Linear
    extrapolation ignores the diminishing returns searches usually show, so the figure leans
    optimistic; it is capped at the room left above the current best score.

    Args:
        plateau: The plateau decision (its gain and interval).
        best_score: The current best score.
        target: The target score.
        extra_candidates: How many more candidates the estimate is for.

    Returns:
        The estimate.
    """
    room = max(0.0, 1.0 - best_score)
    slope = plateau.gain / plateau.window
    slope_low = plateau.ci_low / plateau.window
    slope_high = plateau.ci_high / plateau.window
    to_target = None
    if slope > 0 and best_score < target:
        to_target = math.ceil((target - best_score) / slope)
    return GainEstimate(
        per_candidate=slope,
        per_candidate_low=slope_low,
        per_candidate_high=slope_high,
        extra_candidates=extra_candidates,
        expected=min(room, max(0.0, slope * extra_candidates)),
        low=min(room, max(0.0, slope_low * extra_candidates)),
        high=min(room, max(0.0, slope_high * extra_candidates)),
        candidates_to_target=to_target,
    )


@dataclass(frozen=True)
class SearchFacts:
    """What the search did, for the verdict's honesty about a search that found nothing.

    Attributes:
        candidates: Candidates scored besides the user's prompt.
        demos_tried: Whether any candidate showed demos.
        train_references: Train cases with a reference answer (the demos' source).
        why_empty: What kept the search from proposing candidates, in words.
    """

    candidates: int
    demos_tried: bool
    train_references: int
    why_empty: tuple[str, ...] = ()


@dataclass(frozen=True)
class FinalScore:
    """The best candidate's score a verdict rests on.

    Attributes:
        score: The best candidate's mean score on ``source``.
        source: ``test`` (the held-out cases, when they were run) or ``val``.
        consistent_score: The same with each case scored by its worst repeat, when
            consistency is required and cases were repeated; None otherwise.
        held_out: Test cases the figures compare (at least :data:`MIN_HELD_OUT` for a
            verdict).
    """

    score: float
    source: str
    consistent_score: float | None = None
    held_out: int = MIN_HELD_OUT

    def reaches(self, target: float) -> bool:
        """Whether the score, and the worst-repeat score when there is one, meet ``target``."""
        return self.score >= target and (
            self.consistent_score is None or self.consistent_score >= target
        )


@dataclass(frozen=True)
class LabelFacts:
    """The labelled cases a fine-tune would learn from, and how many it needs.

    Attributes:
        labelled: Train and validation cases with a reference answer.
        needs_reference: Cases with no reference answer.
        min_examples: Labelled cases needed before fine-tuning is advised.
        basis: Where ``min_examples`` comes from when it is measured (a fine-tune's learning
            curve, :mod:`~promptsuite.optimize.analysis._learning`), in words; None for the
            fixed default.
    """

    labelled: int
    needs_reference: int = 0
    min_examples: int = RECOMMENDED_MIN_EXAMPLES
    basis: str | None = None


@dataclass(frozen=True)
class FailureFacts:
    """Where prompting fails.

    Attributes:
        kind: What explains most failing held-out cases: ``format``, ``knowledge`` or None
            (see :mod:`~promptsuite.optimize.analysis._failures`).
        reasons: Where prompting fails, in words (tags, cases, checks).
        resistant: Cases no candidate ever passed.
    """

    kind: str | None = None
    reasons: tuple[str, ...] = ()
    resistant: int = 0


@dataclass(frozen=True)
class Evidence:
    """Everything a verdict rests on.

    Attributes:
        plateau: The plateau decision on the validation trajectory.
        final: The best candidate's score (on held-out test cases when they were run).
        target: The target score.
        budget: The candidate budget of the run (the extension the gain estimate is for).
        search: What the search did.
        labels: The labelled cases, and how many fine-tuning needs.
        failures: Where prompting fails.
        extra_reasons: Further evidence lines (the change against the user's prompt, cost)
            every verdict ends with.
        stopped_early: Why the optimizer stopped before its budget, if it did.
    """

    plateau: Plateau
    final: FinalScore
    target: float
    budget: int
    search: SearchFacts
    labels: LabelFacts
    failures: FailureFacts = FailureFacts()
    extra_reasons: tuple[str, ...] = ()
    stopped_early: str | None = None

    @property
    def closing_reasons(self) -> tuple[str, ...]:
        """The lines a verdict ends with: where prompting fails, then the extra reasons."""
        return (*self.failures.reasons, *self.extra_reasons)


VerdictRule: TypeAlias = Callable[[Evidence, list[str]], Verdict | None]
"""One rule of the advice: it reads the evidence and the reason lines so far, may add lines,
and gives the verdict or None to let the next rule speak."""


def state_the_score(evidence: Evidence, reasons: list[str]) -> None:
    """Every verdict opens with the score it rests on, against the target."""
    final = evidence.final
    reasons.append(
        f"best {final.source} score {final.score:.3f} against a target of {evidence.target:g}"
    )


def too_few_held_out_cases(evidence: Evidence, reasons: list[str]) -> Verdict | None:
    """Undecided on fewer than :data:`MIN_HELD_OUT` held-out test cases: luck could explain it."""
    final = evidence.final
    if final.source != "test" or final.held_out >= MIN_HELD_OUT:
        return None
    reasons.append(
        f"only {final.held_out} held-out test cases: too few to tell a prompt's real score from "
        f"luck; a verdict needs at least {MIN_HELD_OUT} (add cases to the suite)"
    )
    return _undecided(evidence, reasons, "Undecided: too few held-out test cases to judge.")


def no_held_out_results(evidence: Evidence, reasons: list[str]) -> Verdict | None:
    """Undecided without test results: the validation figures chose the best candidate."""
    if evidence.final.source == "test":
        return None
    reasons.append(
        "no held-out test results: a verdict needs the test split, which the search never "
        "sees (add cases, or give the test split a larger share with --split)"
    )
    return _undecided(evidence, reasons, "Undecided: nothing was verified on held-out test cases.")


def note_unreliable_passes(evidence: Evidence, reasons: list[str]) -> None:
    """A score at the target on average, but not when each case counts its worst repeat."""
    final = evidence.final
    if final.score >= evidence.target and not final.reaches(evidence.target):
        reasons.append(
            f"passes on average but not reliably: {final.consistent_score:.3f} when each case "
            "counts its worst repeat, below the target"
        )


def target_reached(evidence: Evidence, reasons: list[str]) -> Verdict | None:
    """The target met (reliably, when required): use the prompt; where it fails is left out."""
    if not evidence.final.reaches(evidence.target):
        return None
    return Verdict(
        "target-reached",
        "Target reached by prompting: use the best prompt; fine-tuning is not needed.",
        (*reasons, *evidence.extra_reasons),
    )


def empty_search(evidence: Evidence, reasons: list[str]) -> Verdict | None:
    """Undecided when the search recorded no candidate besides the user's prompt, with why."""
    search = evidence.search
    if search.candidates != 0:
        return None
    reasons.append("the search recorded no candidate besides your prompt")
    reasons.extend(search.why_empty)
    return _undecided(
        evidence, reasons, "Undecided: the search found nothing to compare with your prompt."
    )


def stopped_before_a_plateau(evidence: Evidence, reasons: list[str]) -> Verdict | None:
    """Undecided when the optimizer stopped early, before a plateau could be judged."""
    if evidence.stopped_early is None or evidence.plateau.decided:
        return None
    reasons.append(f"the optimizer stopped early: {evidence.stopped_early}")
    return _undecided(
        evidence,
        reasons,
        "Undecided: the optimizer stopped before it produced enough candidates to judge. "
        "Try another --optimizer, or a stronger --prompt-model for instruction search.",
    )


def no_labelled_demos(evidence: Evidence, reasons: list[str]) -> Verdict | None:
    """Undecided when no train case had a reference answer, so no demo could be tried."""
    search = evidence.search
    if search.demos_tried or search.train_references != 0:
        return None
    reasons.append(
        "no train case has a reference answer, so no labelled examples were tried, the "
        "strongest lever for a small model: state `reference:` on cases (or add checks "
        "that pin the answer, such as equals) and run again"
    )
    reasons.extend(search.why_empty)
    return _undecided(
        evidence, reasons, "Undecided: prompting was tried without labelled examples only."
    )


def state_the_plateau(evidence: Evidence, reasons: list[str]) -> None:
    """From here on, every verdict quotes the plateau's reason."""
    reasons.append(evidence.plateau.reason)


def too_early_for_a_plateau(evidence: Evidence, reasons: list[str]) -> Verdict | None:
    """Undecided with no more candidates than the window: a larger budget would tell."""
    if evidence.plateau.decided:
        return None
    return _undecided(
        evidence,
        reasons,
        "Undecided: too few candidates to judge a plateau; raise --budget above "
        f"{evidence.budget}.",
    )


def still_improving(evidence: Evidence, reasons: list[str]) -> Verdict | None:
    """Not plateaued: extend the search, with what another budget might gain."""
    if evidence.plateau.plateaued:
        return None
    budget = evidence.budget
    estimate = estimate_gain(evidence.plateau, evidence.final.score, evidence.target, budget)
    reasons.append(
        f"extending the search by {budget} candidates might gain about "
        f"{estimate.expected:+.3f} (range {estimate.low:+.3f} to {estimate.high:+.3f}), "
        "a linear extrapolation of the recent slope, capped; gains usually shrink"
    )
    if estimate.candidates_to_target is not None:
        reasons.append(
            f"at the recent slope the target is about {estimate.candidates_to_target} "
            "candidates away"
        )
    return Verdict(
        "still-improving",
        "Still improving: extend the budget before deciding on fine-tuning.",
        (*reasons, *evidence.closing_reasons),
        gain_estimate=estimate,
    )


def note_resistant_cases(evidence: Evidence, reasons: list[str]) -> None:
    """A plateau names the cases no prompt variant ever solved."""
    resistant = evidence.failures.resistant
    if resistant:
        reasons.append(f"{resistant} cases were never solved by any prompt variant")


def format_failures(evidence: Evidence, reasons: list[str]) -> Verdict | None:
    """A plateau whose failures are mostly the reply's format: fix that before fine-tuning."""
    if evidence.failures.kind != "format":
        return None
    return Verdict(
        "plateau-format",
        "Prompting has plateaued below the target, and the failures are in the reply's "
        "format (the right content, wrapped wrong): fix the prompt's format or add checks "
        "that accept it before you fine-tune.",
        (*reasons, *evidence.closing_reasons),
    )


def count_the_labels(evidence: Evidence, reasons: list[str]) -> None:
    """The labelled cases, against the threshold and where it comes from."""
    labels = evidence.labels
    if labels.basis is None:
        reasons.append(
            f"{labels.labelled} train/validation cases have a reference answer; fine-tuning "
            f"is advised from {labels.min_examples} (OpenAI requires {OPENAI_MIN_EXAMPLES} "
            "and sees clear gains from 50-100)"
        )
    else:
        reasons.append(
            f"{labels.labelled} train/validation cases have a reference answer; {labels.basis}"
        )


def count_the_missing_references(evidence: Evidence, reasons: list[str]) -> None:
    """The cases a person would have to label."""
    needs_reference = evidence.labels.needs_reference
    if needs_reference:
        reasons.append(f"{needs_reference} cases need a reference answer written by a person")


def enough_labels_to_finetune(evidence: Evidence, reasons: list[str]) -> Verdict | None:
    """A plateau with at least ``min_examples`` labelled cases: fine-tune."""
    labels = evidence.labels
    if labels.labelled < labels.min_examples:
        return None
    return Verdict(
        "plateau-finetune",
        f"Prompting has plateaued below the target;{_lacks_knowledge(evidence)} fine-tuning "
        "is advised.",
        (*reasons, *evidence.closing_reasons),
    )


def collect_more_labels(evidence: Evidence, reasons: list[str]) -> Verdict:
    """A plateau with too few labelled cases: how many more to collect. Always decides."""
    more = evidence.labels.min_examples - evidence.labels.labelled
    return Verdict(
        "plateau-collect",
        f"Prompting has plateaued below the target;{_lacks_knowledge(evidence)} there are too "
        f"few labelled cases to fine-tune: collect about {more} more.",
        (*reasons, *evidence.closing_reasons),
        collect_more=more,
    )


def _undecided(evidence: Evidence, reasons: list[str], headline: str) -> Verdict:
    return Verdict("undecided", headline, (*reasons, *evidence.closing_reasons))


def _lacks_knowledge(evidence: Evidence) -> str:
    # Only reached past the format rule: any classified failure is one of knowledge.
    if evidence.failures.kind:
        return " the model lacks the knowledge (right shape, wrong content):"
    return ""


VERDICT_RULES: tuple[VerdictRule, ...] = (
    state_the_score,
    too_few_held_out_cases,
    no_held_out_results,
    note_unreliable_passes,
    target_reached,
    empty_search,
    stopped_before_a_plateau,
    no_labelled_demos,
    state_the_plateau,
    too_early_for_a_plateau,
    still_improving,
    note_resistant_cases,
    format_failures,
    count_the_labels,
    count_the_missing_references,
    enough_labels_to_finetune,
    collect_more_labels,
)
"""The rules of the advice in precedence order; the last one always gives a verdict."""


def decide(evidence: Evidence) -> Verdict:
    """Turn the evidence into a verdict: the first that a rule of :data:`VERDICT_RULES` gives.

    The score behind every verdict is the held-out test score: without test results the
    verdict is ``undecided``. A search that proposed nothing, or could not try labelled
    demos, is ``undecided`` too, never "still improving", and says what would decide it.

    Args:
        evidence: The figures the verdict rests on.

    Returns:
        The verdict: its reasons are the lines the rules added, in order, then where
        prompting fails (except for ``target-reached``) and the extra reasons.
    """
    reasons: list[str] = []
    verdicts = (rule(evidence, reasons) for rule in VERDICT_RULES)
    return next(verdict for verdict in verdicts if verdict is not None)
