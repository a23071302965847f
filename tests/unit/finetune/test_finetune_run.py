"""``promptsuite finetune``'s stages, with a stand-in trainer and scripted models.

The trainer (torch) is replaced by one that writes a small adapter file and returns fixed
losses; the re-test runs the real engine (:func:`promptsuite.optimize.retest`, the runner,
its cache) with the base model played by the optimizer's scripted model and the fine-tuned
one by a script that always answers right. What is checked: each stage's typed part of the
record, the record on disk, the page, and the lines printed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import promptsuite.finetune._run as finetune_run
import promptsuite.finetune._train as trainer
from promptsuite.cli import main
from promptsuite.config import RunSettings
from promptsuite.finetune import (
    FinetuneOptions,
    TrainConfig,
    Training,
    finetune,
    read_finetune_record,
)
from promptsuite.models import ModelSpec, parse_model_spec
from promptsuite.models.local import LORA_MARK
from promptsuite.optimize import mean_score, read_optimization_report
from promptsuite.suite import load_suite
from tests.unit.optimize.optimize_scripted import PROMPT, SCRIPT, suite_text

TUNED = {
    "provider": "scripted",
    "model": "t",
    "script": "tests.unit.finetune.finetune_scripted:always_right",
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A suite optimized once (its report is what the fine-tune judges)."""
    model = "{provider: scripted, model: s, script: " + SCRIPT["script"] + "}"
    (tmp_path / "suite.yaml").write_text(
        suite_text().replace("prompt: prompt.yaml\n", f"prompt: prompt.yaml\nmodels: [{model}]\n"),
        encoding="utf-8",
    )
    (tmp_path / "prompt.yaml").write_text(PROMPT, encoding="utf-8")
    (tmp_path / "base.gguf").write_bytes(b"GGUF stand-in")
    monkeypatch.chdir(tmp_path)
    assert main(["optimize", "suite.yaml", "--budget", "2", "--keep", "1"]) == 0
    monkeypatch.setattr(trainer, "load_base", _load_base)
    monkeypatch.setattr(trainer, "train_lora", _train_lora)
    monkeypatch.setattr(trainer, "generate", _generate)
    monkeypatch.setattr(trainer, "release", lambda outcome: None)
    monkeypatch.setattr(finetune_run, "retest", _scripted(finetune_run.retest))
    return tmp_path


def _load_base(path: Path, threads: int | None = None) -> trainer.Base:
    return trainer.Base(tokenizer=None, model=None, path=path, load_s=1.25)


def _train_lora(
    base: Any, rows: Sequence[Any], val: Sequence[Any], config: Any, adapter: Path, say: Any
) -> trainer.TrainOutcome:
    adapter.write_bytes(b"adapter of %d rows" % len(rows))
    training = Training(
        steps=2,
        planned_steps=3,
        losses=[2.5, 1.0 / len(rows)],
        val_losses=[(2, 0.75)],
        best_step=2,
        stopped="early-stopping",
        train_s=4.5,
        step_s=2.25,
        train_tokens=100 * len(rows),
        target_tokens=3 * len(rows),
        trainable_params=4096,
        adapter_path=str(adapter),
        adapted=12,
        peak_rss_mb=1000.0 + len(rows),
    )
    return trainer.TrainOutcome(training)


def _generate(base: Any, model: Any, chats: Sequence[Any], max_tokens: int) -> list[str]:
    """The training stack's replies: right on the first test case only."""
    return [
        chat[-1]["content"].removeprefix("Q: ").partition("-")[2] if i == 0 else "unsure"
        for i, chat in enumerate(chats)
    ]


def _scripted(retest: Any) -> Any:
    """The re-test engine with the local models played by scripted ones."""
    base = parse_model_spec(SCRIPT)
    tuned = parse_model_spec(TUNED)

    def scripted(
        suite: Any,
        split: Any,
        variants: Any,
        arms: Mapping[str, tuple[ModelSpec, str]],
        settings: RunSettings,
    ) -> Any:
        played = {
            name: (tuned if LORA_MARK in model.model else base, variant)
            for name, (model, variant) in arms.items()
        }
        return retest(suite, split, variants, played, settings)

    return scripted


def options(project: Path, **values: Any) -> FinetuneOptions:
    [optimization] = (project / "reports" / "optimize").glob("scripted-*")
    settings = RunSettings(cache_path=project / "cache.sqlite")
    defaults: dict[str, Any] = {
        "out_dir": project / "out",
        "config": TrainConfig(),
        "model_file": project / "base.gguf",
        "optimization": optimization,
        "curve": (0.5,),
        "settings": settings,
    }
    return FinetuneOptions(**{**defaults, **values})


