"""The check registry: every type registered once and documented, evaluation, outcomes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from promptsuite._schema import CheckSpec
from promptsuite.checks import (
    CheckResult,
    Finding,
    _registry,
    check_problems,
    check_types,
    known_types,
    outcome,
    score,
)
from promptsuite.checks import check as register_check
from promptsuite.errors import CheckError
from tests.unit.checks.check_helpers import (
    GENERATION_CASES,
    JSON_CASES,
    MARKUP_CASES,
    NESTED,
    SCHEMA,
    SIMILARITY_CASES,
    TEXT_CASES,
    TOOL_CASES,
    check,
    make_ctx,
)

# Types whose cases need a grader, an embedder, peers or code: tested in their own modules.
GRADED_OR_ASYNC_TYPES = {
    "python",
    "judge",
    "llm-rubric",
    "assert-set",
    "similar",
    "similar:cosine",
    "similar:dot",
    "similar:euclidean",
    "factuality",
    "model-graded-factuality",
    "model-graded-closedqa",
    "g-eval",
    "answer-relevance",
    "select-best",
}


def test_every_type_is_covered_and_documented() -> None:
    tables = (
        TEXT_CASES + JSON_CASES + GENERATION_CASES + MARKUP_CASES + SIMILARITY_CASES + TOOL_CASES
    )
    covered = {spec["type"] for spec, *_ in tables} | GRADED_OR_ASYNC_TYPES
    assert covered == set(known_types())
    for entry in check_types():
        assert entry.summary and "\n" not in entry.summary, entry.name
        assert entry.run.__doc__, entry.name


def test_known_types_are_sorted_with_aliases() -> None:
    types = known_types()
    assert types == sorted(types)
    assert {"llm-rubric", "contains-json", "starts-with", "regex", "judge"} <= set(types)
    assert not any(t.startswith("not-") for t in types)


@pytest.mark.parametrize(
    ("spec", "output", "fragments"),
    [
        ({"type": "contains", "value": "refund"}, "No way.", ["contain 'refund'", "'No way.'"]),
        ({"type": "regex", "value": r"\d+"}, "abc", ["match /\\d+/", "no match"]),
        ({"type": "length", "max": 2}, "abcd", ["at most 2 characters", "got 4"]),
        ({"type": "json-field", "path": "a.z", "value": 1}, NESTED, ["$.a.z", "no key 'z'"]),
        ({"type": "json-field", "path": "a.b[9]"}, NESTED, ["has 2 items, no index 9"]),
        ({"type": "json-field", "path": "ok.x"}, NESTED, ["$.ok is the value 'true'"]),
        ({"type": "is-json"}, 'Sure: {"a": 1}', ["use contains-json"]),
        ({"type": "json-schema", "schema": SCHEMA}, '{"id": "x", "tags": 1}',
         ["2 schema errors", "$.id: 'x' is not of type 'integer'", "$.tags"]),
        ({"type": "contains-all", "value": ["a", "zz"]}, "a", ["found 1/2", 'missing \'["zz"]\'']),
        ({"type": "latency", "max": 100}, "x", ["at most 100 ms", "took 250 ms"]),
    ],
)  # fmt: skip
def test_reason_says_what_was_expected_and_seen(
    spec: dict[str, Any], output: str, fragments: list[str]
) -> None:
    result = check(spec, output, latency_s=0.25)
    for fragment in fragments:
        assert fragment in result.reason


def test_reason_truncates_long_output_to_one_line() -> None:
    result = check({"type": "contains", "value": "needle"}, "hay\n" * 500)
    assert "\n" not in result.reason
    assert "…" in result.reason
    assert len(result.reason) < 160


def test_latency_of_cached_generation_says_so() -> None:
    result = check({"type": "latency", "max": 1000}, "x", latency_s=0.5, cached=True)
    assert result.passed
    assert "recorded when cached" in result.reason


def test_result_carries_weight_and_metric() -> None:
    result = check({"type": "contains", "value": "a", "weight": 2.5, "metric": "tone"}, "a")
    assert (result.weight, result.metric) == (2.5, "tone")
    assert result.to_dict() == {
        "type": "contains",
        "passed": True,
        "score": 1.0,
        "reason": result.reason,
        "weight": 2.5,
        "metric": "tone",
    }


@pytest.mark.parametrize(
    ("spec", "generation", "message"),
    [
        ({"type": "contans", "value": "x"}, {}, "unknown check type 'contans'"),
        ({"type": "contains", "value": ["x"]}, {}, "needs a non-empty string"),
        ({"type": "contains-any", "value": 3}, {}, "needs a list of strings"),
        ({"type": "regex", "value": "("}, {}, "is invalid"),
        ({"type": "length"}, {}, "needs min, max or both"),
        ({"type": "perplexity", "threshold": 2}, {}, "returned none"),
        ({"type": "similar", "value": "x"}, {}, "needs an embedding model"),
        ({"type": "json-field", "path": "a..b"}, {}, "cannot read path"),
        ({"type": "tokens", "max": 5}, {}, "reported none"),
        ({"type": "cost", "value": {"prompt": 1}, "max": 1}, {}, "reported none"),
        ({"type": "cost", "value": {"input": 1}, "max": 1}, {"prompt_tokens": 1}, "per 1M"),
        ({"type": "latency"}, {}, "needs max"),
        ({"type": "judge", "value": "polite"}, {}, "needs a grader model"),
    ],
)
def test_evaluate_raises_when_check_cannot_run(
    spec: dict[str, Any], generation: dict[str, Any], message: str
) -> None:
    with pytest.raises(CheckError, match=message.replace("(", r"\(")):
        check(spec, "output", **generation)


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A copy of the registry for tests that register types, restored afterwards."""
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    yield


