"""Spending limits (--max-calls, --max-tokens, --max-cost) on the scripted models: the
sampling stage and the search stop at a case boundary, every call counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptsuite.cli import main
from promptsuite.config import RunSettings
from promptsuite.errors import ConfigError
from promptsuite.models import parse_model_spec
from promptsuite.optimize import OptimizationRun, SpendingLimits, read_optimization_report
from promptsuite.optimize.analysis import analyze
from promptsuite.optimize.search import SamplingOptions, SearchOptions, run_search
from promptsuite.optimize.search._limits import Meter
from promptsuite.results import CaseResult, GenerationRecord, RepeatResult
from promptsuite.suite import Suite, load_suite
from tests.unit.optimize import optimize_scripted, sampling_scripted
from tests.unit.optimize.optimize_scripted import PROMPT, SCRIPT, suite_text

KINDS = {"easy": 20, "hard": 30, "stubborn": 10}  # 18 validation cases
VAL = 18
TASK = parse_model_spec(SCRIPT)


@pytest.fixture
def suite(tmp_path: Path) -> Suite:
    (tmp_path / "suite.yaml").write_text(suite_text(KINDS), encoding="utf-8")
    (tmp_path / "prompt.yaml").write_text(PROMPT, encoding="utf-8")
    return load_suite(tmp_path / "suite.yaml")


def search(suite: Suite, tmp_path: Path, limits: SpendingLimits, **options: object):
    optimize_scripted.CALLS.clear()
    values: dict[str, object] = {
        "model": TASK,
        "budget": 8,
        "settings": RunSettings(cache_path=tmp_path / "cache.sqlite"),
        "limits": limits,
        "log": tmp_path / "dspy.log",
    }
    values.update(options)
    return run_search(suite, SearchOptions(**values)).run  # type: ignore[arg-type]


def result(prompt_tokens: int, completion_tokens: int, *, cached: bool = False) -> CaseResult:
    generation = GenerationRecord(prompt_tokens, completion_tokens, cached=cached)
    repeat = RepeatResult(0, "x", generation, [], True, 1.0)
    return CaseResult(
        test_id="s.yaml::c[m]",
        suite="s",
        suite_path="s.yaml",
        case_id="c",
        model="m",
        backend={"provider": "scripted"},
        variant="default",
        tags=[],
        messages=[{"role": "user", "content": "c"}],
        repeats=[repeat],
        passed=True,
        score=1.0,
    )


def test_calls_fit_by_the_count_tokens_by_the_dearest_call_so_far():
    meter = Meter(SpendingLimits(max_calls=10), [TASK])
    assert meter.fitting(30) == (10, "max-calls")
    meter.add(TASK, [result(10, 2)] * 6, calls=6, expected=6)
    assert meter.fitting(30) == (4, "max-calls")
    assert meter.fitting(30, reserve=3) == (1, "max-calls")
    assert meter.fitting(2) == (2, None)
    tokens = Meter(SpendingLimits(max_tokens=100), [TASK])
    # Nothing says what a call costs yet: one case runs alone, and tells.
    assert tokens.fitting(30) == (1, None)
    tokens.add(TASK, [result(10, 2), result(15, 5)], calls=2, expected=2)
    assert (tokens.tokens, tokens.fitting(30)) == (32, (3, "max-tokens"))
    tokens.add(TASK, [result(500, 5, cached=True)], calls=0, expected=1)
    assert tokens.tokens == 32
    tokens.add(TASK, [result(60, 8)], calls=1, expected=1)
    assert tokens.ran_out() == "max-tokens" and tokens.fitting(5) == (0, "max-tokens")
    assert tokens.describe("max-tokens") == "the --max-tokens 100 limit ran out (100 tokens spent)"


def test_cost_is_priced_and_free_models_never_run_out():
    priced = parse_model_spec("openai:gpt-4o-mini")
    meter = Meter(SpendingLimits(max_cost=0.001), [priced])
    meter.add(priced, [result(1000, 1000)], calls=1, expected=1)
    assert meter.spend.cost == pytest.approx(0.00075)
    assert meter.fitting(5) == (0, "max-cost")
    free = Meter(SpendingLimits(max_cost=0.001), [TASK])
    free.add(TASK, [result(10_000, 10_000)] * 3, calls=3, expected=3)
    assert free.spend.cost == 0.0 and free.fitting(50) == (50, None)
    with pytest.raises(ConfigError, match="--max-cost: no price is known for openai:my-model"):
        Meter(SpendingLimits(max_cost=1.0), [parse_model_spec("openai:my-model")])


def test_max_calls_stops_the_search_mid_candidate_at_a_case_boundary(suite, tmp_path):
    run = search(suite, tmp_path, SpendingLimits(max_calls=25))
    assert len(optimize_scripted.CALLS) == run.spent.calls == run.task_model_usage.calls == 25
    baseline, cut = run.candidates
    assert baseline.complete and baseline.val_cases == VAL
    assert (cut.val_cases, cut.complete) == (7, False)
    assert cut.stopped == (
        "the --max-calls 25 limit ran out (25 calls spent) after 7 of 18 validation cases"
    )
    stop = run.stopped
    assert stop is not None and (stop.reason, stop.candidates) == ("max-calls", 2)
    assert stop.per_candidate is not None and stop.per_candidate.calls == VAL
    assert run.settings.limits == SpendingLimits(max_calls=25)


def test_the_verdict_at_a_limit_says_what_more_would_decide_it(suite, tmp_path):
    run = search(suite, tmp_path, SpendingLimits(max_calls=25))
    run.test_results[0] = run.candidates[0].cases
    verdict = analyze(run).verdict
    assert verdict.code == "undecided"
    assert verdict.headline == (
        "Undecided: the spending limit stopped the search before a plateau could be judged; "
        "about 36 calls more would decide it."
    )
    assert (
        "the --max-calls 25 limit ran out (25 calls spent): 2 candidates recorded, 1 of them "
        "scored on every validation case" in verdict.reasons
    )
    assert (
        "a plateau is judged over 3 candidates after a first: 2 more candidates, at about 18 "
        "calls each" in verdict.reasons
    )


def test_a_limit_between_candidates_stops_before_the_next_one(suite, tmp_path):
    run = search(suite, tmp_path, SpendingLimits(max_calls=2 * VAL), racing=False)
    assert [c.val_cases for c in run.candidates] == [VAL, VAL]
    assert len(optimize_scripted.CALLS) == run.spent.calls == 2 * VAL
    assert run.stopped is not None and run.stopped.reason == "max-calls"


def test_max_tokens_counts_the_scripted_models_tokens(suite, tmp_path):
    run = search(suite, tmp_path, SpendingLimits(max_tokens=500))
    assert run.stopped is not None and run.stopped.reason == "max-tokens"
    dearest = max(
        sum(len(m["content"].split()) for m in call) + 1 for call in optimize_scripted.CALLS
    )
    # It stops before the case that would pass the limit, at the dearest call so far.
    assert 500 - dearest < run.spent.tokens <= 500
    assert run.spent.calls == len(optimize_scripted.CALLS)


def test_the_sampling_stage_stops_at_the_limit_and_leaves_room_for_your_prompt(tmp_path):
    (tmp_path / "suite.yaml").write_text(
        sampling_scripted.suite_text({"sometimes": 20, "never": 20}), encoding="utf-8"
    )
    (tmp_path / "prompt.yaml").write_text(sampling_scripted.PROMPT, encoding="utf-8")
    suite = load_suite(tmp_path / "suite.yaml")
    sampling_scripted.ASKED.clear()
    val = 12
    run = run_search(
        suite,
        SearchOptions(
            model=parse_model_spec(sampling_scripted.TASK),
            budget=3,
            settings=RunSettings(cache_path=tmp_path / "cache.sqlite"),
            sampling=SamplingOptions(samples=4),
            limits=SpendingLimits(max_calls=40 + val),
        ),
    ).run
    sampling = run.sampling
    assert sampling is not None and sampling.usage.calls == 40
    assert len(sampling.cases) == 8 and len(sampling.skipped) == 16 - 8
    assert sampling.stopped == (
        "the --max-calls 52 limit ran out (40 calls spent) after 8 of 16 cases"
    )
    assert all(why == f"not sampled: {sampling.stopped}" for why in sampling.skipped.values())
    assert run.candidates[0].complete and run.candidates[0].val_cases == val
    assert len(sampling_scripted.ASKED) == run.spent.calls == 40 + val
    assert run.stopped is not None and run.stopped.reason == "max-calls"


def test_a_dspy_optimizer_is_refused_calls_past_the_limit(suite, tmp_path):
    run = search(suite, tmp_path, SpendingLimits(max_calls=30), optimizer="bootstrap")
    assert len(optimize_scripted.CALLS) == run.spent.calls == 30
    assert run.stopped is not None and run.stopped.reason == "max-calls"
    assert all(c.complete for c in run.candidates)


def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str) -> None:
    text = suite_text(KINDS).replace(
        "prompt: prompt.yaml\n", f"prompt: prompt.yaml\nmodels: [{model}]\n"
    )
    (tmp_path / "suite.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "prompt.yaml").write_text(PROMPT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)


def test_the_command_takes_the_limits_and_says_where_it_stopped(tmp_path, monkeypatch, capsys):
    project(
        tmp_path,
        monkeypatch,
        '{provider: scripted, model: s, script: "tests.unit.optimize.optimize_scripted:answer"}',
    )
    assert main(["optimize", "suite.yaml", "--max-calls", "25", "--max-cost", "1"]) == 0
    err = capsys.readouterr().err
    assert "limits: --max-calls 25, --max-cost 1 for the sampling stage and the search" in err
    assert "      stopped: the --max-calls 25 limit ran out (25 calls spent) after 7 of 18" in err
    assert "the search stopped early: the --max-calls 25 limit ran out (25 calls spent)" in err
    assert "verdict: Undecided: the spending limit stopped the search" in err
    [path] = (tmp_path / "reports" / "optimize").glob("scripted-*/optimization.json")
    report = read_optimization_report(path)
    run: OptimizationRun = report.run
    assert run.spent.calls == 25 and run.spent.cost == 0.0
    assert report.analysis.trajectory[1].val_cases == 7


def test_bad_limits_are_one_line_errors(tmp_path, monkeypatch, capsys):
    project(tmp_path, monkeypatch, "openai:my-model")
    assert main(["optimize", "suite.yaml", "--max-calls", "0"]) == 2
    assert "--max-calls must be at least 1, got 0" in capsys.readouterr().err
    assert main(["optimize", "suite.yaml", "--max-cost", "0"]) == 2
    assert "--max-cost must be more than 0 US dollars, got 0" in capsys.readouterr().err
    assert main(["optimize", "suite.yaml", "--max-cost", "2"]) == 2
    assert "--max-cost: no price is known for openai:my-model" in capsys.readouterr().err
