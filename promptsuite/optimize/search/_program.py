"""A suite as a DSPy program: a signature, examples, and the suite's own checks as metric.

The program is one ``dspy.Predict`` whose inputs are the case vars and whose single output
is the model's reply; its instructions start as the variant's system message. The metric
runs the case's checks on the reply (:func:`promptsuite.checks.score`), so the optimizer
optimizes exactly what the tests check. Imports DSPy: load it lazily.
"""

from __future__ import annotations

import keyword
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dspy

from promptsuite.errors import ConfigError, PromptsuiteError
from promptsuite.models import Generation, ModelSpec
from promptsuite.optimize._shape import PromptShape
from promptsuite.optimize.search import _calls
from promptsuite.optimize.search._engine import Bridge
from promptsuite.suite import ResolvedCase, Suite

__all__ = [
    "CASE_FIELD",
    "RECORD_FIELD",
    "CaseOutcome",
    "Scorer",
    "TaskSpec",
    "build_student",
    "make_metric",
    "task_spec",
    "to_examples",
]

#: Label field of an example naming its case (never an input, never shown to the model).
CASE_FIELD = "promptsuite_case"
#: Field of a prediction carrying its :class:`~promptsuite.optimize._calls.CallRecord`.
RECORD_FIELD = "promptsuite_call"
_OUTPUT_NAMES = ("output", "reply", "answer", "completion")


@dataclass(frozen=True)
class TaskSpec:
    """What the DSPy program of a suite looks like.

    Attributes:
        shape: The variant the search starts from.
        input_fields: The case var names (the signature's inputs).
        output_field: The signature's one output.
        instructions: DSPy's form of an instruction -> the text as the user wrote it (DSPy
            strips instructions, and replaces an empty one with a generated sentence).
    """

    shape: PromptShape
    input_fields: tuple[str, ...]
    output_field: str
    instructions: Mapping[str, str]

    def instruction(self, dspy_text: str) -> str:
        """The instruction a candidate really has, given DSPy's form of it."""
        return self.instructions.get(dspy_text, dspy_text)

    def signature(self, instruction: str) -> Any:
        fields: dict[str, Any] = {name: dspy.InputField() for name in self.input_fields}
        fields[self.output_field] = dspy.OutputField()
        with warnings.catch_warnings():
            # A var such as ``schema`` shadows a pydantic attribute; DSPy copes and warns.
            warnings.simplefilter("ignore")
            return (
                dspy.make_signature(fields, instruction)
                if instruction
                else dspy.make_signature(fields)
            )


def task_spec(suite: Suite, shape: PromptShape) -> TaskSpec:
    """The program's fields for a suite.

    Raises:
        ConfigError: a case var name cannot be a DSPy field (not an identifier), or a case
            is a conversation.
    """
    names: dict[str, None] = {}
    for case in suite.cases:
        if case.is_conversation:
            raise ConfigError(
                f"{suite.path}:{case.line}: case {case.id!r}: the prompt search optimizes "
                "single replies; a conversation (turns) cannot be searched yet; run "
                "conversations with pytest, and export them for fine-tuning"
            )
        for name in case.vars:
            if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
                raise ConfigError(
                    f"{suite.path}:{case.line}: case {case.id!r}: var {name!r} cannot be a DSPy "
                    "input field; the optimizer needs var names that are Python identifiers "
                    "not starting with '_'"
                )
            names[name] = None
    if CASE_FIELD in names or RECORD_FIELD in names:
        raise ConfigError(
            f"{suite.path}: the var names {CASE_FIELD} and {RECORD_FIELD} are reserved"
        )
    output = next(name for name in _OUTPUT_NAMES if name not in names)
    draft = TaskSpec(shape, tuple(names), output, {})
    # Map DSPy's form of the user's instruction back to the text as written.
    dspy_form = draft.signature(shape.instruction).instructions
    return TaskSpec(shape, draft.input_fields, output, {dspy_form: shape.instruction})


def build_student(task: TaskSpec) -> Any:
    """The program the search starts from: the variant's instruction, no demos."""
    return dspy.Predict(task.signature(task.shape.instruction))


