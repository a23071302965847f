"""Each rule of the advice on its own, and the table they form."""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from promptsuite.optimize.analysis import (
    MIN_HELD_OUT,
    VERDICT_RULES,
    Consistency,
    ConsistencyRow,
    Evidence,
    FailureFacts,
    FinalScore,
    LabelFacts,
    Plateau,
    SearchFacts,
    StopFacts,
    Verdict,
    decide,
    estimate_gain,
)

DOCS = Path(__file__).parents[3] / "docs" / "optimize.md"
RULE = {rule.__name__: rule for rule in VERDICT_RULES}
FAILING = ("the best prompt fails 9 test cases: 9 knowledge",)
EXTRA = ("against your prompt on 20 test cases: +0.100", "cost: 1.8x the tokens")
PRIOR = "a line an earlier rule added"

LIMIT = StopFacts(
    reason="max-calls",
    detail="the --max-calls 100 limit ran out (100 calls spent)",
    candidates=2,
    complete=1,
    unit="calls",
    per_candidate=29.0,
)


def plateau(*, decided: bool = True, plateaued: bool = True, gain: float = 0.0) -> Plateau:
    return Plateau(
        decided=decided,
        plateaued=plateaued,
        window=4,
        margin=0.01,
        confidence=0.8,
        gain=gain,
        ci_low=gain / 2,
        ci_high=gain * 1.5,
        sd_gain=0.3,
        n_cases=40,
        start_index=3 if decided else None,
        best_index=7,
        plateau_point=4 if plateaued else None,
        cases_to_decide=None,
        reason=f"the plateau's own line (gain {gain})",
    )


def evidence(**changes: Any) -> Evidence:
    """A plateau below the target on 20 held-out cases, with demos tried and few labels."""
    base = Evidence(
        plateau=plateau(),
        final=FinalScore(score=0.6, source="test", held_out=20),
        target=0.9,
        budget=12,
        search=SearchFacts(candidates=8, demos_tried=True, train_references=6),
        labels=LabelFacts(labelled=20, needs_reference=0, min_examples=50),
        failures=FailureFacts(kind="knowledge", reasons=FAILING),
        extra_reasons=EXTRA,
    )
    return replace(base, **changes)


def apply(name: str, facts: Evidence) -> tuple[Verdict | None, list[str]]:
    """The rule's answer, and the reason lines after it ran on one earlier line."""
    reasons = [PRIOR]
    return RULE[name](facts, reasons), reasons


def passes(name: str, facts: Evidence) -> None:
    """The rule neither decides nor adds a line."""
    assert apply(name, facts) == (None, [PRIOR])


def test_the_table_is_in_the_order_the_docs_give() -> None:
    assert len(RULE) == len(VERDICT_RULES)
    section = DOCS.read_text(encoding="utf-8").split("**The rules.**", 1)[1]
    table = section.split("\n\n")[1]
    assert re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE) == list(RULE)
    docstring = sys.modules[decide.__module__].__doc__ or ""
    assert re.findall(r"^``([a-z_]+)``  ", docstring, flags=re.MULTILINE) == list(RULE)


def test_the_last_rule_always_decides_so_decide_always_answers() -> None:
    last = VERDICT_RULES[-1]
    for labelled in (0, 49, 50, 500):
        facts = evidence(labels=LabelFacts(labelled=labelled))
        assert isinstance(last(facts, []), Verdict)
        assert isinstance(decide(facts), Verdict)


def test_decide_gives_the_first_verdict_with_every_line_added_before_it() -> None:
    verdict = decide(evidence())
    assert verdict.code == "plateau-collect"
    assert verdict.reasons == (
        "best test score 0.600 against a target of 0.9",
        "the plateau's own line (gain 0.0)",
        "20 train/validation cases have a reference answer; fine-tuning is advised from 50 "
        "(OpenAI requires 10 and sees clear gains from 50-100)",
        *FAILING,
        *EXTRA,
    )


