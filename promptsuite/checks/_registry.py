"""The check registry: ``@check`` declares a type once, with its fields and its validator.

Everything that runs or validates checks goes through here: :func:`evaluate` runs one check
on one output, :func:`score` runs a case's checks and combines them, and
:func:`check_problems` validates a check as loaded, without running it.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from promptsuite._schema import CheckSpec
from promptsuite.checks._scripts import apply_transform, transform_problems
from promptsuite.errors import CheckError, PromptsuiteError
from promptsuite.models import (
    Embeddings,
    GenerateRequest,
    Generation,
    Message,
    ModelSpec,
    ToolCall,
    parse_model_spec,
)
from promptsuite.results import CheckResult

#: ``(field as written in YAML, or None for the whole check; what is expected)``.
Problem = tuple[str | None, str]
#: Runs a grader model: ``grade(spec, request)``; a ``None`` spec means the run's default.
GradeFn = Callable[[ModelSpec | None, GenerateRequest], Awaitable[Generation]]
#: Embeds texts: ``embed(spec, texts)``; a ``None`` spec means the run's default embedder.
EmbedFn = Callable[[ModelSpec | None, Sequence[str]], Awaitable[Embeddings]]
#: The outputs of every prompt variant of this case on this model, and this job's index
#: among them (for ``select-best``).
PeersFn = Callable[[], Awaitable[tuple[list[str], int]]]
#: How ``not-`` treats a score: ``1 - score`` (the default), or kept as it is.
Negation = Literal["invert", "keep-score"]

#: The prefix that inverts any check type.
NEGATION = "not-"
# Scores are sums of floats: compare thresholds with a little slack so 0.7 passes 0.7.
EPSILON = 1e-9
# The fields every check accepts, whatever its type.
_COMMON_FIELDS = frozenset({"type", "weight", "metric", "transform"})


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may look at.

    Attributes:
        output: The text to check.
        generation: The generation that produced it (tokens, latency).
        vars: The case's template variables.
        messages: The messages the model was sent.
        suite_dir: Directory of the suite file; ``python`` checks import from it.
        grade: Runs a grader model; ``None`` when no grader is available.
        embed: Embeds texts; ``None`` when no embedding model is available.
        peers: The outputs of the case's other prompt variants; ``None`` outside a run.
        tool_calls: The tools the model called: in this reply (a single reply, or one turn
            of a conversation with its tool round trips), or in the whole conversation for
            the case's own checks.
        tools: The tools the prompt declares (OpenAI's ``tools`` format).
        default_grader: The name of the model that grades a model-graded check without
            a ``grader`` of its own (the run's default grader, else the case's model).
    """

    output: str
    generation: Generation
    vars: Mapping[str, Any]
    messages: tuple[Message, ...]
    suite_dir: Path
    grade: GradeFn | None = None
    embed: EmbedFn | None = None
    peers: PeersFn | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tools: tuple[Mapping[str, Any], ...] = ()
    default_grader: str | None = None


@dataclass(frozen=True)
class Finding:
    """What a check's run function found, before negation.

    ``expected`` completes "expected output to ..."; ``seen`` says what was observed.
    """

    passed: bool
    score: float
    expected: str
    seen: str

    @classmethod
    def of(cls, passed: bool, expected: str, seen: str) -> Finding:
        """A pass/fail finding: score 1 when it passed, else 0."""
        return cls(passed, 1.0 if passed else 0.0, expected, seen)

    @classmethod
    def at_least(cls, score: float, needed: float, expected: str, seen: str) -> Finding:
        """A graded finding: it passes when ``score`` reaches ``needed`` (up to rounding)."""
        return cls(score >= needed - EPSILON, score, expected, seen)


Run = Callable[[CheckSpec, CheckContext], Finding | Awaitable[Finding]]
Validate = Callable[[CheckSpec], Iterator[Problem]]
#: What a model-graded check is judged on: its rubric or criteria text.
RubricOf = Callable[[CheckSpec], str]


@dataclass(frozen=True)
class CheckType:
    """A registered check type.

    Attributes:
        name: The type as written in ``expect`` (``contains``).
        run: Scores one output: ``run(spec, context) -> Finding`` (may be async).
        fields: The fields it accepts besides type, weight and metric.
        validate: Finds problems in a check as loaded: ``(field, message)`` pairs.
        summary: When it passes: the first paragraph of ``run``'s docstring, on one line.
        alias_of: For an alias (``llm-rubric``), the type it stands for.
        negation: What ``not-`` does to the score (``invert``: ``1 - score``).
        rubric_of: For a model-graded type, what a check is judged on; None for the rest.
    """

    name: str
    run: Run
    fields: frozenset[str]
    validate: Validate
    summary: str
    alias_of: str | None = None
    negation: Negation = "invert"
    rubric_of: RubricOf | None = None


