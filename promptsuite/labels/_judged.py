"""What the judges of a run judged: each model-graded check on each output, as a person
would review it.

A judge is a grader model x a check type x a rubric (:class:`Judge`). Each output a judge
passed or failed is a :class:`JudgedOutput`, keyed as a label is: the case, the check's
name within the case (:func:`check_names`) and a digest of the output.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptsuite.gate import digest
from promptsuite.labels._file import LabelKey
from promptsuite.results import CaseResult, CheckResult, RepeatResult


@dataclass(frozen=True)
class Judge:
    """A grader model judging one check type against one rubric.

    Attributes:
        grader: The grader model's name.
        check_type: The check type as written (``judge``, ``not-g-eval``...).
        rubric: What it judges on (empty for types with fixed instructions).
    """

    grader: str
    check_type: str
    rubric: str

    @property
    def id(self) -> str:
        """``judge@local#1a2b3c4d``: the type, the grader and a digest of the rubric."""
        return f"{self.check_type}@{self.grader}#{digest(self.rubric)[:8]}"


@dataclass(frozen=True)
class JudgedOutput:
    """One output a judge passed or failed.

    Attributes:
        suite: Suite name.
        suite_path: Suite file, as the run names it.
        case_id: The case.
        model: The model that wrote the output.
        variant: The prompt variant.
        repeat: The repeat index.
        check: The check's name within the case (what a label names).
        output: The text judged: the reply (a conversation's turn reply for a check of
            a turn, the whole transcript's replies for the case's own checks).
        context: What the model was sent and said before, as ``[role, content]`` pairs.
        judge: Who judged.
        passed: The judge's verdict (after negation).
        score: The check's score.
        reason: The check's one-line reason, the grader's own words included.
        weight: The check's weight in the case's score.
    """

    suite: str
    suite_path: str
    case_id: str
    model: str
    variant: str
    repeat: int
    check: str
    output: str
    context: tuple[tuple[str, str], ...]
    judge: Judge
    passed: bool
    score: float
    reason: str
    weight: float

    @property
    def output_digest(self) -> str:
        """The digest of :attr:`output`."""
        return digest(self.output)

    @property
    def key(self) -> LabelKey:
        """What a label of this output names."""
        return (self.case_id, self.check, self.output_digest)


def check_names(checks: Sequence[CheckResult]) -> list[str]:
    """Each check's name within its case, in order: its metric, else its type, with
    ``turn N:`` before a check of a conversation's turn and ``#2``, ``#3`` after a name
    the case uses again (so adding a check never renames an earlier one)."""
    seen: dict[str, int] = {}
    names = []
    for check in checks:
        name = check.metric or check.type
        if check.turn is not None:
            name = f"turn {check.turn}: {name}"
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return names


def judge_of(check: CheckResult) -> Judge | None:
    """The judge of a model-graded check's result; None for any other check."""
    if check.grader is None:
        return None
    return Judge(check.grader, check.type, check.rubric or "")


def judged_outputs(cases: Sequence[CaseResult]) -> Iterator[JudgedOutput]:
    """Every model-graded check's verdict in the cases, in the cases' order (errored
    repeats, which were never judged, are left out)."""
    for case in cases:
        for repeat in case.repeats:
            if repeat.error is not None:
                continue
            names = check_names(repeat.checks)
            for name, check in zip(names, repeat.checks, strict=True):
                judge = judge_of(check)
                if judge is None:
                    continue
                output, context = _judged_text(case, repeat, check.turn)
                yield JudgedOutput(
                    suite=case.suite,
                    suite_path=case.suite_path,
                    case_id=case.case_id,
                    model=case.model,
                    variant=case.variant,
                    repeat=repeat.index,
                    check=name,
                    output=output,
                    context=context,
                    judge=judge,
                    passed=check.passed,
                    score=check.score,
                    reason=check.reason,
                    weight=check.weight,
                )


def _judged_text(
    case: CaseResult, repeat: RepeatResult, turn: int | None
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The text a check judged, and what came before it."""
    if repeat.transcript is None:
        return repeat.output, tuple(_pair(m) for m in case.messages)
    if turn is None:  # the case's own checks judge every reply, after the whole exchange
        prompt = [e for e in repeat.transcript if not _reply(e)]
        return repeat.output, tuple(_pair(m) for m in prompt)
    entries = [e for e in repeat.transcript if e.get("turn") is None or e["turn"] <= turn]
    replies = [e for e in entries if e.get("turn") == turn and _reply(e)]
    reply = str(replies[-1].get("content") or "") if replies else ""
    context = [e for e in entries if not (e.get("turn") == turn and _reply(e))]
    return reply, tuple(_pair(m) for m in context)


def _reply(entry: Mapping[str, Any]) -> bool:
    """Whether a transcript entry is a reply the model wrote during the conversation."""
    return entry.get("turn") is not None and entry.get("role") == "assistant"


def _pair(message: Mapping[str, Any]) -> tuple[str, str]:
    return str(message.get("role", "")), str(message.get("content") or "")