def to_examples(
    cases: Sequence[ResolvedCase], task: TaskSpec, labels: Mapping[str, str] | None = None
) -> list[Any]:
    """One DSPy example per case: the vars as inputs and the case id as a label; with
    ``labels`` (case id -> reference answer, train cases only), the answer as the output."""
    examples = []
    for case in cases:
        values = dict(case.vars)
        values[CASE_FIELD] = case.id
        if labels and case.id in labels:
            values[task.output_field] = labels[case.id]
        examples.append(dspy.Example(**values).with_inputs(*case.vars))
    return examples


@dataclass(frozen=True)
class CaseOutcome:
    """A reply scored by a case's checks."""

    score: float
    passed: bool
    output: str
    failures: tuple[str, ...]
    error: str | None = None
    failed_checks: tuple[str, ...] = ()

    def feedback(self) -> str:
        """Text feedback for reflective optimizers: what the checks said."""
        if self.error:
            return f"The reply could not be checked: {self.error}"
        if not self.failures:
            return f"The reply {self.output!r} passed every check (score {self.score:.2f})."
        reasons = "\n".join(f"- {reason}" for reason in self.failures)
        return f"The reply {self.output!r} scored {self.score:.2f}. Failed checks:\n{reasons}"


class Scorer:
    """Runs a case's checks on a reply, as the runner does."""

    def __init__(self, bridge: Bridge, suite: Suite, model: ModelSpec) -> None:
        self.bridge = bridge
        self.suite = suite
        self.model = model

    def score(
        self, case: ResolvedCase, output: str, record: _calls.CallRecord | None
    ) -> CaseOutcome:
        """Score ``output`` (with its generation, when the call record has one)."""
        generation = record.generation if record and record.generation else Generation(output)
        messages = record.messages if record else ()
        try:
            return self.bridge.call(self._score(case, output, generation, messages))
        except PromptsuiteError as exc:
            return CaseOutcome(0.0, False, output, (), error=str(exc))

    async def _score(
        self,
        case: ResolvedCase,
        output: str,
        generation: Generation,
        messages: tuple[Any, ...],
    ) -> CaseOutcome:
        from promptsuite.checks import CheckContext, score

        runner = self.bridge.runner
        grader = runner.settings.grader or self.model
        context = CheckContext(
            output=output,
            generation=generation,
            vars=case.vars,
            messages=messages,
            suite_dir=Path(self.suite.path).parent,
            grade=lambda spec, request: runner.generate(spec or grader, request),
        )
        scored = await score(case.expect, context, case.threshold)
        failed = [c for c in scored.results if not c.passed and c.weight > 0]
        return CaseOutcome(
            scored.score,
            scored.passed,
            output,
            tuple(c.reason for c in failed),
            failed_checks=tuple(c.name for c in failed),
        )


Observer = Callable[[ResolvedCase, CaseOutcome, "_calls.CallRecord | None"], None]


def make_metric(
    task: TaskSpec,
    scorer: Scorer,
    cases: Mapping[str, ResolvedCase],
    observe: Observer,
    *,
    feedback: bool = False,
) -> Callable[..., Any]:
    """The DSPy metric: the case's score (with text feedback for GEPA).

    Every scored prediction is passed to ``observe`` with the call record that produced it,
    which is how candidates are recorded as they are evaluated.
    """

    def metric(
        gold: Any,
        pred: Any,
        trace: Any = None,
        pred_name: Any = None,
        pred_trace: Any = None,
    ) -> Any:
        case = cases[gold[CASE_FIELD]]
        record = pred.get(RECORD_FIELD) if hasattr(pred, "get") else None
        if not isinstance(record, _calls.CallRecord):
            record = _calls.current()
        output = pred.get(task.output_field) if hasattr(pred, "get") else None
        outcome = scorer.score(case, "" if output is None else str(output), record)
        observe(case, outcome, record)
        if feedback:
            return dspy.Prediction(score=outcome.score, feedback=outcome.feedback())
        return outcome.score

    return metric