@dataclass(frozen=True)
class ScoredOutput:
    """A case's checks on one output, combined.

    Attributes:
        passed: Whether the case passes (see :func:`outcome`).
        score: The weighted mean score.
        results: Every check's result, in the case's order.
    """

    passed: bool
    score: float
    results: tuple[CheckResult, ...]


_REGISTRY: dict[str, CheckType] = {}


def _no_problems(spec: CheckSpec) -> Iterator[Problem]:
    return iter(())


def check(
    name: str,
    *fields: str,
    validate: Validate = _no_problems,
    aliases: Sequence[str] = (),
    negation: Negation = "invert",
    rubric_of: RubricOf | None = None,
) -> Callable[[Run], Run]:
    """Register the decorated function as check type ``name``.

    Args:
        name: The type as written in a suite's ``expect`` list.
        *fields: The fields the type accepts (``value``, ``threshold``, ``min``, ``max``,
            ``path``, ``schema``, ``rubric``, ``grader``); any other is refused at load.
        validate: Yields ``(field, message)`` for what is wrong with a check as loaded.
        aliases: Other names for the same type.
        negation: ``keep-score`` when ``not-`` inverts the pass but keeps the score.
        rubric_of: Marks the type model-graded: what a check of it is judged on. Its
            results then name their grader and rubric (the judge people calibrate).

    The function's docstring is the type's documentation: its first paragraph says when
    the check passes. Every type may also be written with a ``not-`` prefix.

    Raises:
        ValueError: The name is taken, or the function has no docstring.
    """

    def register(run: Run) -> Run:
        doc = inspect.getdoc(run)
        if not doc:
            raise ValueError(f"check {name!r}: the run function needs a docstring")
        for taken in (name, *aliases):
            if taken in _REGISTRY or taken.startswith(NEGATION):
                raise ValueError(f"check type {taken!r} is already registered or reserved")
        summary = " ".join(doc.split("\n\n")[0].split())
        entry = CheckType(
            name, run, frozenset(fields), validate, summary, negation=negation, rubric_of=rubric_of
        )
        _REGISTRY[name] = entry
        for alias in aliases:
            _REGISTRY[alias] = replace(entry, name=alias, alias_of=name)
        return run

    return register


def known_types() -> list[str]:
    """Every check type, sorted; each may also be written with a ``not-`` prefix."""
    return sorted(_REGISTRY)


def check_types() -> list[CheckType]:
    """Every registered check type (aliases included), sorted by name."""
    return [_REGISTRY[name] for name in known_types()]


def split_type(type_: str) -> tuple[bool, str]:
    """``(negated, base type)`` of a type as written."""
    if type_.startswith(NEGATION):
        return True, type_[len(NEGATION) :]
    return False, type_


async def evaluate(spec: CheckSpec, ctx: CheckContext) -> CheckResult:
    """Run one check on one output.

    A ``transform`` on the check rewrites the output first.

    Returns:
        The scored result; a negated type has its pass inverted and score ``1 - score``
        (or kept, for types registered with ``negation="keep-score"``).

    Raises:
        CheckError: The check cannot be evaluated: unknown type, ill-typed value, a
            ``python`` function that raises or returns junk, no grader, or a grader reply
            that cannot be read.
    """
    negated, base = split_type(spec.type)
    entry = _REGISTRY.get(base)
    if entry is None:
        raise CheckError(_unknown_type_message(spec.type))
    if spec.transform is not None:
        output = await apply_transform(
            spec.transform, ctx.output, ctx.suite_dir, ctx.vars, ctx.messages
        )
        ctx = replace(ctx, output=output)
    found = entry.run(spec, ctx)
    finding = found if isinstance(found, Finding) else await found
    passed, value = finding.passed, min(1.0, max(0.0, finding.score))
    if negated:
        passed = not passed
        value = value if entry.negation == "keep-score" else 1.0 - value
    return CheckResult(
        type=spec.type,
        passed=passed,
        score=value,
        reason=f"expected output {'not ' if negated else ''}to {finding.expected}; {finding.seen}",
        weight=spec.weight,
        metric=spec.metric,
        grader=_grader_name(spec, ctx) if entry.rubric_of else None,
        rubric=entry.rubric_of(spec) if entry.rubric_of else None,
    )