def test_one_decorated_function_adds_a_type(scratch_registry: None) -> None:
    @register_check("shouts", "min", aliases=("yells",))
    def shouts(spec: Any, ctx: Any) -> Finding:
        """The output is in capitals, with at least ``min`` letters."""
        letters = [c for c in ctx.output if c.isalpha()]
        ok = all(c.isupper() for c in letters) and len(letters) >= (spec.min or 0)
        return Finding.of(ok, "be in capitals", f"got {ctx.output!r}")

    assert {"shouts", "yells"} <= set(known_types())
    assert check({"type": "shouts", "min": 2}, "HEY").passed
    assert not check({"type": "not-yells"}, "HEY").passed
    assert list(check_problems(CheckSpec.model_validate({"type": "shouts", "max": 1})))
    [entry] = [t for t in check_types() if t.name == "yells"]
    assert entry.alias_of == "shouts"
    assert entry.summary == "The output is in capitals, with at least ``min`` letters."


def test_a_type_is_registered_once_and_documented(scratch_registry: None) -> None:
    def run(spec: Any, ctx: Any) -> Finding:
        """Documented."""
        return Finding.of(True, "", "")

    with pytest.raises(ValueError, match="already registered"):
        register_check("contains")(run)
    with pytest.raises(ValueError, match="reserved"):
        register_check("not-mine")(run)
    with pytest.raises(ValueError, match="docstring"):
        register_check("undocumented")(lambda spec, ctx: Finding.of(True, "", ""))


def test_score_runs_every_check_and_combines_them() -> None:
    specs = [
        CheckSpec.model_validate({"type": "contains", "value": "refund"}),
        CheckSpec.model_validate({"type": "word-count", "max": 2, "weight": 3}),
    ]
    scored = asyncio.run(score(specs, make_ctx("a refund is coming"), None))
    assert [r.passed for r in scored.results] == [True, False]
    assert scored.passed is False
    assert scored.score == pytest.approx(0.25)
    assert asyncio.run(score(specs, make_ctx("a refund is coming"), 0.2)).passed


# --- case outcome ---------------------------------------------------------------------------


def result(passed: bool, score: float | None = None, weight: float = 1.0) -> CheckResult:
    return CheckResult(
        type="contains",
        passed=passed,
        score=float(passed) if score is None else score,
        reason="r",
        weight=weight,
    )


@pytest.mark.parametrize(
    ("results", "threshold", "expected"),
    [
        ([], None, (True, 1.0)),
        ([], 0.9, (True, 1.0)),
        ([result(True), result(True)], None, (True, 1.0)),
        ([result(True), result(False)], None, (False, 0.5)),
        ([result(True), result(False, weight=0)], None, (True, 1.0)),
        ([result(False, weight=0)], None, (True, 1.0)),
        ([result(False, weight=0)], 0.9, (True, 1.0)),
        ([result(True, weight=3), result(False)], None, (False, 0.75)),
        ([result(True, weight=3), result(False)], 0.75, (True, 0.75)),
        ([result(True, weight=3), result(False)], 0.8, (False, 0.75)),
        ([result(True), result(False)], 0.5, (True, 0.5)),
        ([result(True, 0.7), result(True, 0.7), result(True, 0.7)], 0.7, (True, 0.7)),
        ([result(False, 0.4), result(True, 1.0)], 0.6, (True, 0.7)),
    ],
)
def test_outcome(
    results: list[CheckResult], threshold: float | None, expected: tuple[bool, float]
) -> None:
    passed, score = outcome(results, threshold)
    assert passed is expected[0]
    assert score == pytest.approx(expected[1])


@pytest.mark.parametrize(
    ("score", "needed", "passed"),
    [(0.7, 0.7, True), (0.7 - 1e-12, 0.7, True), (0.69, 0.7, False), (1.0, 0.0, True)],
)
def test_a_graded_finding_passes_at_its_threshold_up_to_rounding(
    score: float, needed: float, passed: bool
) -> None:
    finding = Finding.at_least(score, needed, "score at least 0.7", "0.69")
    assert (finding.passed, finding.score) == (passed, score)


def test_bounds_are_phrased_once_for_checks_and_the_optimizer() -> None:
    from promptsuite.checks import bounds_text
    from promptsuite.checks._common import bounds, threshold_or

    assert bounds_text(1, 5, "words") == "between 1 and 5 words"
    assert bounds_text(None, 0.5, "characters") == "at most 0.5 characters"
    assert bounds_text(2, None, "words") == "at least 2 words"
    assert bounds_text(None, None, "words") is None
    with pytest.raises(CheckError, match="needs min or max"):
        bounds(None, None, "words")
    spec = CheckSpec.model_validate({"type": "similar", "value": "x"})
    assert threshold_or(spec, 0.75) == 0.75
    assert threshold_or(spec.model_copy(update={"threshold": 0.0}), 0.75) == 0.0
