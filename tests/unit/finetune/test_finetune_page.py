"""The fine-tune page renders a record: verdict, arms, per-tag table, curves, reproduce line."""

from __future__ import annotations

from pathlib import Path

from promptsuite.finetune import (
    AdapterFile,
    Agreement,
    Arm,
    Comparisons,
    CurveRun,
    FinetuneRecord,
    Judgement,
    ModelFile,
    RetestCounts,
    RetestedArms,
    RowCounts,
    TrainConfig,
    Training,
    compare_arms,
    per_tag,
    read_finetune_record,
    render_finetune_report,
    verdict_of,
)
from promptsuite.optimize import CaseScore, RunnerCounts
from promptsuite.optimize.analysis import Verdict, fit_learning_curve

FIXTURES = Path(__file__).parent / "fixtures"


def arm(passed: list[bool]) -> list[CaseScore]:
    return [
        CaseScore(case_id=f"c{i}", split="test", tags=["t<b>"], scores=[float(ok)], passes=[ok])
        for i, ok in enumerate(passed)
    ]


def record() -> FinetuneRecord:
    test = {
        "baseline": arm([False] * 10),
        "prompt": arm([False] * 8 + [True, True]),
        "finetuned": arm([True] * 9 + [False]),
        "both": arm([True] * 10),
    }
    main = compare_arms(test["prompt"], test["finetuned"])
    counts = RunnerCounts(model_calls=20, cache_hits=0, errors=0)
    tuned = "+lora:out/adapter.gguf"
    return FinetuneRecord(
        suite="codes",
        suite_path="suites/codes.yaml",
        base_model=ModelFile(file="SmolLM2.gguf", size=1),
        adapter=AdapterFile(path="out/adapter.gguf", sha256="ab" * 32, bytes=10, matrices=7),
        seed=0,
        target=0.8,
        optimization=None,
        variant="default",
        best_variant="opt-auto-1",
        rows=RowCounts(train=20, val=5, test=10, train_ids=[], val_ids=[], test_ids=[], missing={}),
        config=TrainConfig(),
        load_s=30.0,
        training=Training(
            steps=3,
            planned_steps=3,
            losses=[3.0, 1.0, 0.5],
            val_losses=[(3, 0.6)],
            best_step=3,
            stopped="epochs",
            train_s=15.0,
            step_s=5.0,
            train_tokens=900,
            target_tokens=60,
            trainable_params=1000,
            adapter_path="out/adapter.gguf",
            adapted=7,
            peak_rss_mb=3000.0,
        ),
        curve_runs=[
            CurveRun(
                share=0.25,
                rows=5,
                steps=1,
                train_s=5.0,
                step_s=5.0,
                stopped="epochs",
                best_step=1,
                peak_rss_mb=3000.0,
                losses=[3.0],
                adapter="out/adapter-25pct.gguf",
            )
        ],
        command="promptsuite finetune suites/codes.yaml --curve",
        retest=RetestedArms(
            arms={
                "baseline": Arm(model="local", variant="default"),
                "prompt": Arm(model="local", variant="opt-auto-1"),
                "finetuned": Arm(model=tuned, variant="default"),
                "both": Arm(model=tuned, variant="opt-auto-1"),
            },
            test=test,
            runner=RetestCounts(base=counts, tuned=counts),
            curve_scores={0.25: 0.4},
        ),
        agreement=Agreement(
            cases=10, identical=9, identical_stripped=10, transformers_s=2.0, differences=[]
        ),
        judgement=Judgement(
            comparisons=Comparisons(
                finetuned_vs_prompt=main,
                both_vs_prompt=compare_arms(test["prompt"], test["both"]),
                finetuned_vs_baseline=compare_arms(test["baseline"], test["finetuned"]),
            ),
            verdict=verdict_of(main),
            per_tag=per_tag(test),
            advice_before=Verdict(code="plateau-finetune", headline="Fine-tune.", reasons=()),
            curve=fit_learning_curve([(5, 0.4), (10, 0.6), (20, 0.9)], target=0.8, train_share=0.4),
            labelled_now=50,
        ),
        peak_rss_mb=3000.0,
        total_s=200.0,
    )


def test_the_page_shows_the_verdict_the_arms_and_how_to_reproduce() -> None:
    page = render_finetune_report(record())
    assert "The advice to fine-tune (plateau-finetune) is confirmed" in page
    assert "gain +0.700" in page
    assert "best prompt, fine-tuned model" in page and "opt-auto-1" in page
    assert "t&lt;b&gt;" in page and "t<b>" not in page
    assert page.count("<svg") == 2
    assert "9 of 10 greedy test replies identical" in page
    assert "(50 labelled now)" in page
    assert "promptsuite finetune suites/codes.yaml --curve" in page
    assert "local:+lora:out/adapter.gguf" in page


def test_after_a_reached_target_the_page_confirms_no_advice() -> None:
    judged = record().judgement
    assert judged is not None
    reached = Verdict(code="target-reached", headline="Use the prompt.", reasons=())
    judgement = judged.model_copy(update={"advice_before": reached})
    page = render_finetune_report(record().model_copy(update={"judgement": judgement}))
    assert "The advice to fine-tune" not in page
    assert (
        "Fine-tuning against the best prompt is confirmed on the held-out test cases; the "
        "advice (target-reached) did not call for fine-tuning"
    ) in page


def test_a_record_without_a_retest_renders_without_a_verdict() -> None:
    trained = record().model_copy(update={"retest": None, "agreement": None, "judgement": None})
    page = render_finetune_report(trained)
    assert "Trained only" in page and page.count("<svg") == 1


def test_a_version_1_record_renders_as_it_did() -> None:
    page = render_finetune_report(read_finetune_record(FIXTURES / "finetune_v1.json"))
    # An undecided advice did not call for fine-tuning: the finding is about the arms only.
    assert (
        "Fine-tuning against the best prompt is inconclusive on the held-out test cases; the "
        "advice (undecided) did not call for fine-tuning"
    ) in page
    assert "prompt tokens per call at inference, your prompt (what the fine-tuned" in page
    assert "(9 labelled now)" in page
    assert page.count("<svg") == 2