@pytest.mark.parametrize(
    "facts",
    [
        evidence(),
        evidence(final=FinalScore(score=0.95, source="test", consistent_score=0.7)),
        evidence(final=FinalScore(score=0.5, source="val", held_out=2)),
        evidence(search=SearchFacts(0, False, 0, ("why",)), stopped_early="boom"),
        evidence(plateau=plateau(plateaued=False, gain=0.2)),
        evidence(plateau=plateau(decided=False), stop=LIMIT),
    ],
)
def test_a_rule_only_ever_appends_reason_lines(facts: Evidence) -> None:
    for name in RULE:
        verdict, reasons = apply(name, facts)
        assert reasons[0] == PRIOR, name
        if verdict is not None:
            assert verdict.reasons[: len(reasons)] == tuple(reasons), name


def test_state_the_score() -> None:
    assert apply("state_the_score", evidence()) == (
        None,
        [PRIOR, "best test score 0.600 against a target of 0.9"],
    )
    val = evidence(final=FinalScore(score=0.95, source="val"), target=0.85)
    assert apply("state_the_score", val)[1][-1] == "best val score 0.950 against a target of 0.85"


def test_too_few_held_out_cases() -> None:
    few = evidence(final=FinalScore(score=0.95, source="test", held_out=MIN_HELD_OUT - 1))
    verdict, reasons = apply("too_few_held_out_cases", few)
    assert verdict is not None and verdict.code == "undecided"
    assert verdict.headline == "Undecided: too few held-out test cases to judge."
    assert reasons[-1].startswith("only 4 held-out test cases: too few to tell")
    assert verdict.reasons == (*reasons, *FAILING, *EXTRA)
    passes("too_few_held_out_cases", evidence(final=FinalScore(0.95, "test", None, MIN_HELD_OUT)))
    # Without test results, the next rule says so instead.
    passes("too_few_held_out_cases", evidence(final=FinalScore(0.95, "val", None, 2)))


def test_no_held_out_results() -> None:
    verdict, reasons = apply("no_held_out_results", evidence(final=FinalScore(0.95, "val")))
    assert verdict is not None and verdict.code == "undecided"
    assert verdict.headline == "Undecided: nothing was verified on held-out test cases."
    assert reasons[-1].startswith("no held-out test results: a verdict needs the test split")
    assert verdict.reasons == (*reasons, *FAILING, *EXTRA)
    passes("no_held_out_results", evidence())


def test_note_unreliable_passes() -> None:
    unreliable = evidence(final=FinalScore(score=0.95, source="test", consistent_score=0.7))
    verdict, reasons = apply("note_unreliable_passes", unreliable)
    assert verdict is None
    assert reasons[-1] == (
        "passes on average but not reliably: 0.700 when each case counts its worst repeat, "
        "below the target"
    )
    passes("note_unreliable_passes", evidence(final=FinalScore(0.95, "test", 0.9)))
    passes("note_unreliable_passes", evidence(final=FinalScore(0.95, "test", None)))
    # Below the target on average, the worst repeats add nothing.
    passes("note_unreliable_passes", evidence(final=FinalScore(0.6, "test", 0.4)))


def test_target_reached_leaves_out_where_prompting_fails() -> None:
    for consistent in (None, 0.9):
        reached = evidence(final=FinalScore(score=0.9, source="test", consistent_score=consistent))
        verdict, reasons = apply("target_reached", reached)
        assert verdict is not None and verdict.code == "target-reached"
        assert verdict.headline.startswith("Target reached by prompting")
        assert verdict.reasons == (PRIOR, *EXTRA)
        assert reasons == [PRIOR]
    passes("target_reached", evidence(final=FinalScore(0.95, "test", 0.89)))
    passes("target_reached", evidence(final=FinalScore(0.89, "test", None)))


