"""The verdict on the advice: the fine-tuned model against the best prompt, paired on test.

Pure Python over per-case test results (:class:`promptsuite.optimize.CaseScore`, the
runner's figures): the paired bootstrap interval of the mean per-case gain
(:func:`promptsuite.stats.paired_bootstrap`), the exact McNemar p-value of the flips, the
cases fixed and broken, and a per-tag table. The advice to fine-tune is *confirmed* when the
interval's lower bound is above zero, *refuted* when its upper bound is at or below zero,
and *inconclusive* otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from promptsuite.finetune._record import AdviceFinding, ArmComparison, ArmName, TagRow
from promptsuite.optimize import CaseScore, mean
from promptsuite.stats import mcnemar_exact, paired_bootstrap

__all__ = ["FINETUNE_ADVICE", "compare_arms", "per_tag", "verdict_of"]

#: The optimizer's verdicts that advise fine-tuning (now, or once enough labels are in): a
#: fine-tune confirms or refutes only these; after any other the finding is fine-tuning
#: against prompting, no more.
FINETUNE_ADVICE = frozenset({"plateau-finetune", "plateau-collect"})


def compare_arms(
    reference: Sequence[CaseScore],
    candidate: Sequence[CaseScore],
    *,
    seed: int = 0,
    resamples: int = 10_000,
) -> ArmComparison:
    """``candidate`` against ``reference`` on the cases both have, paired by case id.

    Raises:
        ValueError: The two share no case.
    """
    by_id = {c.case_id: c for c in candidate}
    pairs = [(r, by_id[r.case_id]) for r in reference if r.case_id in by_id]
    if not pairs:
        raise ValueError("the two arms share no test case")
    before = [r.score for r, _ in pairs]
    after = [c.score for _, c in pairs]
    boot = paired_bootstrap(before, after, seed=seed, resamples=resamples)
    fixed = [r.case_id for r, c in pairs if not r.passed and c.passed]
    broken = [r.case_id for r, c in pairs if r.passed and not c.passed]
    return ArmComparison(
        n_cases=len(pairs),
        reference_score=round(mean(before), 6),
        candidate_score=round(mean(after), 6),
        reference_pass_rate=round(sum(r.passed for r, _ in pairs) / len(pairs), 6),
        candidate_pass_rate=round(sum(c.passed for _, c in pairs) / len(pairs), 6),
        gain=round(boot.mean_diff, 6),
        ci_low=round(boot.ci_low, 6),
        ci_high=round(boot.ci_high, 6),
        p_value_mcnemar=round(mcnemar_exact(len(broken), len(fixed)), 6),
        fixed=fixed,
        broken=broken,
    )


def verdict_of(comparison: ArmComparison) -> AdviceFinding:
    """Confirmed when the gain's interval is above 0, refuted when it is at or below 0."""
    if comparison.ci_low > 0:
        return "confirmed"
    if comparison.ci_high <= 0:
        return "refuted"
    return "inconclusive"


def per_tag(arms: Mapping[ArmName, Sequence[CaseScore]]) -> list[TagRow]:
    """One row per tag: cases, and each arm's mean score over the tag's cases."""
    tags: dict[str, set[str]] = {}
    for scores in arms.values():
        for case in scores:
            for tag in case.tags or ["(untagged)"]:
                tags.setdefault(tag, set()).add(case.case_id)
    rows = []
    for tag in sorted(tags):
        means: dict[str, float | None] = {}
        for name, scores in arms.items():
            mine = [c.score for c in scores if c.case_id in tags[tag]]
            means[name] = round(mean(mine), 4) if mine else None
        rows.append(TagRow.model_validate({"tag": tag, "cases": len(tags[tag]), **means}))
    return rows
