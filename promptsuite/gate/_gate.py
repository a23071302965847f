"""The suite gate: this run against the committed baseline, per suite x model x prompt.

Pairs each case result with its baseline entry (cases in both, errored results left out)
and asks :func:`~promptsuite.gate._decision.compare_paired` whether the suite regressed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from promptsuite.gate._baseline import Baseline, entry_key
from promptsuite.gate._decision import (
    DEFAULT_GATE_MARGIN,
    GateInconclusive,
    GateVerdict,
    compare_paired,
)
from promptsuite.results import CaseResult, RunResults


@dataclass(frozen=True)
class GateResult:
    """The gate of one suite x model x prompt variant.

    Attributes:
        suite: Suite name.
        model: Model label.
        variant: Prompt variant.
        verdict: The paired comparison and its figures.
        uncalibrated: Set when the run required calibrated judges and the cases' scores
            count a judge people have not calibrated: why. The verdict is then withheld
            and the gate is inconclusive, whatever its figures say.
    """

    suite: str
    model: str
    variant: str
    verdict: GateVerdict
    uncalibrated: str | None = None

    @property
    def decision(self) -> str:
        """The verdict as reported: ``uncalibrated`` when it is withheld, else its decision."""
        return "uncalibrated" if self.uncalibrated is not None else self.verdict.decision

    def failure(self, inconclusive: GateInconclusive = "pass") -> str | None:
        """Why this gate fails the run, or None when it does not.

        Args:
            inconclusive: Whether an inconclusive decision (an uncalibrated one too)
                passes or fails.
        """
        if self.uncalibrated is not None:
            return (
                f"suite gate: uncalibrated: {self.uncalibrated}" if inconclusive == "fail" else None
            )
        decision = self.verdict.decision
        if decision == "fail" or (decision == "inconclusive" and inconclusive == "fail"):
            return f"suite gate: {self.verdict.reason}"
        return None

    def to_dict(self) -> dict[str, Any]:
        """The results file's form: the labels and the verdict's fields, flat."""
        data = {
            "suite": self.suite,
            "model": self.model,
            "variant": self.variant,
            **self.verdict.to_dict(),
        }
        if self.uncalibrated is not None:
            data["uncalibrated"] = self.uncalibrated
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        """Read :meth:`to_dict`'s form."""
        own = ("suite", "model", "variant", "uncalibrated")
        fields = {k: v for k, v in data.items() if k not in own}
        return cls(
            str(data["suite"]),
            str(data["model"]),
            str(data["variant"]),
            GateVerdict.from_dict(fields),
            data.get("uncalibrated"),
        )


def sorted_gates(gates: Iterable[GateResult]) -> list[GateResult]:
    """The gates in the results file's order: by suite, model and prompt variant."""
    return sorted(gates, key=lambda g: (g.suite, g.model, g.variant))


def recorded_gates(run: RunResults) -> list[GateResult]:
    """The gates a results file recorded (its ``metadata.gates``)."""
    return [GateResult.from_dict(g) for g in run.metadata.get("gates") or ()]


def gate(
    baseline: Baseline, results: Iterable[CaseResult], *, margin: float = DEFAULT_GATE_MARGIN
) -> GateResult:
    """Compare the results of one suite x model x variant with the baseline.

    Args:
        baseline: The suite's committed baseline.
        results: This run's results of the suite x model x variant (at least one).
        margin: The score drop the gate tolerates.

    Raises:
        ValueError: No results were given.
    """
    results = list(results)
    if not results:
        raise ValueError("a gate needs the results of at least one case")
    pairs = []
    for result in results:
        entry = baseline.entries.get(entry_key(result))
        if entry is not None and result.error is None:
            pairs.append((entry, result))
    verdict = compare_paired(
        [e.score for e, _ in pairs],
        [r.score for _, r in pairs],
        [e.passed for e, _ in pairs],
        [r.passed for _, r in pairs],
        margin=margin,
    )
    first = results[0]
    return GateResult(first.suite, first.model, first.variant, verdict)
