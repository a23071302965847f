"""The fine-tune record: typed parts, round-tripped, and version 1 records read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptsuite._schema import write_record
from promptsuite.errors import ConfigError
from promptsuite.finetune import ArmComparison, PromptTokens, read_finetune_record
from promptsuite.optimize import CaseScore, mean_score

FIXTURES = Path(__file__).parent / "fixtures"


def saved(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def test_a_version_1_record_is_read_with_its_parts_grouped_by_stage() -> None:
    data = saved("finetune_v1.json")
    record = read_finetune_record(FIXTURES / "finetune_v1.json")
    assert (data["version"], record.version) == (1, 2)
    assert record.training.losses == data["training"]["losses"]
    assert record.config.rank == data["config"]["rank"]
    retest = record.retest
    assert retest is not None
    assert list(retest.arms) == list(data["arms"])
    for name, scores in data["test"].items():
        assert retest.test[name] == [CaseScore.model_validate(s) for s in scores]
    assert retest.runner.base.model_calls == data["runner"]["base"]["model_calls"]
    assert retest.curve_scores == {float(k): v for k, v in data["curve_scores"].items()}
    assert record.agreement is not None
    assert record.agreement.identical_stripped == data["agreement"]["identical_stripped"]
    judgement = record.judgement
    assert judgement is not None
    assert judgement.verdict == data["verdict"]
    saved_main = data["comparisons"]["finetuned_vs_prompt"]
    assert judgement.comparisons.finetuned_vs_prompt == ArmComparison(**saved_main)
    # The arm's mean score, computed once (CaseScore.score), is the comparison's.
    assert mean_score(retest.test["finetuned"]) == pytest.approx(saved_main["candidate_score"])
    assert [row.model_dump(exclude_none=True) for row in judgement.per_tag] == data["per_tag"]
    tokens = data["prompt_tokens_per_call"]
    assert judgement.prompt_tokens_per_call == PromptTokens(
        your_prompt=tokens["your prompt"], best_prompt=tokens["best prompt"]
    )
    assert judgement.advice_before is not None
    assert judgement.advice_before.code == data["advice_before"]["code"]
    assert (
        judgement.curve is not None
        and judgement.curve.cases_needed == data["curve"]["cases_needed"]
    )
    assert judgement.labelled_now == data["curve"]["labelled_now"]
    assert judgement.advice_after is not None
    assert judgement.advice_after.headline == data["advice_after"]["headline"]


def test_a_version_1_record_without_a_retest_has_no_retest_parts() -> None:
    record = read_finetune_record(FIXTURES / "finetune_v1_no_test.json")
    assert (record.retest, record.agreement, record.judgement) == (None, None, None)
    assert record.training.steps == saved("finetune_v1_no_test.json")["training"]["steps"]


def test_a_record_round_trips(tmp_path: Path) -> None:
    record = read_finetune_record(FIXTURES / "finetune_v1.json")
    write_record(tmp_path / "finetune.json", record)
    assert read_finetune_record(tmp_path) == record
    assert json.loads((tmp_path / "finetune.json").read_text(encoding="utf-8"))["version"] == 2


def test_what_is_not_a_fine_tune_record_is_one_line_naming_the_file(tmp_path: Path) -> None:
    other = Path(__file__).parents[1] / "optimize" / "fixtures" / "optimization_v1.json"
    with pytest.raises(ConfigError) as caught:
        read_finetune_record(other)
    message = str(caught.value)
    assert message.startswith(f"{other}: not a fine-tune record (") and "\n" not in message
    with pytest.raises(ConfigError, match=r"finetune\.json: cannot read a fine-tune record"):
        read_finetune_record(tmp_path)


def test_the_epoch_kept_is_read_off_the_validation_losses() -> None:
    training = read_finetune_record(FIXTURES / "finetune_v1.json").training
    kept = training.kept_epoch
    assert kept is not None and training.val_losses[kept - 1][0] == training.best_step
    moved = training.model_copy(update={"best_step": training.val_losses[0][0]})
    assert moved.kept_epoch == 1
    assert training.model_copy(update={"val_losses": []}).kept_epoch is None
