"""The labels file, what the judges judged, calibration and which verdicts rest on a judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptsuite.errors import ConfigError
from promptsuite.gate import digest
from promptsuite.labels import (
    LABELLED_BY_A_PERSON,
    CalibrationReport,
    Label,
    LabelsFile,
    PlacedLabel,
    calibrate,
    case_rests_on,
    check_names,
    gate_rests_on,
    judged_outputs,
    labelled_references,
    labels_path,
    read_labels,
    save_label,
)
from promptsuite.results import CaseResult, CheckResult, RepeatResult

RUBRIC = "is helpful"


def judge_check(passed: bool, *, grader: str = "g", weight: float = 1.0) -> CheckResult:
    return CheckResult(
        "judge", passed, float(passed), "r", weight, "helpful", grader=grader, rubric=RUBRIC
    )


def regex_check(passed: bool) -> CheckResult:
    return CheckResult("regex", passed, float(passed), "r", 1.0, "format")


def case(
    case_id: str,
    output: str,
    checks: list[CheckResult],
    *,
    threshold: float | None = None,
    suite_path: str = "suites/s.yaml",
) -> CaseResult:
    passed = all(c.passed for c in checks if c.weight > 0)
    score = sum(c.score * c.weight for c in checks) / (sum(c.weight for c in checks) or 1)
    if threshold is not None:
        passed = score >= threshold
    repeat = RepeatResult(0, output, None, checks, passed, score)
    return CaseResult(
        f"{suite_path}::{case_id}[m]",
        "s",
        suite_path,
        case_id,
        "m",
        {},
        "default",
        [],
        [{"role": "user", "content": "q"}],
        [repeat],
        passed,
        score,
        threshold=threshold,
    )


def label(case_id: str, output: str, verdict: str = "pass", **extra: object) -> Label:
    return Label.model_validate(
        {
            "case": case_id,
            "check": "helpful",
            "output_digest": digest(output),
            "label": verdict,
            "output": output,
            "rubric": RUBRIC,
            **extra,
        }
    )


def labels_of(*labels: Label) -> LabelsFile:
    return LabelsFile("l.jsonl", [PlacedLabel(lab, i + 1) for i, lab in enumerate(labels)])


def test_check_names_use_metric_type_turn_and_a_counter_for_repeats() -> None:
    checks = [
        CheckResult("judge", True, 1, "", 1, "tone"),
        CheckResult("judge", True, 1, "", 1),
        CheckResult("judge", True, 1, "", 1, "tone"),
        CheckResult("judge", True, 1, "", 1, "tone", turn=2),
    ]
    assert check_names(checks) == ["tone", "judge", "tone#2", "turn 2: tone"]


def test_a_turns_check_judges_that_turns_reply() -> None:
    transcript = [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "hi", "turn": 1},
        {"role": "assistant", "content": "hello", "turn": 1},
        {"role": "user", "content": "bye", "turn": 2},
        {"role": "assistant", "content": "goodbye", "turn": 2},
    ]
    check = CheckResult("judge", True, 1, "", 1, "polite", turn=1, grader="g", rubric=RUBRIC)
    repeat = RepeatResult(0, "hello\ngoodbye", None, [check], True, 1.0, transcript=transcript)
    result = case("talk", "x", [])
    result = CaseResult(**{**result.__dict__, "repeats": [repeat]})
    (judged,) = judged_outputs([result])
    assert judged.output == "hello"
    assert judged.check == "turn 1: polite"
    assert judged.context == (("system", "be nice"), ("user", "hi"))


def test_reading_reports_each_bad_line_and_applies_none_of_them(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    good = label("a", "out a")
    lines = [
        good.line(),
        "",
        good.line(),
        label("b", "out b").line(),
        label("b", "out b", "fail").line(),
        json.dumps({**json.loads(good.line()), "output_digest": digest("other")}),
        json.dumps({**json.loads(good.line()), "version": 2}),
        json.dumps({**json.loads(good.line()), "score": 3}),
        "[1, 2]",
        json.dumps({"case": "c"}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = read_labels(path, "x.jsonl")
    assert [p.label.case for p in found.labels] == ["a"]
    assert found.problems == [
        "x.jsonl:3: label: a duplicate of line 1 (case 'a', check 'helpful', output"
        f" {digest('out a')}); expected one label per output: delete one",
        "x.jsonl:5: label: 'fail' conflicts with 'pass' on line 4 for the same output (case"
        " 'b', check 'helpful'); expected one verdict per output: keep one (neither is applied)",
        f"x.jsonl:6: output_digest: {digest('other')} is not the digest of the label's output"
        f" (expected {digest('out a')})",
        "x.jsonl:7: version: expected 1: this promptsuite reads labels of version 1",
        "x.jsonl:8: score: Input should be less than or equal to 1",
        "x.jsonl:9: (line): expected a JSON object, got list",
        "x.jsonl:10: check: Field required",
    ]


def test_a_missing_file_has_no_labels_and_an_unreadable_one_is_one_error(tmp_path: Path) -> None:
    assert read_labels(tmp_path / "none.jsonl").labels == []
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match=r"bad\.jsonl: cannot read the labels file"):
        read_labels(bad)


def test_saving_replaces_the_same_output_and_keeps_every_other_line(tmp_path: Path) -> None:
    path = labels_path("suites/s.yaml", tmp_path)
    assert path == tmp_path / "suites" / "__labels__" / "s.jsonl"
    save_label(path, label("a", "out a"))
    path.write_text(path.read_text() + "{broken\n", encoding="utf-8")
    save_label(path, label("b", "out b"))
    save_label(path, label("a", "out a", "fail"))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "{broken"
    assert [json.loads(x)["case"] for x in lines[1:]] == ["b", "a"]
    assert json.loads(lines[2])["label"] == "fail"


def test_calibrate_pairs_labels_with_verdicts_and_locates_what_it_cannot_apply() -> None:
    cases = [
        case("a", "out a", [judge_check(True)]),
        case("b", "out b", [judge_check(False)]),
        case("c", "out c", [judge_check(True)]),
    ]
    labels = labels_of(
        label("a", "out a"),
        label("b", "out b", "fail"),
        label("c", "old c"),  # the output changed since
        label("gone", "x"),
        Label.model_validate({**label("a", "out a").model_dump(), "check": "tone"}),
        Label.model_validate({**label("b", "out b").model_dump(), "rubric": "other"}),
        label("waits", "y"),  # a case of the suite that did not run
    )
    report = calibrate(
        cases, {"suites/s.yaml": labels}, {"suites/s.yaml": {"a", "b", "c", "waits"}}
    )
    (judge,) = report.judges
    assert judge.judge == f"judge@g#{digest(RUBRIC)[:8]}"
    assert (judge.n, judge.agreement, judge.kappa) == (2, 1.0, 1.0)
    assert report.unlabelled == 1
    assert report.problems == [
        "l.jsonl:3: output_digest: no output of case 'c' in these results has digest"
        f" {digest('old c')} (the output changed since it was labelled); expected a label of a"
        " current output: review it again",
        "l.jsonl:4: case: unknown case 'gone'; expected a case id of the suite",
        "l.jsonl:5: check: case 'a' has no model-graded check 'tone'; expected one of: 'helpful'",
        "l.jsonl:6: rubric: labelled against another rubric than check 'helpful' has now;"
        " expected the current rubric: review it again",
    ]
    assert not judge.trusted and "fewer than 20" in judge.reason


def test_a_judge_without_labels_is_listed_and_not_trusted() -> None:
    report = calibrate([case("a", "out", [judge_check(True, grader="big")])], {})
    (judge,) = report.judges
    assert (judge.n, judge.kappa, judge.trusted) == (0, None, False)
    assert judge.reason == "not trusted: no labels yet"


def report_trusting(*trusted: str) -> CalibrationReport:
    """A report in which the named graders' judges are trusted and others are absent."""
    cases, labels = [], []
    for grader in trusted:
        for i in range(20):
            output = f"{grader} {i}"
            cases.append(case(f"{grader}-{i}", output, [judge_check(i % 2 == 0, grader=grader)]))
            labels.append(label(f"{grader}-{i}", output, "pass" if i % 2 == 0 else "fail"))
    report = calibrate(cases, {"suites/s.yaml": labels_of(*labels)})
    assert all(j.trusted for j in report.judges)
    return report


