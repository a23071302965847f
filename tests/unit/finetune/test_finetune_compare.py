"""The verdict on the advice: paired gain with its interval, fixed and broken cases, per tag."""

from __future__ import annotations

import pytest

from promptsuite.finetune import TagRow, compare_arms, per_tag, verdict_of
from promptsuite.optimize import CaseScore


def arm(passed: list[bool], tags: list[str] | None = None) -> list[CaseScore]:
    return [
        CaseScore(
            case_id=f"c{i}",
            split="test",
            tags=[tags[i]] if tags else [],
            scores=[1.0 if ok else 0.0],
            passes=[ok],
        )
        for i, ok in enumerate(passed)
    ]


def test_a_clear_gain_confirms_the_advice() -> None:
    prompt = arm([False] * 18 + [True, True])
    tuned = arm([True] * 16 + [False, False, True, False])
    result = compare_arms(prompt, tuned)
    assert (result.reference_score, result.candidate_score) == (0.1, 0.85)
    assert result.gain == pytest.approx(0.75)
    assert result.fixed == [f"c{i}" for i in range(16)]
    assert result.broken == ["c19"]
    assert result.ci_low > 0 and verdict_of(result) == "confirmed"


def test_no_gain_refutes_and_a_small_one_is_inconclusive() -> None:
    same = arm([True, False] * 10)
    assert verdict_of(compare_arms(same, same)) == "refuted"
    nudged = arm([True, False] * 9 + [True, True])
    assert verdict_of(compare_arms(same, nudged)) == "inconclusive"


def test_cases_are_paired_by_id_not_position() -> None:
    prompt = arm([False, True])
    tuned = list(reversed(arm([False, True])))
    assert compare_arms(prompt, tuned).gain == 0


def test_per_tag_means_every_arm() -> None:
    tags = ["a", "a", "b"]
    rows = per_tag({"prompt": arm([False, True, False], tags), "finetuned": arm([True] * 3, tags)})
    assert rows == [
        TagRow(tag="a", cases=2, prompt=0.5, finetuned=1.0),
        TagRow(tag="b", cases=1, prompt=0.0, finetuned=1.0),
    ]
    assert rows[0].score("finetuned") == 1.0 and rows[0].score("both") is None
