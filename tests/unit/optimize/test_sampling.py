"""The sampling stage on a scripted model: which cases are sampled, what is kept, what it cost,
what the consistency figures and the advice make of it, and where the references go."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from promptsuite.config import RunSettings
from promptsuite.finetune._data import chat_rows
from promptsuite.gate import digest
from promptsuite.labels import Label, labels_path, save_label
from promptsuite.models._registry import parse_model_spec
from promptsuite.optimize import (
    PipelineOptions,
    optimize,
    own_references,
    read_optimization_report,
    reference_answers,
    sampled_references,
)
from promptsuite.optimize.analysis import consistency
from promptsuite.optimize.search import (
    DEFAULT_FRACTIONS,
    SamplingOptions,
    SearchOptions,
    run_search,
    sample_references,
    split_cases,
)
from promptsuite.suite import Suite, load_suite
from tests.unit.optimize import sampling_scripted
from tests.unit.optimize.sampling_scripted import PROMPT, TASK, TEACHER, suite_text

K = 4


@pytest.fixture
def make_suite(tmp_path: Path) -> Callable[..., Suite]:
    def make(**counts: int) -> Suite:
        (tmp_path / "suite.yaml").write_text(suite_text(counts), encoding="utf-8")
        (tmp_path / "prompt.yaml").write_text(PROMPT, encoding="utf-8")
        return load_suite(tmp_path / "suite.yaml")

    return make


@pytest.fixture
def settings(tmp_path: Path) -> RunSettings:
    sampling_scripted.ASKED.clear()
    return RunSettings(cache_path=tmp_path / "cache.sqlite")


def sample(suite: Suite, settings: RunSettings, **options: object):
    return sample_references(
        suite,
        suite.cases,
        parse_model_spec(TASK),
        SamplingOptions(samples=K, **options),  # type: ignore[arg-type]
        seed=3,
        settings=settings,
    )


def test_the_best_passing_reply_is_kept_with_its_provenance(make_suite, settings):
    suite = make_suite(always=1, sometimes=1, never=1)
    sampling = sample(suite, settings)
    by_id = {c.case_id: c for c in sampling.cases}
    always, sometimes, never = by_id["always-0"], by_id["sometimes-0"], by_id["never-0"]
    assert (always.greedy_passed, always.passes) == (True, [True] * K)
    assert (always.source, always.sample) == ("sampled", -1)
    assert always.reference == "Many thanks, sample 0."
    # Odd samples pass at temperature > 0; the reply at temperature 0 does not.
    assert (sometimes.greedy_passed, sometimes.passes) == (False, [False, True, False, True])
    assert (sometimes.reference, sometimes.sample) == ("Many thanks, sample 1.", 1)
    assert never.reference is never.source is never.sample is None
    assert never.tried == 1 + K
    assert never.failed_checks == {"icontains (polite)": 1 + K}
    assert sometimes.failed_checks == {"icontains (polite)": 3, "word-count (short)": 3}


def test_a_reply_that_passes_once_trimmed_is_kept_marked_repaired(make_suite, settings):
    suite = make_suite(long=1, always=1)
    by_id = {c.case_id: c for c in sample(suite, settings).cases}
    long = by_id["long-0"]
    assert long.passes == [False] * K and long.greedy_passed is False
    assert (long.reference, long.repaired, long.sample) == ("Thanks for writing.", True, -1)
    assert long.reference_score == 1.0
    assert by_id["always-0"].repaired is False
    reference = sampled_references(sample(suite, settings))["long-0"]
    assert "trimmed to the checks' format" in reference.detail


def test_samples_use_the_temperature_and_seeds_and_every_call_is_counted(make_suite, settings):
    suite = make_suite(always=1, never=2)
    sampling = sample(suite, settings, temperature=0.9)
    asked = sampling_scripted.ASKED
    assert len(asked) == 3 * (1 + K) == sampling.usage.calls
    assert sorted(r for c, t, r in asked if c == "never-1" and t == 0.9) == list(range(K))
    assert [t for c, t, _ in asked if c == "never-1" and t != 0.9] == [0.0]
    assert sampling.usage.tokens > 0 and sampling.usage.cache_hits == 0
    assert (sampling.samples, sampling.temperature, sampling.seed) == (K, 0.9, 3)


def test_a_rerun_is_served_by_the_cache(make_suite, settings):
    suite = make_suite(sometimes=2)
    first = sample(suite, settings)
    asked = len(sampling_scripted.ASKED)
    again = sample(suite, settings)
    assert len(sampling_scripted.ASKED) == asked
    assert (again.usage.calls, again.usage.cache_hits) == (0, first.usage.calls)
    assert again.cases == first.cases


def test_the_teacher_is_asked_only_where_the_model_never_passed(make_suite, settings):
    suite = make_suite(always=1, never=2)
    sampling = sample(suite, settings, teacher=parse_model_spec(TEACHER))
    by_id = {c.case_id: c for c in sampling.cases}
    assert by_id["always-0"].source == "sampled" and by_id["always-0"].teacher_passes == []
    for case_id in ("never-0", "never-1"):
        case = by_id[case_id]
        assert (case.source, case.reference) == ("teacher", "Thanks, the teacher says.")
        assert case.teacher_passes == [True] * K and case.tried == 2 * (1 + K) - 1
    assert sampling.teacher_usage.calls == 2 * K
    assert sampling.teacher == "scripted:teacher"


def test_no_samples_no_calls(make_suite, settings):
    suite = make_suite(never=2)
    sampling = sample_references(
        suite,
        suite.cases,
        parse_model_spec(TASK),
        SamplingOptions(samples=0),
        seed=0,
        settings=settings,
    )
    assert sampling.cases == [] and sampling_scripted.ASKED == []


def test_the_search_samples_train_cases_only_and_uses_them_as_demos(make_suite, settings):
    suite = make_suite(always=6, sometimes=6, never=6)
    lines: list[str] = []
    outcome = run_search(
        suite,
        SearchOptions(
            model=parse_model_spec(TASK),
            budget=3,
            settings=settings,
            sampling=SamplingOptions(samples=K),
        ),
        say=lines.append,
    )
    run = outcome.run
    assert run.sampling is not None
    sampled = {c.case_id for c in run.sampling.cases}
    train = {c for c, split in run.split.items() if split == "train"}
    assert sampled == train
    asked = {
        case
        for case, _, _ in sampling_scripted.ASKED
        if (case, 0.7) in {(c, t) for c, t, _ in sampling_scripted.ASKED}
    }
    assert asked <= train
    kept = run.sampling.references()
    assert run.references is not None
    assert run.references.sampled == len(kept) == run.references.with_reference
    assert set(kept) == {c for c in train if not c.startswith("never")}
    assert all(run.references.sources[c] == "sampled" for c in kept)
    demos = [d.output for c in run.candidates for d in c.demos]
    assert demos and set(demos) <= set(kept.values())
    assert lines[0].startswith(f"sampling: {len(train)} train cases have no reference answer")
    assert lines[1].startswith(f"sampling: references for {len(kept)} of {len(train)} cases")
    # The replies were asked with the rules read off the checks.
    assert any("Use at most 6 words." in r for r in run.sampling.rules)


def test_consistency_figures_per_tag_and_overall(make_suite, settings):
    suite = make_suite(always=2, sometimes=3, never=5)
    figures = consistency(sample(suite, settings))
    assert figures is not None
    overall = figures.overall
    assert (overall.cases, overall.always, overall.sometimes, overall.never) == (10, 2, 3, 5)
    assert overall.pass_at_1 == pytest.approx(2 / 10)
    assert overall.pass_at_k == pytest.approx(5 / 10)
    assert overall.sample_rate == pytest.approx((2 * K + 3 * 2) / (10 * K))
    low, high = overall.sample_interval
    assert low < overall.sample_rate < high
    assert figures.gap  # half the cases never passed
    assert [r.group for r in figures.gap_tags()] == ["never"]
    lines = figures.lines()
    assert "pass@1 20%" in lines[0] and f"pass@{K} 50%" in lines[0]
    assert lines[1] == (
        f"in {K} samples the model never produced a passing reply for 5 of 5 train cases "
        "tagged never"
    )
    assert consistency(None) is None


def test_references_reach_the_export_and_the_finetune_rows(make_suite, settings):
    suite = make_suite(always=5, sometimes=5, never=5)
    outcome = run_search(
        suite,
        SearchOptions(
            model=parse_model_spec(TASK),
            budget=2,
            settings=settings,
            sampling=SamplingOptions(samples=K),
        ),
    )
    run = outcome.run
    references, missing = reference_answers(run, suite)
    sampled = sampled_references(run.sampling)
    for case_id, reference in sampled.items():
        assert references[case_id].source == "sampled"
        assert "passing its checks" in reference.detail
    never_train = [c for c, s in run.split.items() if s == "train" and c.startswith("never")]
    assert never_train and all(c in missing for c in never_train)
    rows = chat_rows(suite, split=run.split, extra=sampled)
    assert rows.sources == {"sampled": len(sampled)}
    assert sorted(rows.train_ids) == sorted(sampled)
    for chat, case_id in zip(rows.train, rows.train_ids, strict=True):
        assert chat[-1] == {"role": "assistant", "content": sampled[case_id].output}


def test_the_advice_decides_on_an_open_ended_suite(make_suite, settings, tmp_path):
    suite = make_suite(never=10, sometimes=5, always=5)
    search = SearchOptions(
        model=parse_model_spec(TASK),
        budget=6,
        settings=settings,
        sampling=SamplingOptions(samples=K),
    )
    result = optimize(
        suite, PipelineOptions(search=search, out_dir=tmp_path / "out", write=False), say=print
    )
    assert result.problem is None
    report = read_optimization_report(result.report_paths[1])
    analysis = report.analysis
    assert analysis.consistency is not None
    assert analysis.consistency.overall.never > 0
    assert analysis.verdict.code != "undecided"
    reasons = " | ".join(analysis.verdict.reasons)
    assert "never produced a passing reply" in reasons
    assert report.export is not None and report.export.sampled == len(
        sampled_references(report.run.sampling)
    )
    page = result.report_paths[0].read_text(encoding="utf-8")
    assert 'id="consistency"' in page and "pass@4" in page


def test_a_person_labelled_output_is_a_reference_and_is_not_sampled(make_suite, settings):
    suite = make_suite(never=10)
    split = split_cases(suite.cases, seed=0, fractions=DEFAULT_FRACTIONS)
    train = [c for c in split if split[c] == "train"]
    labelled, other = train[0], train[1]
    path = labels_path(suite.path)
    save_label(
        path,
        Label.model_validate(
            {
                "case": labelled,
                "check": "polite",
                "output_digest": digest("Thanks, a person wrote this."),
                "label": "pass",
                "output": "Thanks, a person wrote this.",
                "labeller": "ann",
            }
        ),
    )
    references, missing = own_references(suite)
    assert references[labelled].source == "labelled"
    assert references[labelled].detail.startswith("labelled by a person")
    assert other in missing
    run = run_search(
        suite,
        SearchOptions(
            model=parse_model_spec(TASK), budget=1, settings=settings, sampling=SamplingOptions()
        ),
    ).run
    assert run.references is not None and run.references.labelled == 1
    assert run.sampling is not None and labelled not in {c.case_id for c in run.sampling.cases}
    rows = chat_rows(suite, split=run.split)
    assert rows.sources == {"labelled": 1}
    assert rows.train[0][-1]["content"] == "Thanks, a person wrote this."


def test_samples_stop_once_nothing_passed_and_the_gap_is_settled(make_suite, settings):
    # 24 cases, none ever passes: after the replies at the suite's temperature and one
    # round of samples (0 of 24 passed, a pass rate of at most 14%), K = 4 samples could
    # give at most 45% of the cases a passing reply: the gap holds, the other rounds are
    # not drawn.
    suite = make_suite(never=24)
    sampling = sample(suite, settings)
    assert sampling.usage.calls == len(sampling_scripted.ASKED) == 24 * 2
    assert {r for _, t, r in sampling_scripted.ASKED if t} == {0}
    assert all(c.passes == [False] for c in sampling.cases)
    assert sampling.settled is not None and "after 1 of 4 samples" in sampling.settled
    figures = consistency(sampling)
    assert figures is not None and figures.gap and figures.samples == 1
    assert "in 1 sample the model never produced" in " ".join(figures.lines())


def test_without_early_stopping_every_sample_is_drawn(make_suite, settings):
    suite = make_suite(never=24)
    sampling = sample(suite, settings, early_stop=False)
    assert sampling.usage.calls == 24 * (1 + K) and sampling.settled is None
    assert all(len(c.passes) == K for c in sampling.cases)


def test_samples_drawn_in_rounds_are_the_ones_drawn_at_once(make_suite, settings, tmp_path):
    # Three cases: too few failures to settle anything after a round; the 'sometimes' case
    # passes at its second sample, and the rest are drawn at once, numbered on.
    suite = make_suite(sometimes=1, never=2)
    rounds = sample(suite, settings)
    asked_in_rounds = sorted(sampling_scripted.ASKED)
    sampling_scripted.ASKED.clear()
    at_once = sample(suite, RunSettings(cache_path=tmp_path / "other.sqlite"), early_stop=False)
    assert sorted(sampling_scripted.ASKED) == asked_in_rounds
    assert rounds.cases == at_once.cases and rounds.settled is None
    by_id = {c.case_id: c for c in rounds.cases}
    assert by_id["sometimes-0"].passes == [False, True, False, True]
    assert rounds.usage.calls == 3 * (1 + K)


def test_a_few_failing_cases_settle_nothing(make_suite, settings):
    # 0 of 3, 6, 9, 12 samples: the interval stays too wide to call a gap before K.
    sampling = sample(make_suite(never=3), settings)
    assert sampling.settled is None and all(len(c.passes) == K for c in sampling.cases)
    assert sampling.usage.calls == 3 * (1 + K)


def test_replies_that_errored_settle_nothing(make_suite, settings):
    # The provider fails every request: no reply was judged, so every sample is asked.
    suite = make_suite(never=24)
    sampling = sample_references(
        suite,
        suite.cases,
        parse_model_spec({**TASK, "fail": {"never-": "the provider is down"}}),
        SamplingOptions(samples=K),
        seed=3,
        settings=settings,
    )
    assert sampling.settled is None
    assert all(len(c.passes) == K for c in sampling.cases)