def test_a_case_rests_on_an_untrusted_judge_only_when_it_could_change_the_verdict() -> None:
    report = report_trusting("good")
    untrusted = judge_check(True, grader="new")
    assert case_rests_on(case("x", "o", [untrusted, regex_check(True)]), report) is not None
    # A trusted check fails: the case fails whatever the judge says.
    assert case_rests_on(case("x", "o", [untrusted, regex_check(False)]), report) is None
    # A weight-0 judge never decides.
    shadow = judge_check(False, grader="new", weight=0)
    assert case_rests_on(case("x", "o", [shadow, regex_check(True)]), report) is None
    # A trusted judge decides on its own.
    assert case_rests_on(case("x", "o", [judge_check(True, grader="good")]), report) is None
    reason = case_rests_on(case("x", "o", [untrusted]), report)
    assert (
        reason == f"rests on judge@new#{digest(RUBRIC)[:8]} (helpful), not trusted: no labels yet"
    )


def test_with_a_threshold_the_score_bounds_decide() -> None:
    report = report_trusting("good")
    checks = [
        regex_check(True),
        regex_check(True),
        regex_check(True),
        judge_check(True, grader="new"),
    ]
    # 3 of 4 checks pass whatever the judge says: 0.75 >= 0.7 either way.
    assert case_rests_on(case("x", "o", checks, threshold=0.7), report) is None
    assert case_rests_on(case("x", "o", checks, threshold=0.9), report) is not None


def test_a_gate_rests_on_any_weighted_check_of_an_untrusted_judge() -> None:
    report = report_trusting("good")
    cases = [case("x", "o", [regex_check(False), judge_check(True, grader="new")])]
    assert gate_rests_on(cases, report) is not None
    assert gate_rests_on([case("x", "o", [regex_check(True)])], report) is None


def test_labelled_references_are_outputs_people_passed_and_never_failed(tmp_path: Path) -> None:
    path = labels_path("suites/s.yaml", tmp_path)
    save_label(path, label("a", "first", labelled_at="2026-01-01T00:00:00+00:00", labeller="ann"))
    save_label(path, label("a", "second", labelled_at="2026-02-01T00:00:00+00:00"))
    save_label(path, label("b", "mixed"))
    mixed = Label.model_validate({**label("b", "mixed", "fail").model_dump(), "check": "tone"})
    save_label(path, mixed)
    save_label(path, label("c", "bad", "fail"))
    references = labelled_references("suites/s.yaml", tmp_path)
    assert list(references) == ["a"]
    reference = references["a"]
    assert reference.output == "second" and reference.checks == ("helpful",)
    assert reference.provenance.startswith(f"{LABELLED_BY_A_PERSON} ({path}:2 on 2026-02-01")
