"""The verdict: should you keep searching, stop, or fine-tune?

It reads the evidence the analysis gathered (the plateau of :mod:`._plateau`, the held-out
figures, the labels, where prompting fails) and gives one :class:`Verdict` with the reasons
behind it. The rules are written out in ``docs/optimize.md`` ("Plateau and verdicts");
everything here is pure standard-library Python.

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
``stopped_by_a_limit``            ``undecided``: a spending limit stopped the search before a
                                  plateau could be judged, and what more would decide it
``stopped_at_the_target``         ``undecided``: the search stopped once validation clearly
                                  reached the target, and the test split did not confirm it
``empty_search``                  ``undecided``: no candidate besides the user's prompt
``stopped_before_a_plateau``      ``undecided``: the optimizer stopped before a plateau
``no_labelled_demos``             ``undecided``: no train reference and no samples, so no demo
                                  was tried
``nothing_passed_to_learn_from``   ``plateau-collect``: no train reference, and the samples
                                  never passed for at least :data:`GAP_SHARE` of the train
                                  cases, so no demo could be tried: a gap only labels (or
                                  a teacher) can fill, whatever the instruction search does
``state_the_plateau``             the plateau's reason
``too_early_for_a_plateau``       ``undecided``: no more candidates than the window
``still_improving``               ``still-improving``, with the gain of another budget
``note_resistant_cases``          the cases no prompt variant solved
``note_consistency``              pass@1 against pass@k of the samples; the tags never passed
``format_failures``               ``plateau-format``: failures of the reply's format
``count_the_labels``              the labelled cases against the fine-tuning threshold
``count_the_missing_references``  the cases a person would have to label
``enough_labels_to_finetune``     ``plateau-finetune``
``collect_more_labels``           ``plateau-collect`` (always: the last rule)
================================  ==========================================================

A new kind of evidence is one rule in its place in the table (and its field in
:class:`Evidence`).

At about 600 lines it stays whole: it is the one verdict, the evidence and the rules of the
table above in their order of precedence; splitting the rules would hide that order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias

from promptsuite.optimize.analysis._consistency import Consistency
from promptsuite.optimize.analysis._plateau import GainEstimate, Plateau, estimate_gain

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

#: Fewest held-out test cases a verdict rests on; with fewer, it is undecided.
MIN_HELD_OUT = 5


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

    @property
    def to_collect(self) -> int:
        """Labelled cases still missing before fine-tuning is advised (0 when enough)."""
        return max(self.min_examples - self.labelled, 0)


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
class StopFacts:
    """Why the search stopped before its budget of candidates, and what it had spent.

    Attributes:
        reason: ``target``, ``plateau``, or the spending limit that ran out (``max-calls``,
            ``max-tokens``, ``max-cost``).
        detail: What happened, in one line.
        candidates: Candidates recorded when it stopped (the baseline included).
        complete: Of those, the ones scored on every validation case.
        unit: The limit's unit (``calls``, ``tokens``, ``USD``); None for other stops.
        per_candidate: What one candidate scored on every validation case cost, in
            ``unit``; None when unknown.
        sampling: Why the sampling stage stopped before sampling every case, if it did.
    """

    reason: str
    detail: str
    candidates: int
    complete: int
    unit: str | None = None
    per_candidate: float | None = None
    sampling: str | None = None

    @property
    def limit(self) -> bool:
        """Whether a spending limit stopped the search."""
        return self.unit is not None


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
        consistency: The sampling stage's figures, when train cases were sampled for
            references (None otherwise).
        stop: Why the search stopped before its budget (None: it did not).
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
    consistency: Consistency | None = None
    stop: StopFacts | None = None

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


def stopped_by_a_limit(evidence: Evidence, reasons: list[str]) -> Verdict | None:
    """A spending limit stopped the search: say so; undecided when too few candidates were
    scored to judge a plateau, with about how much more would decide it."""
    stop = evidence.stop
    if stop is None or not stop.limit:
        return None
    reasons.append(
        f"{stop.detail}: {stop.candidates} candidates recorded, {stop.complete} of them "
        "scored on every validation case"
    )
    if stop.sampling:
        reasons.append(f"the sampling stage stopped early: {stop.sampling}")
    plateau = evidence.plateau
    if plateau.decided:
        return None
    more = plateau.window + 1 - stop.candidates
    if stop.per_candidate is None:
        need = "a larger limit"
    else:
        need = f"about {_amount(more * stop.per_candidate, stop.unit)} more"
        reasons.append(
            f"a plateau is judged over {plateau.window} candidates after a first: {more} more "
            f"candidates, at about {_amount(stop.per_candidate, stop.unit)} each"
        )
    return _undecided(
        evidence,
        reasons,
        "Undecided: the spending limit stopped the search before a plateau could be "
        f"judged; {need} would decide it.",
    )


def stopped_at_the_target(evidence: Evidence, reasons: list[str]) -> Verdict | None:
    """The search stopped once validation clearly reached the target, and the held-out test
    did not confirm it: undecided, and how to search on."""
    stop = evidence.stop
    if stop is None or stop.reason != "target":
        return None
    reasons.append(
        f"the search stopped early: {stop.detail}; the held-out test cases did not confirm it"
    )
    return _undecided(
        evidence,
        reasons,
        "Undecided: validation said the target was reached and the search stopped there, but "
        "the held-out test cases disagree; search the whole budget with --no-racing, or add "
        "validation cases.",
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
    """Undecided when no train case had a reference answer and none was sampled, so no demo
    could be tried. Samples that never passed are evidence (of a gap), not silence."""
    search = evidence.search
    if search.demos_tried or search.train_references != 0 or evidence.consistency is not None:
        return None
    reasons.append(
        "no train case has a reference answer, so no labelled examples were tried, the "
        "strongest lever for a small model: sample them (--samples), state `reference:` on "
        "cases (or add checks that pin the answer, such as equals) and run again"
    )
    reasons.extend(search.why_empty)
    return _undecided(
        evidence, reasons, "Undecided: prompting was tried without labelled examples only."
    )


def nothing_passed_to_learn_from(evidence: Evidence, reasons: list[str]) -> Verdict | None:
    """Collect labels when sampling found no passing reply to learn from, and it is a gap.

    With no train reference and most sampled train cases never passing in K samples, the
    search could try instructions only; a drift of their mean score (still
    improving or not) does not teach the model what it does not know, and more budget would
    buy more of the same. The evidence is the samples, so this decides before the plateau.
    """
    sampled = evidence.consistency
    search = evidence.search
    if sampled is None or not sampled.gap or search.demos_tried or search.train_references:
        return None
    state_the_plateau(evidence, reasons)
    note_consistency(evidence, reasons)
    reasons.append(
        "no sampled reply passed, so the search had no example to show and tried instructions only"
    )
    count_the_labels(evidence, reasons)
    count_the_missing_references(evidence, reasons)
    more = evidence.labels.to_collect
    return Verdict(
        "plateau-collect",
        "Prompting without examples cannot close this gap: "
        f"{sampled.in_samples} the model never produced a passing reply for "
        f"{sampled.overall.never} of {sampled.overall.cases} train cases; label passing "
        f"replies for about {more} cases (promptsuite review) or sample a "
        "stronger --teacher, then optimize or fine-tune on them.",
        (*reasons, *evidence.closing_reasons),
        collect_more=more,
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


def note_consistency(evidence: Evidence, reasons: list[str]) -> None:
    """A plateau on sampled cases quotes their consistency and the tags they never passed."""
    if evidence.consistency is not None:
        reasons.extend(evidence.consistency.lines())


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
    if labels.to_collect:
        return None
    return Verdict(
        "plateau-finetune",
        f"Prompting has plateaued below the target;{_lacks_knowledge(evidence)} fine-tuning "
        "is advised.",
        (*reasons, *evidence.closing_reasons),
    )


def collect_more_labels(evidence: Evidence, reasons: list[str]) -> Verdict:
    """A plateau with too few labelled cases: how many more to collect. Always decides."""
    more = evidence.labels.to_collect
    return Verdict(
        "plateau-collect",
        f"Prompting has plateaued below the target;{_lacks_knowledge(evidence)} there are too "
        f"few labelled cases to fine-tune: collect about {more} more.",
        (*reasons, *evidence.closing_reasons),
        collect_more=more,
    )


def _amount(value: float, unit: str | None) -> str:
    if unit == "USD":
        return f"{value:.2f} USD" if value >= 0.01 else f"{value:.4f} USD"
    return f"{round(value)} {unit}"


def _undecided(evidence: Evidence, reasons: list[str], headline: str) -> Verdict:
    return Verdict("undecided", headline, (*reasons, *evidence.closing_reasons))


def _lacks_knowledge(evidence: Evidence) -> str:
    # Only reached past the format rule: any classified failure is one of knowledge.
    if evidence.failures.kind:
        return " the model lacks the knowledge (right shape, wrong content):"
    sampled = evidence.consistency
    if sampled is not None and sampled.gap:
        return (
            f" {sampled.in_samples} the model never produced a passing reply for "
            f"{sampled.overall.never} of {sampled.overall.cases} train cases (a capability or "
            "knowledge gap):"
        )
    return ""


VERDICT_RULES: tuple[VerdictRule, ...] = (
    state_the_score,
    too_few_held_out_cases,
    no_held_out_results,
    note_unreliable_passes,
    target_reached,
    stopped_by_a_limit,
    stopped_at_the_target,
    empty_search,
    stopped_before_a_plateau,
    no_labelled_demos,
    nothing_passed_to_learn_from,
    state_the_plateau,
    too_early_for_a_plateau,
    still_improving,
    note_resistant_cases,
    note_consistency,
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
