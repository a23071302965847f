"""The auto search on a scripted model: labelled demos from train references only, rules
read off the checks, repaired replies, and COPRO joining when a distinct prompt model is given."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from promptsuite.config import RunSettings
from promptsuite.models import parse_model_spec
from promptsuite.optimize.search import SamplingOptions, SearchOptions, SearchOutcome, run_search
from promptsuite.references import case_references
from promptsuite.suite import Suite, load_suite
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
        values: dict[str, object] = {
            "model": parse_model_spec(SCRIPT),
            "budget": 4,
            "settings": RunSettings(cache_path=tmp_path / "cache.sqlite"),
            "log": tmp_path / "dspy.log",
        }
        values.update(options)
        return run_search(suite, SearchOptions(**values))  # type: ignore[arg-type]

    return _search


def test_auto_is_the_default_and_labelled_demos_fix_the_hard_cases(suite, search):
    run = search(suite).run
    assert run.optimizer == "auto"
    baseline, first = run.candidates[0], run.candidates[1]
    assert baseline.source == "baseline" and not baseline.demos
    assert first.source == "demos"
    assert first.val_score > baseline.val_score
    references = run.references
    assert references is not None
    assert references.with_reference == references.train_cases > 0
    assert set(references.sources.values()) == {"derived"}


def test_no_validation_or_test_case_ever_reaches_a_candidate(suite, search):
    run = search(suite, budget=8).run
    train_vars = {c.vars["q"] for c in suite.cases if run.split[c.id] == "train"}
    held_out = {c.vars["q"] for c in suite.cases if run.split[c.id] != "train"}
    for candidate in run.candidates:
        shown = {d.vars["q"] for d in candidate.demos}
        assert shown <= train_vars
        assert not any(q in candidate.instruction for q in held_out)
    labels = {c.expect[0].value for c in suite.cases if run.split[c.id] != "train"}
    train_labels = {c.expect[0].value for c in suite.cases if run.split[c.id] == "train"}
    assert run.auto is not None
    for rule in run.auto.rules:
        assert not any(label in rule for label in labels - train_labels), rule
    test_queries = {f"Q: {c.vars['q']}" for c in suite.cases if run.split[c.id] == "test"}
    sent = {m["content"] for call in optimize_scripted.CALLS for m in call}
    assert not test_queries & sent


def test_every_candidate_is_new_and_scored_like_the_runner(suite, search):
    run = search(suite, budget=8).run
    keys = [(c.instruction, json.dumps([d.__dict__ for d in c.demos])) for c in run.candidates]
    assert len(keys) == len(set(keys))
    assert len(run.candidates) <= 9
    for candidate in run.candidates:
        assert candidate.val_score == pytest.approx(
            sum(s.score for s in candidate.cases) / len(candidate.cases)
        )
        assert all(s.split == "val" for s in candidate.cases)


def test_rules_come_from_the_checks(suite, search):
    run = search(suite, budget=8).run
    assert run.auto is not None
    assert "Reply with one word only, no other words or punctuation." in run.auto.rules
    assert any(c.source == "rules" for c in run.candidates)


def test_without_references_the_models_replies_are_repaired_into_demos(tmp_path, search):
    # A style task: every case must start with "Sure" in at most 3 words; no references.
    cases = "".join(f"  - {{id: c{i}, vars: {{q: easy-label{i}}}}}\n" for i in range(1, 13))
    (tmp_path / "suite.yaml").write_text(
        "prompt: prompt.yaml\n"
        "defaults:\n  expect:\n    - {type: starts-with, value: Sure}\n"
        "    - {type: word-count, max: 3}\ncases:\n" + cases,
        encoding="utf-8",
    )
    (tmp_path / "prompt.yaml").write_text(PROMPT, encoding="utf-8")
    suite = load_suite(tmp_path / "suite.yaml")
    assert case_references(suite)[0] == {}
    # With sampling off, the search repairs the model's replies into demos itself.
    run = search(suite, budget=3, sampling=SamplingOptions(samples=0)).run
    assert run.references is not None and run.references.with_reference == 0
    assert run.auto is not None and run.auto.repaired is not None
    assert run.auto.repaired.kept > 0
    repaired = next(c for c in run.candidates if c.source == "repaired demos")
    assert all(d.output.startswith("Sure") and len(d.output.split()) <= 3 for d in repaired.demos)
    # By default the sampling stage finds them first: repaired samples, kept as references.
    sampled = search(suite, budget=3).run
    assert sampled.sampling is not None and sampled.references is not None
    assert sampled.references.sampled == sampled.references.train_cases
    assert all(c.repaired for c in sampled.sampling.cases)
    shown = next(c for c in sampled.candidates if c.source == "demos").demos
    assert shown and all(d.output.startswith("Sure") and len(d.output.split()) <= 3 for d in shown)


def test_a_distinct_prompt_model_adds_copro_proposals_to_the_same_search(suite, search):
    proposer = parse_model_spec({**SCRIPT, "label": "proposer"})
    run = search(suite, budget=8, prompt_model=proposer).run
    sources = [c.source for c in run.candidates]
    assert sources[0] == "baseline"
    assert "copro" in sources
    assert sources.index("copro") > max(i for i, s in enumerate(sources) if s != "copro")
    assert len(run.candidates) - 1 <= 8 + 1  # COPRO re-scores its start once, deduplicated
    assert run.prompt_model_usage.calls > 0


@pytest.mark.parametrize("joins", ["mipro", "gepa"])
def test_mipro_or_gepa_may_join_instead(suite, search, joins):
    proposer = parse_model_spec({**SCRIPT, "label": "proposer"})
    run = search(suite, budget=6, prompt_model=proposer, joins=joins).run
    assert run.candidates[0].source == "baseline"
    assert any(c.source == "demos" for c in run.candidates)
    assert run.prompt_model_usage.calls > 0
    joined = [c for c in run.candidates if c.source == joins]
    assert joined and all(c.index > 3 for c in joined)