def test_stopped_by_a_limit() -> None:
    early = evidence(stop=LIMIT, plateau=plateau(decided=False))
    verdict, reasons = apply("stopped_by_a_limit", early)
    assert verdict is not None and verdict.code == "undecided"
    assert verdict.headline == (
        "Undecided: the spending limit stopped the search before a plateau could be judged; "
        "about 87 calls more would decide it."
    )
    assert reasons == [
        PRIOR,
        "the --max-calls 100 limit ran out (100 calls spent): 2 candidates recorded, 1 of them "
        "scored on every validation case",
        "a plateau is judged over 4 candidates after a first: 3 more candidates, at about 29 "
        "calls each",
    ]
    assert verdict.reasons == (*reasons, *FAILING, *EXTRA)
    dollars = replace(LIMIT, unit="USD", per_candidate=0.004, sampling="cut after 8 of 16 cases")
    verdict, reasons = apply("stopped_by_a_limit", replace(early, stop=dollars))
    assert verdict is not None and "about 0.01 USD more would decide it" in verdict.headline
    assert "the sampling stage stopped early: cut after 8 of 16 cases" in reasons
    assert "3 more candidates, at about 0.0040 USD each" in reasons[-1]
    # Before any candidate was scored on every case, what one costs is unknown.
    unknown = replace(early, stop=replace(LIMIT, per_candidate=None))
    verdict, _ = apply("stopped_by_a_limit", unknown)
    assert verdict is not None and verdict.headline.endswith("; a larger limit would decide it.")
    # A plateau judged on what the limit left: the line, and the next rules decide.
    verdict, reasons = apply("stopped_by_a_limit", evidence(stop=LIMIT))
    assert verdict is None and reasons[-1].startswith("the --max-calls 100 limit ran out")
    passes("stopped_by_a_limit", evidence())
    passes("stopped_by_a_limit", evidence(stop=replace(LIMIT, reason="plateau", unit=None)))


def test_stopped_at_the_target() -> None:
    stop = StopFacts("target", "candidate 1 clearly reached the target 0.9 on validation", 2, 2)
    verdict, reasons = apply("stopped_at_the_target", evidence(stop=stop))
    assert verdict is not None and verdict.code == "undecided"
    assert "search the whole budget with --no-racing" in verdict.headline
    assert reasons[-1] == (
        "the search stopped early: candidate 1 clearly reached the target 0.9 on validation; "
        "the held-out test cases did not confirm it"
    )
    assert verdict.reasons == (*reasons, *FAILING, *EXTRA)
    passes("stopped_at_the_target", evidence())
    passes("stopped_at_the_target", evidence(stop=replace(stop, reason="plateau")))
    # Confirmed on the test split, the target rule has already decided.
    reached = evidence(stop=stop, final=FinalScore(score=0.95, source="test", held_out=20))
    assert decide(reached).code == "target-reached"


def test_empty_search() -> None:
    why = ("no train case has a reference answer", "none passed")
    empty = evidence(search=SearchFacts(0, False, 0, why))
    verdict, reasons = apply("empty_search", empty)
    assert verdict is not None and verdict.code == "undecided"
    assert "found nothing to compare" in verdict.headline
    assert reasons == [PRIOR, "the search recorded no candidate besides your prompt", *why]
    assert verdict.reasons == (*reasons, *FAILING, *EXTRA)
    passes("empty_search", evidence(search=SearchFacts(1, False, 0, why)))


def test_stopped_before_a_plateau() -> None:
    stopped = evidence(stopped_early="ValueError: no instruction", plateau=plateau(decided=False))
    verdict, reasons = apply("stopped_before_a_plateau", stopped)
    assert verdict is not None and verdict.code == "undecided"
    assert "stopped before it produced enough candidates" in verdict.headline
    assert reasons[-1] == "the optimizer stopped early: ValueError: no instruction"
    assert verdict.reasons == (*reasons, *FAILING, *EXTRA)
    # A plateau judged on what it produced, or a search that ran to its budget, go on.
    passes("stopped_before_a_plateau", replace(stopped, plateau=plateau()))
    passes("stopped_before_a_plateau", replace(stopped, stopped_early=None))


def test_no_labelled_demos() -> None:
    unlabelled = evidence(search=SearchFacts(8, False, 0, ("why",)))
    verdict, reasons = apply("no_labelled_demos", unlabelled)
    assert verdict is not None and verdict.code == "undecided"
    assert verdict.headline == "Undecided: prompting was tried without labelled examples only."
    assert "state `reference:` on cases" in reasons[-2] and reasons[-1] == "why"
    assert verdict.reasons == (*reasons, *FAILING, *EXTRA)
    passes("no_labelled_demos", evidence(search=SearchFacts(8, True, 0)))
    passes("no_labelled_demos", evidence(search=SearchFacts(8, False, 1)))
    # Samples that never passed are evidence, not silence: the next rules decide.
    sampled = evidence(search=SearchFacts(8, False, 0), consistency=sampled_gap())
    passes("no_labelled_demos", sampled)


