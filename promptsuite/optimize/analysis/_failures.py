"""Where prompting fails on the held-out cases, and whether it is the format or the knowledge.

Each test case the best candidate fails is read against the suite (``docs/optimize.md``,
"Format or knowledge"):

* a check every case of the suite carries states the task's format (``word-count``,
  ``starts-with``, a shared ``regex``...); a check only some cases carry states that case's
  answer (its ``equals`` label, its ``json-field`` value);
* **format**: only format checks failed, or the answer checks failed but the reply contains
  the case's reference answer (the right content in the wrong shape: "The order number is
  90817." for ``90817``);
* **knowledge**: an answer check failed and the reply does not hold the reference (the
  right shape, the wrong content: ``card_arrival`` for ``card_delivery_estimate``);
* **unknown**: an answer check failed and the case has no reference to compare with.

The verdict separates "fix the prompt's format" from "the model lacks the knowledge" with
these counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from promptsuite.optimize._records import CaseScore, OptimizationRun, mean
from promptsuite.references import Reference

if TYPE_CHECKING:
    from promptsuite.suite import Suite

FailureKind = Literal["format", "knowledge", "unknown"]
"""Why a held-out case failed; see the module docs."""

#: Failing cases, checks and tags named in the verdict.
SHOWN = 5


@dataclass(frozen=True)
class FailureSummary:
    """The best candidate's failures on the held-out cases.

    Attributes:
        source: ``test`` (the verification run) or ``val`` when no test results exist.
        failing: Cases it failed.
        kinds: Failing cases per kind (``format``, ``knowledge``, ``unknown``).
        case_kinds: Each failing case's kind.
        checks: How often each check failed, most often first (``type (metric)``).
        tags: The lowest-scoring tags, ``(tag, mean score, cases)``, lowest first.
        examples: Up to :data:`SHOWN` failing cases: ``(case id, kind, output, reference)``.
    """

    source: str
    failing: int
    kinds: dict[str, int]
    case_kinds: dict[str, str]
    checks: tuple[tuple[str, int], ...]
    tags: tuple[tuple[str, float, int], ...]
    examples: tuple[tuple[str, str, str, str | None], ...]

    @property
    def dominant(self) -> FailureKind | None:
        """``format`` when it explains at least half the failing cases and at least as many
        as ``knowledge``; else ``knowledge`` when there is any; else None.

        A failure of unknown kind (an answer check failed on a case with no reference to
        compare with) may be either, so ``format`` must outweigh those too: a few replies
        that are too long do not make an open-ended task a format problem.
        """
        format_, knowledge = self.kinds.get("format", 0), self.kinds.get("knowledge", 0)
        if not format_ and not knowledge:
            return None
        if format_ >= knowledge + self.kinds.get("unknown", 0):
            return "format"
        return "knowledge" if knowledge else None

    def lines(self) -> tuple[str, ...]:
        """The evidence, in words, for the verdict."""
        if not self.failing:
            return ()
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.kinds.items()) if n)
        out = [
            f"the best prompt fails {self.failing} {self.source} cases: {kinds} (format: the "
            "right content in the wrong shape; knowledge: the right shape, the wrong content)"
        ]
        if self.checks:
            shown = ", ".join(f"{name} x{n}" for name, n in self.checks[:SHOWN])
            out.append(f"checks that keep failing: {shown}")
        if self.tags:
            shown = ", ".join(f"{t} {s:.2f} ({n} cases)" for t, s, n in self.tags[:SHOWN])
            out.append(f"lowest tags on {self.source}: {shown}")
        for case_id, kind, output, reference in self.examples[:3]:
            wanted = f", expected {reference!r}" if reference is not None else ""
            out.append(f"e.g. {case_id} ({kind}): replied {_short(output)!r}{wanted}")
        return tuple(out)


def summarize_failures(
    run: OptimizationRun,
    best_index: int,
    references: Mapping[str, Reference],
    suite: Suite | None,
) -> FailureSummary:
    """Classify the best candidate's failing held-out cases (validation when untested)."""
    tested = run.test_results.get(best_index)
    if tested is not None:
        source, scores = "test", tested
    else:
        source = "val"
        scores = next((c.cases for c in run.candidates if c.index == best_index), [])
    answer_checks = _answer_checks(suite)
    failing = [s for s in scores if not s.passed]
    case_kinds: dict[str, str] = {}
    checks: Counter[str] = Counter()
    for score in failing:
        checks.update(score.failed_checks)
        reference = references.get(score.case_id)
        case_kinds[score.case_id] = _kind(score, answer_checks.get(score.case_id), reference)
    kinds = Counter(case_kinds.values())
    examples = tuple(
        (
            s.case_id,
            case_kinds[s.case_id],
            s.output,
            references[s.case_id].output if s.case_id in references else None,
        )
        for s in failing[:SHOWN]
    )
    return FailureSummary(
        source=source,
        failing=len(failing),
        kinds={k: kinds.get(k, 0) for k in ("format", "knowledge", "unknown")},
        case_kinds=case_kinds,
        checks=tuple(checks.most_common()),
        tags=_lowest_tags(scores),
        examples=examples,
    )


def _answer_checks(suite: Suite | None) -> dict[str, frozenset[str]]:
    """Per case, the names of its checks that not every case carries (its answer)."""
    if suite is None or not suite.cases:
        return {}
    keys = {
        case.id: {(spec.type, repr(spec.model_dump())): spec for spec in case.expect}
        for case in suite.cases
    }
    shared = set.intersection(*(set(k) for k in keys.values()))
    return {
        case_id: frozenset(
            f"{spec.type} ({spec.metric})" if spec.metric else spec.type
            for key, spec in specs.items()
            if key not in shared
        )
        for case_id, specs in keys.items()
    }


def _kind(score: CaseScore, answer: frozenset[str] | None, reference: Reference | None) -> str:
    failed = set(score.failed_checks)
    if answer is not None and failed and not failed & answer:
        return "format"
    if reference is None:
        return "unknown"
    if _norm(reference.output) and _norm(reference.output) in _norm(score.output):
        return "format"
    return "knowledge"


def _lowest_tags(scores: Sequence[CaseScore]) -> tuple[tuple[str, float, int], ...]:
    by_tag: dict[str, list[float]] = {}
    for score in scores:
        for tag in score.tags:
            by_tag.setdefault(tag, []).append(score.score)
    everywhere = {t for t, v in by_tag.items() if len(v) == len(scores)}
    rows = [(t, mean(v), len(v)) for t, v in by_tag.items() if t not in everywhere]
    return tuple(sorted(rows, key=lambda r: (r[1], r[0]))[:SHOWN])


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _short(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
