"""Each judge measured against people's labels, and which verdicts rest on an untrusted one.

:func:`calibrate` pairs every label with the judges' verdicts on the same output (same
case, check and output digest, judged against the same rubric), reports each label it
cannot apply in one located line, and sums each judge up in a :class:`JudgeCalibration`:
agreement, Cohen's kappa with its bootstrap interval, the confusion matrix, the bias, the
labels a narrower interval needs, and whether it is trusted. :func:`case_rests_on` and
:func:`gate_rests_on` say when a verdict depends on a judge that is not.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Literal

from promptsuite._schema import FrozenRecord
from promptsuite.agreement import (
    DEFAULT_KAPPA_THRESHOLD,
    MIN_TRUSTED_LABELS,
    Bias,
    Confusion,
    bias_direction,
    kappa_interval,
    labels_needed,
)
from promptsuite.checks import outcome
from promptsuite.labels._file import LabelKey, LabelsFile, PlacedLabel
from promptsuite.labels._judged import Judge, JudgedOutput, check_names, judge_of, judged_outputs
from promptsuite.results import CaseResult
from promptsuite.stats import reduce_repeats

#: The interval width :func:`calibrate` says how many labels would reach, unless told.
DEFAULT_WIDTH = 0.2
#: Bootstrap resamples of kappa's interval.
DEFAULT_RESAMPLES = 2_000


class JudgeCalibration(FrozenRecord):
    """One judge against people's labels on the same outputs."""

    judge: str
    """The judge's name: ``type@grader#rubric-digest``."""
    grader: str
    """The grader model."""
    check_type: str
    """The check type."""
    rubric: str
    """What it judges on."""
    n: int
    """Outputs both the judge and a person rated."""
    agreement: float | None
    """The fraction rated alike; None without labels."""
    kappa: float | None
    """Cohen's kappa; None when undefined (no labels, or one verdict for everything)."""
    ci_low: float | None
    """Lower bound of kappa's bootstrap interval."""
    ci_high: float | None
    """Upper bound of kappa's bootstrap interval."""
    confusion: dict[str, int]
    """The paired verdicts: ``both_pass``, ``judge_only`` (it passed what people failed),
    ``person_only`` (it failed what people passed), ``both_fail``."""
    bias: Bias | None
    """``lenient``, ``strict`` or ``none`` (no significant lean); None without labels."""
    bias_p: float | None
    """The exact McNemar p-value behind ``bias``."""
    labels_needed: int | None
    """Labels that would make the interval ``width`` wide, if agreement stays as it is;
    None when it cannot be estimated (no disagreement yet, or kappa undefined)."""
    width: float
    """The interval width ``labels_needed`` aims at."""
    trusted: bool
    """Whether verdicts may rest on it."""
    reason: str
    """Why it is trusted or not, in one line."""


class CalibrationReport(FrozenRecord):
    """Every judge of a run measured against the suites' labels."""

    version: Literal[1] = 1
    """Version of this record's shape."""
    threshold: float
    """The lower bound of kappa's interval a trusted judge reaches."""
    min_labels: int
    """The fewest labels a trusted judge has."""
    width: float
    """The interval width ``labels_needed`` aims at."""
    confidence: float
    """Two-sided confidence level of the intervals."""
    seed: int
    """Seed of the bootstrap."""
    resamples: int
    """Bootstrap resamples per judge."""
    judges: list[JudgeCalibration]
    """One per judge the run used, by name."""
    problems: list[str]
    """One located line per label that was not applied."""
    unlabelled: int
    """Judged outputs no label covers yet."""

    def find(self, judge: str) -> JudgeCalibration | None:
        """The calibration of the judge with this name, if the report has it."""
        return next((j for j in self.judges if j.judge == judge), None)

    def trusts(self, judge: str) -> bool:
        """Whether verdicts may rest on the named judge."""
        found = self.find(judge)
        return found is not None and found.trusted

    def why(self, judge: str) -> str:
        """Why the named judge is trusted or not."""
        found = self.find(judge)
        return found.reason if found is not None else "not trusted: no labels yet"


