"""Consistency: how often the model passes a case when asked again, from the sampling stage.

The sampling stage (:mod:`promptsuite.optimize.search._sampling`) asked the task model for
one reply at the suite's own temperature and K more at a sampling temperature, for each train
case without a reference answer. Read together they say what prompting leaves behind:

* **pass@1**: the share of cases whose reply at the suite's temperature passed (what a
  ``pytest`` run sees);
* **pass@k**: the share of cases with at least one passing sample among the K;
* **per-sample pass rate**: the share of all samples that passed, and each case's own rate
  over its K samples (Wilson intervals).

A case that passes **sometimes** is where demos and fine-tuning help (the model can produce
the reply; it does not do so reliably). A case that **never** passes in K samples is a gap
(the model cannot produce it from this prompt). Per tag, a high share of never-passing cases
points to a missing capability or knowledge for that kind of case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptsuite.optimize._records import SampledCase, Sampling
from promptsuite.stats import wilson_interval

__all__ = ["GAP_SHARE", "CaseConsistency", "Consistency", "ConsistencyRow", "consistency"]

#: Share of sampled cases that never pass in K samples from which the advice calls it a
#: capability or knowledge gap (and names each tag above it).
GAP_SHARE = 0.5
#: Tags named in the evidence lines.
SHOWN = 3


@dataclass(frozen=True)
class ConsistencyRow:
    """The consistency figures of a group of sampled cases (all of them, or one tag).

    Attributes:
        group: ``all``, or the tag.
        cases: Sampled cases in the group.
        greedy_passed: Cases whose reply at the suite's temperature passed.
        greedy_cases: Cases with such a reply (one that did not error).
        any_passed: Cases with at least one passing sample (pass@k's numerator).
        sample_passes: Samples that passed, over every case.
        sample_total: Samples taken, over every case.
        always: Cases whose every sample passed.
        sometimes: Cases some samples passed and some failed.
        never: Cases no sample passed.
    """

    group: str
    cases: int
    greedy_passed: int
    greedy_cases: int
    any_passed: int
    sample_passes: int
    sample_total: int
    always: int
    sometimes: int
    never: int

    @property
    def pass_at_1(self) -> float:
        """pass@1 at the suite's temperature."""
        return self.greedy_passed / self.greedy_cases if self.greedy_cases else 0.0

    @property
    def pass_at_1_interval(self) -> tuple[float, float]:
        """Its Wilson 95% interval."""
        return wilson_interval(self.greedy_passed, self.greedy_cases)

    @property
    def pass_at_k(self) -> float:
        """Share of cases with a passing sample."""
        return self.any_passed / self.cases if self.cases else 0.0

    @property
    def pass_at_k_interval(self) -> tuple[float, float]:
        """Its Wilson 95% interval."""
        return wilson_interval(self.any_passed, self.cases)

    @property
    def sample_rate(self) -> float:
        """Share of samples that passed."""
        return self.sample_passes / self.sample_total if self.sample_total else 0.0

    @property
    def sample_interval(self) -> tuple[float, float]:
        """Its Wilson 95% interval (samples of one case are not independent: a guide)."""
        return wilson_interval(self.sample_passes, self.sample_total)


@dataclass(frozen=True)
class CaseConsistency:
    """One sampled case: its reply at the suite's temperature and its samples.

    Attributes:
        case_id: The case.
        tags: Its tags.
        greedy_passed: Whether the reply at the suite's temperature passed (None: errored).
        passes: Samples that passed.
        samples: Samples taken.
        reference: Where its reference came from (``sampled``, ``teacher``), None if none.
    """

    case_id: str
    tags: tuple[str, ...]
    greedy_passed: bool | None
    passes: int
    samples: int
    reference: str | None

    @property
    def rate(self) -> float:
        """Its pass rate over the samples."""
        return self.passes / self.samples if self.samples else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """The Wilson 95% interval of that rate."""
        return wilson_interval(self.passes, self.samples)

    @property
    def status(self) -> str:
        """``always`` (every sample and the reply at the suite's temperature passed),
        ``never`` (none of them did) or ``sometimes``."""
        if self.samples and self.passes == self.samples and self.greedy_passed is not False:
            return "always"
        return "sometimes" if self.passes or self.greedy_passed else "never"


@dataclass(frozen=True)
class Consistency:
    """The sampling stage read as consistency, overall and per tag.

    Attributes:
        model: The task model sampled.
        samples: Samples drawn per case (K, or fewer when the stage settled a gap early).
        temperature: Their temperature.
        overall: Every sampled case.
        tags: One row per tag, the most never-passing share first.
        cases: Every sampled case, least consistent first.
        teacher: The teacher model, if one was asked.
        teacher_solved: Cases only the teacher produced a passing reply for.
    """

    model: str
    samples: int
    temperature: float
    overall: ConsistencyRow
    tags: tuple[ConsistencyRow, ...]
    cases: tuple[CaseConsistency, ...]
    teacher: str | None = None
    teacher_solved: int = 0

    @property
    def in_samples(self) -> str:
        """``in 4 samples`` (``in 1 sample``): how many each case was asked, in words."""
        return f"in {self.samples} sample" + ("" if self.samples == 1 else "s")

    @property
    def gap(self) -> bool:
        """Whether at least :data:`GAP_SHARE` of the sampled cases never passed."""
        overall = self.overall
        return overall.cases > 0 and overall.never >= GAP_SHARE * overall.cases

    def gap_tags(self) -> tuple[ConsistencyRow, ...]:
        """The tags where at least :data:`GAP_SHARE` of the cases never passed."""
        return tuple(r for r in self.tags if r.cases and r.never >= GAP_SHARE * r.cases)

    def lines(self) -> tuple[str, ...]:
        """The evidence, in words."""
        o = self.overall
        low, high = o.sample_interval
        out = [
            f"consistency on {o.cases} sampled train cases ({self.model}): pass@1 "
            f"{o.pass_at_1:.0%} at the suite's temperature, pass@{self.samples} "
            f"{o.pass_at_k:.0%} and {o.sample_rate:.0%} of samples passing "
            f"(95% CI {low:.0%}-{high:.0%}) at temperature {self.temperature:g}; "
            f"{o.sometimes} cases pass only sometimes (demos and fine-tuning help), "
            f"{o.never} never (a gap)"
        ]
        if o.never:
            shown = self.gap_tags()[:SHOWN] or self.tags[:1]
            for row in shown:
                if row.never:
                    out.append(
                        f"{self.in_samples} the model never produced a passing reply "
                        f"for {row.never} of {row.cases} train cases tagged {row.group}"
                    )
            if not self.tags:
                out.append(
                    f"{self.in_samples} the model never produced a passing reply for "
                    f"{o.never} of {o.cases} train cases"
                )
        if self.teacher is not None:
            out.append(
                f"the teacher ({self.teacher}) produced a passing reply for "
                f"{self.teacher_solved} of the cases the model never passed"
            )
        return tuple(out)


def consistency(sampling: Sampling | None) -> Consistency | None:
    """The consistency figures of a sampling stage (None without one, or with no case)."""
    if sampling is None or not sampling.cases:
        return None
    cases = [_case(c) for c in sampling.cases]
    tags = sorted({t for c in cases for t in c.tags})
    rows = [_row(tag, [c for c in cases if tag in c.tags]) for tag in tags]
    rows.sort(key=lambda r: (-r.never / r.cases, r.group))
    return Consistency(
        model=sampling.model,
        # The samples drawn: fewer than K when the stage settled a gap early.
        samples=max((len(c.passes) for c in sampling.cases), default=sampling.samples),
        temperature=sampling.temperature,
        overall=_row("all", cases),
        tags=tuple(rows),
        cases=tuple(sorted(cases, key=lambda c: (c.rate, c.case_id))),
        teacher=sampling.teacher,
        teacher_solved=sum(1 for c in sampling.cases if c.source == "teacher"),
    )


def _case(case: SampledCase) -> CaseConsistency:
    return CaseConsistency(
        case_id=case.case_id,
        tags=tuple(case.tags),
        greedy_passed=case.greedy_passed,
        passes=case.pass_count,
        samples=len(case.passes),
        reference=case.source,
    )


def _row(group: str, cases: Sequence[CaseConsistency]) -> ConsistencyRow:
    greedy = [c.greedy_passed for c in cases if c.greedy_passed is not None]
    statuses = [c.status for c in cases]
    return ConsistencyRow(
        group=group,
        cases=len(cases),
        greedy_passed=sum(greedy),
        greedy_cases=len(greedy),
        any_passed=sum(1 for c in cases if c.passes),
        sample_passes=sum(c.passes for c in cases),
        sample_total=sum(c.samples for c in cases),
        always=statuses.count("always"),
        sometimes=statuses.count("sometimes"),
        never=statuses.count("never"),
    )
