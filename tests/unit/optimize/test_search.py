"""The search on a scripted model: trajectory capture, the split's isolation, the cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from promptsuite.cache import CacheMode
from promptsuite.config import RunSettings
from promptsuite.models._registry import parse_model_spec
from promptsuite.optimize import Candidate, OptimizationRun
from promptsuite.optimize.search import SearchOptions, SearchOutcome, run_search
from promptsuite.suite import Suite, load_suite
from promptsuite.template import render_messages
from tests.unit.optimize import optimize_scripted
from tests.unit.optimize.optimize_scripted import PROMPT, SCRIPT, suite_text


@pytest.fixture
def suite(tmp_path: Path) -> Suite:
    (tmp_path / "suite.yaml").write_text(suite_text(), encoding="utf-8")
    (tmp_path / "prompt.yaml").write_text(PROMPT, encoding="utf-8")
    return load_suite(tmp_path / "suite.yaml")


@pytest.fixture
def search(tmp_path: Path) -> Callable[..., SearchOutcome]:
    def _search(suite: Suite, **options: object) -> SearchOutcome:
        optimize_scripted.CALLS.clear()
        settings = RunSettings(cache_path=tmp_path / "cache.sqlite")
        values: dict[str, object] = {
            "model": parse_model_spec(SCRIPT),
            "optimizer": "bootstrap",
            "budget": 3,
            "threads": 1,
            "settings": settings,
            "log": tmp_path / "dspy.log",
        }
        values.update(options)
        return run_search(suite, SearchOptions(**values))  # type: ignore[arg-type]

    return _search


def expected_score(run: OptimizationRun, candidate: Candidate) -> float:
    """The script's rule, applied to a candidate's val cases."""
    right = 0
    for case_id in (c for c, split in run.split.items() if split == "val"):
        kind = case_id.split("-")[0]
        right += (
            kind == "easy"
            or (kind == "hard" and len(candidate.demos) >= 1)
            or (kind == "stubborn" and "label only" in candidate.instruction)
        )
    val = [c for c in run.split.values() if c == "val"]
    return right / len(val)


def test_baseline_is_candidate_zero_scored_by_the_suites_checks(suite, search):
    outcome = search(suite)
    baseline = outcome.run.candidates[0]
    assert (baseline.index, baseline.source) == (0, "baseline")
    assert baseline.instruction == "Classify the case."
    assert baseline.demos == []
    val_ids = [c for c, s in outcome.run.split.items() if s == "val"]
    assert [c.case_id for c in baseline.cases] == val_ids
    assert baseline.val_score == pytest.approx(expected_score(outcome.run, baseline))
    for case in baseline.cases:
        assert case.passed == case.case_id.startswith("easy")
        assert case.output == ("label" + case.case_id.split("-")[1] if case.passed else "unsure")


def test_bootstrap_trajectory_records_every_candidate_with_its_demos(suite, search):
    outcome = search(suite, budget=3)
    run = outcome.run
    assert [c.index for c in run.candidates] == list(range(len(run.candidates)))
    new = run.candidates[1:]
    assert new and all(c.source == "bootstrap" for c in new)
    train_vars = {
        suite_case.vars["q"] for suite_case in suite.cases if run.split[suite_case.id] == "train"
    }
    for candidate in run.candidates:
        assert candidate.val_score == pytest.approx(expected_score(run, candidate))
        for demo in candidate.demos:
            assert demo.vars["q"] in train_vars
            assert demo.output == "label" + demo.vars["q"].split("label")[1]
    assert max(c.val_score for c in new) > run.candidates[0].val_score
    calls = [c.lm_calls for c in run.candidates]
    assert calls == sorted(calls) and calls[0] > 0
    assert len(
        {(c.instruction, tuple((str(d.vars), d.output) for d in c.demos)) for c in run.candidates}
    ) == len(run.candidates)
    assert run.task_model_usage.calls == len(optimize_scripted.CALLS)


def test_the_search_never_sends_a_test_case(suite, search):
    outcome = search(suite, budget=3)
    test_queries = {f"Q: {c.vars['q']}" for c in suite.cases if outcome.run.split[c.id] == "test"}
    sent = {m["content"] for call in optimize_scripted.CALLS for m in call}
    assert test_queries and not test_queries & sent


def test_baseline_messages_are_exactly_what_the_runner_renders(suite, search):
    outcome = search(suite, budget=1)
    variant = suite.prompt.variants[suite.prompt.default]
    val_cases = [c for c in suite.cases if outcome.run.split[c.id] == "val"]
    rendered = [
        [m.to_dict() for m in render_messages(variant.templates, c.vars)] for c in val_cases
    ]
    assert optimize_scripted.CALLS[: len(rendered)] == rendered


def test_a_repeated_search_is_answered_from_the_cache(suite, search):
    first = search(suite, budget=2)
    second = search(suite, budget=2)
    assert second.run.task_model_usage.calls == 0
    assert second.run.task_model_usage.cache_hits > 0
    assert [c.val_score for c in second.run.candidates] == [
        c.val_score for c in first.run.candidates
    ]
    assert [c.demos for c in second.run.candidates] == [c.demos for c in first.run.candidates]


@pytest.mark.parametrize("optimizer", ["copro", "mipro", "gepa"])
def test_instruction_optimizers_record_proposed_instructions(suite, search, optimizer):
    outcome = search(suite, optimizer=optimizer, budget=2)
    run = outcome.run
    proposed = [c for c in run.candidates[1:] if "proposal" in c.instruction]
    assert proposed, [c.instruction for c in run.candidates]
    assert all(c.source == optimizer for c in run.candidates[1:])
    for candidate in run.candidates:
        assert candidate.val_score == pytest.approx(expected_score(run, candidate))
    assert run.prompt_model_usage.calls > 0
    assert max(c.prompt_model_calls for c in run.candidates) > 0


def test_chat_adapter_records_the_same_candidates(suite, search):
    outcome = search(suite, adapter="chat", budget=1)
    baseline = outcome.run.candidates[0]
    assert baseline.val_score == pytest.approx(expected_score(outcome.run, baseline))
    assert any("[[ ## q ## ]]" in m["content"] for call in optimize_scripted.CALLS for m in call)


def test_cache_mode_off_calls_the_model_every_time(suite, search, tmp_path):
    settings = RunSettings(cache_mode=CacheMode.OFF, cache_path=tmp_path / "unused.sqlite")
    outcome = search(suite, budget=1, settings=settings)
    assert outcome.run.task_model_usage.cache_hits == 0
    assert not (tmp_path / "unused.sqlite").exists()