def calibrate(
    cases: Sequence[CaseResult],
    labels: Mapping[str, LabelsFile],
    case_ids: Mapping[str, Collection[str]] | None = None,
    *,
    threshold: float = DEFAULT_KAPPA_THRESHOLD,
    width: float = DEFAULT_WIDTH,
    confidence: float = 0.95,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
) -> CalibrationReport:
    """Measure every judge of ``cases`` against the labels of their suites.

    Args:
        cases: A run's case results.
        labels: Each suite's labels, by suite path as the results name it.
        case_ids: Each suite's case ids as its file has them, to tell a label of an
            unknown case from one of a case that did not run; None takes the results'.
        threshold: The lower bound of kappa's interval a trusted judge reaches.
        width: The interval width the labels-needed figure aims at.
        confidence: Two-sided confidence level of the intervals.
        seed: Seed of the bootstrap.
        resamples: Bootstrap resamples per judge.
    """
    judged = list(judged_outputs(cases))
    ran: dict[str, set[str]] = {}
    for case in cases:
        ran.setdefault(case.suite_path, set()).add(case.case_id)
    pairs: dict[str, dict[tuple[str, LabelKey], tuple[bool, bool]]] = {}
    judges: dict[str, Judge] = {}
    for item in judged:
        judges.setdefault(item.judge.id, item.judge)
        pairs.setdefault(item.judge.id, {})
    problems: list[str] = []
    labelled: set[tuple[str, LabelKey]] = set()
    for suite_path, found in sorted(labels.items()):
        problems += found.problems
        outputs = [j for j in judged if j.suite_path == suite_path]
        known = case_ids.get(suite_path) if case_ids is not None else None
        for placed in found.labels:
            matches = _apply(placed, found.path, outputs, known, ran.get(suite_path, set()))
            if isinstance(matches, str):
                problems.append(matches)
                continue
            for item in matches:
                labelled.add((suite_path, item.key))
                pairs[item.judge.id][(suite_path, item.key)] = (placed.label.passed, item.passed)
    report = [
        _judge_calibration(
            judges[name], list(pairs[name].values()), threshold, width, confidence, seed, resamples
        )
        for name in sorted(judges)
    ]
    unlabelled = len({(j.suite_path, j.key) for j in judged} - labelled)
    return CalibrationReport(
        threshold=threshold,
        min_labels=MIN_TRUSTED_LABELS,
        width=width,
        confidence=confidence,
        seed=seed,
        resamples=resamples,
        judges=report,
        problems=problems,
        unlabelled=unlabelled,
    )


def _apply(
    placed: PlacedLabel,
    path: str,
    outputs: Sequence[JudgedOutput],
    known: Collection[str] | None,
    ran: Collection[str],
) -> list[JudgedOutput] | str:
    """The judged outputs a label applies to, or the located line saying why none."""
    label, where = placed.label, f"{path}:{placed.line}"
    if label.case not in (known if known is not None else ran):
        return f"{where}: case: unknown case {label.case!r}; expected a case id of the suite"
    if label.case not in ran:
        return []  # the case did not run this time: the label waits for a run that has it
    of_case = [o for o in outputs if o.case_id == label.case]
    checks = sorted({o.check for o in of_case})
    if label.check not in checks:
        expected = ", ".join(repr(c) for c in checks) or "none: it has no model-graded check"
        return (
            f"{where}: check: case {label.case!r} has no model-graded check {label.check!r};"
            f" expected one of: {expected}"
        )
    same = [o for o in of_case if o.check == label.check and o.output_digest == label.output_digest]
    if not same:
        return (
            f"{where}: output_digest: no output of case {label.case!r} in these results has"
            f" digest {label.output_digest} (the output changed since it was labelled);"
            " expected a label of a current output: review it again"
        )
    judged_on = same[0].judge.rubric
    if label.rubric is not None and label.rubric != judged_on:
        return (
            f"{where}: rubric: labelled against another rubric than check {label.check!r} has"
            " now; expected the current rubric: review it again"
        )
    return same