def sampled_gap(never: int = 9, cases: int = 12) -> Consistency:
    """Sampled train cases, ``never`` of ``cases`` (all tagged ``refunds``) never passing."""
    row = ConsistencyRow("refunds", cases, 1, cases, cases - never, 6, cases * 4, 0, 3, never)
    return Consistency(
        model="local",
        samples=4,
        temperature=0.7,
        overall=dataclasses.replace(row, group="all"),
        tags=(row,),
        cases=(),
    )


def test_note_consistency() -> None:
    verdict, reasons = apply("note_consistency", evidence(consistency=sampled_gap()))
    assert verdict is None
    assert reasons[1].startswith("consistency on 12 sampled train cases (local): pass@1 8%")
    assert reasons[2] == (
        "in 4 samples the model never produced a passing reply for 9 of 12 train cases "
        "tagged refunds"
    )
    passes("note_consistency", evidence())


def test_a_sampled_gap_is_named_in_the_plateau_headline() -> None:
    facts = evidence(failures=FailureFacts(), consistency=sampled_gap())
    verdict = decide(facts)
    assert verdict.code == "plateau-collect"
    assert "never produced a passing reply for 9 of 12 train cases" in verdict.headline
    assert "knowledge gap" in verdict.headline
    few = decide(evidence(failures=FailureFacts(), consistency=sampled_gap(never=2)))
    assert "never produced" not in few.headline


def test_nothing_passed_to_learn_from() -> None:
    """No train reference and a sampled gap: collect labels, even while instructions drift up."""
    improving = plateau(plateaued=False, gain=0.05)
    facts = evidence(
        plateau=improving, search=SearchFacts(5, False, 0), consistency=sampled_gap(12, 12)
    )
    verdict, reasons = apply("nothing_passed_to_learn_from", facts)
    assert verdict is not None and verdict.code == "plateau-collect"
    assert verdict.collect_more == 30
    assert verdict.headline.startswith(
        "Prompting without examples cannot close this gap: in 4 samples the model never "
        "produced a passing reply for 12 of 12 train cases; label passing replies for about 30"
    )
    assert reasons[1] == improving.reason
    assert reasons[2].startswith("consistency on 12 sampled train cases (local)")
    assert any("tried instructions only" in line for line in reasons)
    assert verdict.reasons == (*reasons, *FAILING, *EXTRA)
    # The whole table gives it too, ahead of "still improving".
    assert decide(facts).code == "plateau-collect"
    # Demos tried, a reference to show, a sampled share under the gap, or no samples: go on.
    passes("nothing_passed_to_learn_from", replace(facts, search=SearchFacts(5, True, 0)))
    passes("nothing_passed_to_learn_from", replace(facts, search=SearchFacts(5, False, 2)))
    passes("nothing_passed_to_learn_from", replace(facts, consistency=sampled_gap(5, 12)))
    passes("nothing_passed_to_learn_from", replace(facts, consistency=None))


def test_state_the_plateau() -> None:
    undecided = plateau(decided=False)
    verdict, reasons = apply("state_the_plateau", evidence(plateau=undecided))
    assert verdict is None and reasons == [PRIOR, undecided.reason]


def test_too_early_for_a_plateau() -> None:
    verdict, reasons = apply("too_early_for_a_plateau", evidence(plateau=plateau(decided=False)))
    assert verdict is not None and verdict.code == "undecided"
    assert verdict.headline == (
        "Undecided: too few candidates to judge a plateau; raise --budget above 12."
    )
    assert verdict.reasons == (PRIOR, *FAILING, *EXTRA) and reasons == [PRIOR]
    passes("too_early_for_a_plateau", evidence())