def test_each_stage_fills_its_typed_part_and_the_record_reads_back(project: Path) -> None:
    lines: list[str] = []
    chosen = options(project)
    assert chosen.optimization is not None
    record = finetune(load_suite("suite.yaml"), chosen, say=lines.append)
    assert read_finetune_record(project / "out") == record
    report = read_optimization_report(chosen.optimization)
    assert record.best_variant == report.run.written_variants[0] == "opt-auto-1"
    retest = record.retest
    assert retest is not None
    assert list(retest.arms) == ["baseline", "prompt", "finetuned", "both"]
    assert retest.arms["prompt"].variant == "opt-auto-1"
    assert LORA_MARK in retest.arms["finetuned"].model
    assert all(s.passed for s in retest.test["finetuned"])
    assert retest.runner.base.model_calls > 0 and retest.runner.tuned.model_calls > 0
    assert retest.curve_scores == {0.5: 1.0}
    assert record.agreement is not None
    assert (record.agreement.cases, record.agreement.identical) == (len(record.rows.test_ids), 1)
    judgement = record.judgement
    assert judgement is not None
    main_comparison = judgement.comparisons.finetuned_vs_prompt
    assert main_comparison.candidate_score == 1.0
    assert main_comparison.reference_score == pytest.approx(mean_score(retest.test["prompt"]))
    assert judgement.advice_before == report.analysis.verdict
    assert judgement.curve is not None and judgement.advice_after is not None
    assert [run.share for run in record.curve_runs] == [0.5]
    assert f"  test finetuned 1.000  ({record.variant})" in lines
    assert not any("wrote no variant" in line for line in lines)
    assert report.analysis.verdict.code == "undecided"  # no advice to fine-tune to confirm
    assert (
        f"verdict: fine-tuning vs prompting is {judgement.verdict}; the advice (undecided) did "
        "not call for fine-tuning"
    ) in lines
    assert lines[-1].startswith("record: ") and lines[-1].endswith("finetune.html")
    page = (project / "out" / "finetune.html").read_text(encoding="utf-8")
    assert f"1 of {record.agreement.cases} greedy test replies identical" in page


def test_an_optimization_that_wrote_no_variant_is_compared_with_your_prompt_and_says_so(
    project: Path,
) -> None:
    (project / "prompt.yaml").write_text(PROMPT, encoding="utf-8")  # as with --no-write
    lines: list[str] = []
    record = finetune(load_suite("suite.yaml"), options(project, curve=()), say=lines.append)
    assert record.best_variant is None
    assert record.retest is not None and record.retest.arms["prompt"].variant == "default"
    assert any("wrote no variant into the prompt file" in line for line in lines)


def test_without_a_retest_only_the_training_is_recorded(project: Path) -> None:
    lines: list[str] = []
    chosen = options(project, retest=False, optimization=None, curve=())
    record = finetune(load_suite("suite.yaml"), chosen, say=lines.append)
    assert (record.retest, record.agreement, record.judgement) == (None, None, None)
    assert record.best_variant is None
    assert not any(line.startswith("re-testing") for line in lines)
    assert "Trained only" in (project / "out" / "finetune.html").read_text(encoding="utf-8")


def test_an_open_ended_suite_trains_on_sampled_references_and_measures_consistency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No case states or pins a reference: the fine-tune samples the train cases itself
    (rejection sampling), trains on the passing replies, and re-tests each held-out case K
    times at the sampling temperature, the best prompt against the fine-tuned model."""
    from tests.unit.optimize import sampling_scripted as open_ended

    counts = {"always": 4, "sometimes": 4, "long": 4, "never": 4}
    (tmp_path / "suite.yaml").write_text(open_ended.suite_text(counts), encoding="utf-8")
    (tmp_path / "prompt.yaml").write_text(open_ended.PROMPT, encoding="utf-8")
    (tmp_path / "base.gguf").write_bytes(b"GGUF stand-in")
    monkeypatch.chdir(tmp_path)
    task, teacher = parse_model_spec(open_ended.TASK), parse_model_spec(open_ended.TEACHER)
    sample = finetune_run.sample_references

    def sample_scripted(suite: Any, cases: Any, model: ModelSpec, *args: Any, **kw: Any) -> Any:
        assert model.provider == "local"  # the base model is what gets sampled
        return sample(suite, cases, task, *args, **kw)

    def retest_scripted(suite: Any, split: Any, variants: Any, arms: Any, settings: Any) -> Any:
        # The base model is the task model; the fine-tuned one passes every case.
        played = {
            name: (teacher if LORA_MARK in model.model else task, variant)
            for name, (model, variant) in arms.items()
        }
        return retest(suite, split, variants, played, settings)

    retest = finetune_run.retest
    monkeypatch.setattr(finetune_run, "sample_references", sample_scripted)
    monkeypatch.setattr(finetune_run, "retest", retest_scripted)
    monkeypatch.setattr(trainer, "load_base", _load_base)
    monkeypatch.setattr(trainer, "train_lora", _train_lora)
    monkeypatch.setattr(trainer, "generate", _generate)
    monkeypatch.setattr(trainer, "release", lambda outcome: None)
    lines: list[str] = []
    chosen = FinetuneOptions(
        out_dir=tmp_path / "out",
        config=TrainConfig(),
        model_file=tmp_path / "base.gguf",
        settings=RunSettings(cache_path=tmp_path / "cache.sqlite"),
    )
    record = finetune(load_suite("suite.yaml"), chosen, say=lines.append)
    sampling = record.sampling
    assert sampling is not None
    assert {c.case_id for c in sampling.cases} >= set(record.rows.train_ids)
    assert not any(case_id.startswith("never") for case_id in record.rows.train_ids)
    assert record.rows.sources == {"sampled": len(record.rows.train_ids)}
    assert all(
        why.startswith("its checks do not pin down an answer")
        for case_id, why in record.rows.missing.items()
        if not case_id.startswith("never")
    ), record.rows.missing
    consistency = record.consistency
    assert consistency is not None
    assert (consistency.samples, consistency.temperature) == (4, 0.7)
    tested = len(record.rows.test_ids)
    assert consistency.arms["finetuned"].always == tested
    assert consistency.arms["prompt"].always < tested
    assert consistency.comparison.gain > 0
    assert all(len(s.passes) == 4 for s in consistency.test["prompt"])
    assert any(line.startswith("consistency: ") for line in lines)
    page = (tmp_path / "out" / "finetune.html").read_text(encoding="utf-8")
    assert 'id="consistency"' in page and "sampled" in page
