"""The fine-tune page renders a record: verdict, arms, per-tag table, curves, reproduce line."""

from __future__ import annotations

from typing import Any

from promptsuite.finetune import compare_arms, per_tag, verdict_of
from promptsuite.optimize.analysis import fit_learning_curve
from promptsuite.report import render_finetune_report


def arm(passed: list[bool]) -> list[dict[str, Any]]:
    return [
        {"case_id": f"c{i}", "tags": ["t<b>"], "scores": [float(ok)], "passes": [ok], "output": ""}
        for i, ok in enumerate(passed)
    ]


def record() -> dict[str, Any]:
    test = {
        "baseline": arm([False] * 10),
        "prompt": arm([False] * 8 + [True, True]),
        "finetuned": arm([True] * 9 + [False]),
        "both": arm([True] * 10),
    }
    main = compare_arms(test["prompt"], test["finetuned"])
    curve = fit_learning_curve([(5, 0.4), (10, 0.6), (20, 0.9)], target=0.8, train_share=0.4)
    return {
        "suite": "codes",
        "suite_path": "suites/codes.yaml",
        "base_model": {"file": "SmolLM2.gguf", "size": 1},
        "adapter": {"path": "out/adapter.gguf", "sha256": "ab" * 32, "bytes": 10, "matrices": 7},
        "seed": 0,
        "config": {"rank": 16},
        "rows": {"train": 20, "val": 5, "test": 10},
        "load_s": 30.0,
        "training": {
            "losses": [3.0, 1.0, 0.5],
            "val_losses": [[3, 0.6]],
            "best_step": 3,
            "steps": 3,
            "planned_steps": 3,
            "stopped": "epochs",
            "train_s": 15.0,
            "step_s": 5.0,
            "train_tokens": 900,
            "target_tokens": 60,
            "trainable_params": 1000,
        },
        "peak_rss_mb": 3000.0,
        "curve_runs": [{"share": 0.25, "rows": 5, "steps": 1, "train_s": 5.0}],
        "total_s": 200.0,
        "command": "promptsuite finetune suites/codes.yaml --curve",
        "arms": {
            "baseline": {"model": "local", "variant": "default"},
            "prompt": {"model": "local", "variant": "opt-auto-1"},
            "finetuned": {"model": "+lora:out/adapter.gguf", "variant": "default"},
            "both": {"model": "+lora:out/adapter.gguf", "variant": "opt-auto-1"},
        },
        "test": test,
        "comparisons": {
            "finetuned_vs_prompt": main,
            "both_vs_prompt": compare_arms(test["prompt"], test["both"]),
        },
        "verdict": verdict_of(main),
        "per_tag": per_tag(test),
        "advice_before": {"code": "plateau-finetune"},
        "curve": {**curve.to_dict(), "labelled_now": 50},
        "agreement": {
            "cases": 10,
            "identical": 9,
            "identical_stripped": 10,
            "differences": [],
        },
    }


def test_the_page_shows_the_verdict_the_arms_and_how_to_reproduce() -> None:
    page = render_finetune_report(record())
    assert "The advice to fine-tune (plateau-finetune) is confirmed" in page
    assert "gain +0.700" in page
    assert "best prompt, fine-tuned model" in page and "opt-auto-1" in page
    assert "t&lt;b&gt;" in page and "t<b>" not in page
    assert page.count("<svg") == 2
    assert "9 of 10 greedy test replies identical" in page
    assert "promptsuite finetune suites/codes.yaml --curve" in page
    assert "local:+lora:out/adapter.gguf" in page


def test_a_record_without_a_retest_renders_without_a_verdict() -> None:
    data = record()
    for key in ("comparisons", "test", "agreement", "curve", "per_tag", "arms"):
        data.pop(key)
    page = render_finetune_report(data)
    assert "Trained only" in page and page.count("<svg") == 1