def _grader_name(spec: CheckSpec, ctx: CheckContext) -> str:
    """The name of the model that graded a model-graded check."""
    if spec.grader is not None:
        try:
            return parse_model_spec(spec.grader).display
        except PromptsuiteError as err:
            raise CheckError(f"{spec.type} grader: {err}") from err
    return ctx.default_grader or "the default grader"


def outcome(results: Sequence[CheckResult], threshold: float | None) -> tuple[bool, float]:
    """Combine a case's check results, with promptfoo's rules.

    The score is the weighted mean of the check scores. Checks with ``weight: 0`` count for
    nothing: they never fail a case, and when every weight is 0 (or there are no checks)
    the score is 1.0. Without a threshold the case passes when every check with a positive
    weight passes; with one, when the score is at least the threshold.

    Returns:
        ``(passed, score)``.
    """
    total_weight = sum(r.weight for r in results)
    value = sum(r.weight * r.score for r in results) / total_weight if total_weight else 1.0
    if threshold is None:
        passed = all(r.passed for r in results if r.weight > 0)
    else:
        passed = value >= threshold - EPSILON
    return passed, value


async def score(
    specs: Sequence[CheckSpec],
    ctx: CheckContext,
    threshold: float | None,
    transform: str | None = None,
) -> ScoredOutput:
    """Run a case's checks on one output, in order, and combine them (:func:`outcome`).

    Args:
        specs: The case's checks.
        ctx: The output and what produced it.
        threshold: The case's threshold, if any.
        transform: The case's output transform, applied before every check.

    Raises:
        CheckError: A check cannot be evaluated (see :func:`evaluate`), or the transform
            failed.
    """
    if transform is not None:
        output = await apply_transform(transform, ctx.output, ctx.suite_dir, ctx.vars, ctx.messages)
        ctx = replace(ctx, output=output)
    results = tuple([await evaluate(spec, ctx) for spec in specs])
    passed, value = outcome(results, threshold)
    return ScoredOutput(passed, value, results)


def check_problems(spec: CheckSpec) -> Iterator[Problem]:
    """Find what is wrong with a check as loaded, without running it or importing user code.

    Yields:
        ``(field, message)``: the field as written in YAML (``value``, ``schema``...) or
        None for the check as a whole, and a message saying what is expected.
    """
    entry = _REGISTRY.get(split_type(spec.type)[1])
    if entry is None:
        yield "type", _unknown_type_message(spec.type)
        return
    for name in sorted(present_fields(spec) - entry.fields):
        accepted = ", ".join(sorted(entry.fields)) or "only weight and metric"
        yield name, f"{name!r} has no meaning for {spec.type}; it accepts: {accepted}"
    if spec.transform is not None:
        for message in transform_problems(spec.transform):
            yield "transform", message
    if spec.min is not None and spec.max is not None and spec.min > spec.max:
        yield "min", f"min ({spec.min:g}) is greater than max ({spec.max:g})"
    yield from entry.validate(spec)


def present_fields(spec: CheckSpec) -> set[str]:
    """The fields a check sets, as written in YAML, besides type, weight and metric."""
    present = {
        name
        for name, value in (
            ("threshold", spec.threshold),
            ("min", spec.min),
            ("max", spec.max),
            ("path", spec.path),
            ("schema", spec.json_schema),
            ("rubric", spec.rubric),
            ("grader", spec.grader),
            ("config", spec.config),
            ("assert", spec.checks),
        )
        if value is not None
    }
    if has_value(spec):
        present.add("value")
    return present - _COMMON_FIELDS


def has_value(spec: CheckSpec) -> bool:
    """Whether the check sets ``value``; ``value: null`` written out counts."""
    return spec.value is not None or "value" in spec.model_fields_set


def _unknown_type_message(type_: str) -> str:
    negated, base = split_type(type_)
    known = known_types()
    close = difflib.get_close_matches(base.lower(), known, n=1, cutoff=0.6)
    hint = f"; did you mean {(NEGATION if negated else '') + close[0]!r}?" if close else "."
    return (
        f"unknown check type {type_!r}{hint} Known types (any may be prefixed with 'not-'):"
        f" {', '.join(known)}"
    )


def uses_type(specs: Sequence[CheckSpec], types: frozenset[str]) -> bool:
    """Whether any check (or a check inside an ``assert-set``) has a base type in ``types``."""
    return any(
        split_type(spec.type)[1] in types or uses_type(spec.checks or (), types) for spec in specs
    )