def _judge_calibration(
    judge: Judge,
    pairs: Sequence[tuple[bool, bool]],
    threshold: float,
    width: float,
    confidence: float,
    seed: int,
    resamples: int,
) -> JudgeCalibration:
    confusion = Confusion.of([p for p, _ in pairs], [j for _, j in pairs])
    interval = kappa_interval(confusion, resamples=resamples, confidence=confidence, seed=seed)
    bias, p_value = bias_direction(confusion) if pairs else (None, None)
    kappa, low, high = (_tidy(v) for v in (interval.kappa, interval.ci_low, interval.ci_high))
    figures = (
        f"kappa {kappa:.2f} ({confidence:.0%} CI {low:.2f} to {high:.2f}) on {confusion.n} labels"
        if kappa is not None and low is not None and high is not None
        else ""
    )
    trusted, reason = _trust(confusion, low, threshold, figures)
    return JudgeCalibration(
        judge=judge.id,
        grader=judge.grader,
        check_type=judge.check_type,
        rubric=judge.rubric,
        n=confusion.n,
        agreement=confusion.agreement if pairs else None,
        kappa=kappa,
        ci_low=low,
        ci_high=high,
        confusion=confusion.to_dict(),
        bias=bias,
        bias_p=p_value,
        labels_needed=labels_needed(confusion, width, confidence) if pairs else None,
        width=width,
        trusted=trusted,
        reason=reason,
    )


def _trust(
    confusion: Confusion, low: float | None, threshold: float, figures: str
) -> tuple[bool, str]:
    """Whether verdicts may rest on a judge with these figures, and why (not)."""
    judge_passed = confusion.both_pass + confusion.judge_only
    if confusion.n == 0:
        return False, "not trusted: no labels yet"
    if low is None:
        return False, (
            f"not trusted: kappa is undefined on {confusion.n} labels (the judge and the people"
            " gave every output one verdict); label outputs of both kinds"
        )
    if judge_passed in (0, confusion.n):
        verdict = "pass" if judge_passed else "fail"
        return False, f"not trusted: {figures}; it said {verdict} to every output"
    if confusion.n < MIN_TRUSTED_LABELS:
        return False, f"not trusted: {figures}, fewer than {MIN_TRUSTED_LABELS}"
    if low < threshold:
        return False, f"not trusted: {figures}; the lower bound is under {threshold:g}"
    return True, f"trusted: {figures}; the lower bound reaches {threshold:g}"


def _tidy(value: float | None) -> float | None:
    """A figure without float noise: a kappa of exactly 0 computed as -1e-17 reads 0.0."""
    return None if value is None else round(value, 12) + 0.0


def case_rests_on(case: CaseResult, report: CalibrationReport) -> str | None:
    """Why a case's verdict is not to be trusted, or None when it is.

    A verdict rests on an untrusted judge when passing or failing every check of such
    judges (weight above 0) would change it: a case that fails a trusted check whatever
    the judge says does not rest on the judge, nor does an errored case (it has no verdict).
    """
    if case.error is not None:
        return None
    untrusted: dict[str, str] = {}
    bounds = []
    for repeat in case.repeats:
        low, high = [], []
        for name, check in zip(check_names(repeat.checks), repeat.checks, strict=True):
            judge = judge_of(check)
            if judge is None or check.weight <= 0 or report.trusts(judge.id):
                low.append(check)
                high.append(check)
                continue
            untrusted.setdefault(judge.id, name)
            low.append(replace(check, passed=False, score=0.0))
            high.append(replace(check, passed=True, score=1.0))
        bounds.append((outcome(low, case.threshold), outcome(high, case.threshold)))
    if not untrusted:
        return None
    verdicts = [
        reduce_repeats(
            [side[i][0] for side in bounds],
            [side[i][1] for side in bounds],
            case.reducer,
            case.min_pass_rate,
        ).passed
        for i in (0, 1)
    ]
    if verdicts[0] == verdicts[1]:
        return None
    return _judges_text(untrusted, report)


def gate_rests_on(cases: Iterable[CaseResult], report: CalibrationReport) -> str | None:
    """Why a suite gate's verdict is not to be trusted, or None: its cases' scores count a
    check (weight above 0) of a judge that is not trusted."""
    untrusted: dict[str, str] = {}
    for case in cases:
        for repeat in case.repeats:
            for name, check in zip(check_names(repeat.checks), repeat.checks, strict=True):
                judge = judge_of(check)
                if judge is not None and check.weight > 0 and not report.trusts(judge.id):
                    untrusted.setdefault(judge.id, name)
    return _judges_text(untrusted, report) if untrusted else None


def _judges_text(untrusted: Mapping[str, str], report: CalibrationReport) -> str:
    return "; ".join(
        f"rests on {judge} ({check}), {report.why(judge)}" for judge, check in untrusted.items()
    )
