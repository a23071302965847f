"""The verdict on the advice: the fine-tuned model against the best prompt, paired on test.

Pure Python over per-case test results (``promptsuite.optimize.CaseScore`` as dicts, the
runner's figures): the paired bootstrap interval of the mean per-case gain
(:func:`promptsuite.stats.paired_bootstrap`), the exact McNemar p-value of the flips, the
cases fixed and broken, and a per-tag table. The advice to fine-tune is *confirmed* when the
interval's lower bound is above zero, *refuted* when its upper bound is at or below zero,
and *inconclusive* otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from promptsuite.stats import mcnemar_exact, paired_bootstrap

__all__ = ["Outcome", "compare_arms", "per_tag", "verdict_of"]

Outcome = Literal["confirmed", "refuted", "inconclusive"]
Scores = Sequence[Mapping[str, Any]]


def _score(case: Mapping[str, Any]) -> float:
    scores = case.get("scores") or [0.0]
    return float(sum(scores) / len(scores))


def _passed(case: Mapping[str, Any]) -> bool:
    passes = case.get("passes") or []
    return bool(passes) and all(passes)


def compare_arms(
    reference: Scores, candidate: Scores, *, seed: int = 0, resamples: int = 10_000
) -> dict[str, Any]:
    """``candidate`` against ``reference`` on the cases both have, paired by case id.

    Returns:
        Mean scores and pass rates of both, the mean gain with its 95% interval, the McNemar
        p-value, and the case ids fixed (fail -> pass) and broken (pass -> fail).

    Raises:
        ValueError: The two share no case.
    """
    by_id = {c["case_id"]: c for c in candidate}
    pairs = [(r, by_id[r["case_id"]]) for r in reference if r["case_id"] in by_id]
    if not pairs:
        raise ValueError("the two arms share no test case")
    before = [_score(r) for r, _ in pairs]
    after = [_score(c) for _, c in pairs]
    boot = paired_bootstrap(before, after, seed=seed, resamples=resamples)
    fixed = [r["case_id"] for r, c in pairs if not _passed(r) and _passed(c)]
    broken = [r["case_id"] for r, c in pairs if _passed(r) and not _passed(c)]
    return {
        "n_cases": len(pairs),
        "reference_score": round(sum(before) / len(before), 6),
        "candidate_score": round(sum(after) / len(after), 6),
        "reference_pass_rate": round(sum(_passed(r) for r, _ in pairs) / len(pairs), 6),
        "candidate_pass_rate": round(sum(_passed(c) for _, c in pairs) / len(pairs), 6),
        "gain": round(boot.mean_diff, 6),
        "ci_low": round(boot.ci_low, 6),
        "ci_high": round(boot.ci_high, 6),
        "p_value_mcnemar": round(mcnemar_exact(len(broken), len(fixed)), 6),
        "fixed": fixed,
        "broken": broken,
    }


def verdict_of(comparison: Mapping[str, Any]) -> Outcome:
    """Confirmed when the gain's interval is above 0, refuted when it is at or below 0."""
    if comparison["ci_low"] > 0:
        return "confirmed"
    if comparison["ci_high"] <= 0:
        return "refuted"
    return "inconclusive"


def per_tag(arms: Mapping[str, Scores]) -> list[dict[str, Any]]:
    """One row per tag: cases, and each arm's mean score over the tag's cases."""
    tags: dict[str, set[str]] = {}
    for scores in arms.values():
        for case in scores:
            for tag in case.get("tags") or ["(untagged)"]:
                tags.setdefault(tag, set()).add(case["case_id"])
    rows = []
    for tag in sorted(tags):
        row: dict[str, Any] = {"tag": tag, "cases": len(tags[tag])}
        for name, scores in arms.items():
            mine = [_score(c) for c in scores if c["case_id"] in tags[tag]]
            row[name] = round(sum(mine) / len(mine), 4) if mine else None
        rows.append(row)
    return rows