def test_still_improving_estimates_a_longer_search() -> None:
    improving = evidence(plateau=plateau(plateaued=False, gain=0.2))
    verdict, reasons = apply("still_improving", improving)
    assert verdict is not None and verdict.code == "still-improving"
    assert verdict.gain_estimate == estimate_gain(improving.plateau, 0.6, 0.9, 12)
    assert reasons[1].startswith("extending the search by 12 candidates might gain about +0.400")
    assert reasons[2] == "at the recent slope the target is about 7 candidates away"
    assert verdict.reasons == (*reasons, *FAILING, *EXTRA)
    # At the target on average (but not reliably) there is no distance to the target.
    above = replace(improving, final=FinalScore(score=0.95, source="test", consistent_score=0.7))
    verdict, reasons = apply("still_improving", above)
    assert verdict is not None and len(reasons) == 2
    passes("still_improving", evidence())


def test_note_resistant_cases() -> None:
    resistant = evidence(failures=FailureFacts(resistant=1))
    assert apply("note_resistant_cases", resistant) == (
        None,
        [PRIOR, "1 cases were never solved by any prompt variant"],
    )
    passes("note_resistant_cases", evidence(failures=FailureFacts(resistant=0)))


def test_format_failures() -> None:
    wrapped = evidence(failures=FailureFacts(kind="format", reasons=FAILING))
    verdict, reasons = apply("format_failures", wrapped)
    assert verdict is not None and verdict.code == "plateau-format"
    assert "fix the prompt's format or add checks" in verdict.headline
    assert verdict.reasons == (*reasons, *FAILING, *EXTRA)
    passes("format_failures", evidence())
    passes("format_failures", evidence(failures=FailureFacts(kind=None)))


def test_count_the_labels_names_where_the_threshold_comes_from() -> None:
    verdict, reasons = apply("count_the_labels", evidence())
    assert verdict is None
    assert reasons[-1] == (
        "20 train/validation cases have a reference answer; fine-tuning is advised from 50 "
        "(OpenAI requires 10 and sees clear gains from 50-100)"
    )
    measured = evidence(labels=LabelFacts(labelled=12, min_examples=30, basis="a measured curve"))
    assert apply("count_the_labels", measured)[1][-1] == (
        "12 train/validation cases have a reference answer; a measured curve"
    )


def test_count_the_missing_references() -> None:
    missing = evidence(labels=LabelFacts(labelled=20, needs_reference=7))
    assert apply("count_the_missing_references", missing) == (
        None,
        [PRIOR, "7 cases need a reference answer written by a person"],
    )
    passes("count_the_missing_references", evidence())


def test_enough_labels_to_finetune() -> None:
    enough = evidence(labels=LabelFacts(labelled=50, min_examples=50))
    verdict, reasons = apply("enough_labels_to_finetune", enough)
    assert verdict is not None and verdict.code == "plateau-finetune"
    assert verdict.headline == (
        "Prompting has plateaued below the target; the model lacks the knowledge (right "
        "shape, wrong content): fine-tuning is advised."
    )
    assert verdict.reasons == (*reasons, *FAILING, *EXTRA) and verdict.collect_more is None
    unclassified = replace(enough, failures=FailureFacts(kind=None))
    verdict = apply("enough_labels_to_finetune", unclassified)[0]
    assert verdict is not None
    assert verdict.headline == "Prompting has plateaued below the target; fine-tuning is advised."
    passes("enough_labels_to_finetune", evidence(labels=LabelFacts(labelled=49, min_examples=50)))


def test_collect_more_labels_says_how_many() -> None:
    verdict, reasons = apply("collect_more_labels", evidence())
    assert verdict is not None and verdict.code == "plateau-collect"
    assert verdict.collect_more == 30
    assert verdict.headline.endswith(
        "lacks the knowledge (right shape, wrong content): there are "
        "too few labelled cases to fine-tune: collect about 30 more."
    )
    assert verdict.reasons == (*reasons, *FAILING, *EXTRA) and reasons == [PRIOR]
    unclassified = evidence(failures=FailureFacts(kind=None), labels=LabelFacts(labelled=45))
    verdict = apply("collect_more_labels", unclassified)[0]
    assert verdict is not None and verdict.collect_more == 5
    assert verdict.headline == (
        "Prompting has plateaued below the target; there are too few labelled cases to "
        "fine-tune: collect about 5 more."
    )
