"""The gate's ``judge-calibration`` modes, through real pytest sessions (pytester).

Two suites echo their question back (the scripted model) and grade it with a scripted
judge: ``trusted.yaml``'s judge agrees with the people who labelled its 20 outputs;
``lenient.yaml``'s passes everything, outputs people failed included. Both suites have a
committed baseline, so each also has a gate item.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from promptsuite.gate import digest
from promptsuite.labels import Label

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

PASS = '{"reason": "it is good", "score": 1, "pass": true}'
FAIL = '{"reason": "it is bad", "score": 0, "pass": false}'


def suite(name: str, questions: list[str], responses: dict[str, str]) -> str:
    cases = "\n".join(f"  - {{id: {q.replace(' ', '-')}, vars: {{q: {q!r}}}}}" for q in questions)
    grader = json.dumps({"provider": "scripted", "label": f"{name}-grader", "responses": responses})
    return (
        textwrap.dedent(
            f"""
        name: {name}
        prompt: {{user: '{{{{ q }}}}'}}
        models: [{{provider: scripted, label: bot}}]
        defaults:
          expect:
            - {{type: judge, metric: quality, rubric: "says it is good", grader: {grader}}}
        cases:
        """
        )
        + cases
        + "\n"
    )


TRUSTED = [f"good answer {i}" for i in range(10)] + [f"bad answer {i}" for i in range(10)]
LENIENT = [f"good answer {i}" for i in range(3)] + [f"bad answer {i}" for i in range(3)]


def labels(questions: list[str]) -> str:
    """People's labels: an output saying "good" passes, one saying "bad" fails."""
    return "".join(
        Label(
            case=q.replace(" ", "-"),
            check="quality",
            output_digest=digest(q),
            label="pass" if q.startswith("good") else "fail",
            output=q,
            rubric="says it is good",
        ).line()
        + "\n"
        for q in questions
    )


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(
        ".yaml",
        **{
            "suites/trusted": suite("trusted", TRUSTED, {"good answer": PASS, "bad answer": FAIL}),
            "suites/lenient": suite("lenient", LENIENT, {"answer": PASS}),
        },
    )
    labelled = pytester.path / "suites" / "__labels__"
    labelled.mkdir()
    (labelled / "trusted.jsonl").write_text(labels(TRUSTED), encoding="utf-8")
    (labelled / "lenient.jsonl").write_text(labels(LENIENT), encoding="utf-8")
    run(pytester, "--promptsuite-update-baseline")
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("suites", "-p", "no:cacheprovider", "-rs", *args)


def results(pytester: pytest.Pytester) -> dict[str, object]:
    data: dict[str, object] = json.loads((pytester.path / "reports" / "latest.json").read_text())
    return data


def test_off_ignores_labels_and_keeps_the_verdicts(project: pytest.Pytester) -> None:
    result = run(project)
    # trusted: 10 passes, 10 known failures; lenient: 6 passes; both gates pass.
    result.assert_outcomes(passed=18, xfailed=10)
    assert "judges against people's labels" not in result.stdout.str()
    assert "calibration" not in results(project)["metadata"]  # type: ignore[operator]


def test_warn_shows_which_judges_are_trusted_and_keeps_the_verdicts(
    project: pytest.Pytester,
) -> None:
    summary = project.path / "step-summary.md"
    result = run(project, "--promptsuite-judge-calibration", "warn")
    result.assert_outcomes(passed=18, xfailed=10)
    trusted = "judge@trusted-grader#"
    lenient = "judge@lenient-grader#"
    result.stdout.fnmatch_lines(
        [
            "judges against people's labels (trusted: kappa's 95% CI lower bound >= 0.6 on at"
            " least 20 labels*",
            f"{lenient}*6*50%*0.00 [[]0.00, 0.00[]]*none (0.25)*3/0*no*",
            f"{trusted}*20*100%*1.00 [[]1.00, 1.00[]]*none*0/0*yes*",
            f"  {lenient}*: not trusted: kappa 0.00 (95% CI * to *) on 6 labels; it said pass"
            " to every output",
            f"  {trusted}*: trusted: kappa 1.00 (95% CI 1.00 to 1.00) on 20 labels; the lower"
            " bound reaches 0.6",
            "6 case verdicts and 1 gate verdict rest on judges that are not trusted"
            " (judge-calibration: require would withhold them)",
        ]
    )
    calibration = results(project)["metadata"]["calibration"]  # type: ignore[index]
    assert [j["trusted"] for j in calibration["judges"]] == [False, True]
    assert calibration["problems"] == []
    assert not summary.exists()  # not under GitHub Actions


def test_require_reports_verdicts_on_an_uncalibrated_judge_as_uncalibrated(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = project.path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run(project, "--promptsuite-judge-calibration", "require")
    # The trusted judge still gates: 10 passes, 10 known failures, its gate passes. Every
    # verdict of the lenient judge is withheld: 6 cases and the gate.
    result.assert_outcomes(passed=11, xfailed=10, skipped=7)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] suites/lenient.yaml:*: uncalibrated: rests on judge@lenient-grader#*"
            " (quality), not trusted: kappa 0.00 (95% CI 0.00 to 0.00) on 6 labels; it said"
            " pass to every output",
            "SKIPPED [[]1[]] *plugin.py:*: suite gate: uncalibrated: rests on judge@lenient*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "uncalibrated: 6 case verdicts and 1 gate verdict rest on judges that are not trusted"
            " (reported neither pass nor fail)"
        ]
    )
    data = results(project)
    cases = {c["case_id"]: c for c in data["cases"] if c["suite"] == "lenient"}  # type: ignore[attr-defined]
    assert all(c["uncalibrated"].startswith("rests on judge@lenient") for c in cases.values())
    gates = {g["suite"]: g for g in data["metadata"]["gates"]}  # type: ignore[index]
    assert "uncalibrated" in gates["lenient"] and "uncalibrated" not in gates["trusted"]
    markdown = summary.read_text(encoding="utf-8")
    assert markdown.splitlines()[1] == "## ⚠️ promptsuite: no regressions, 7 uncalibrated verdicts"
    assert "### Judges" in markdown
    assert "trusted: kappa 1.00 (95% CI 1.00 to 1.00) on 20 labels" in markdown
    assert "6 case and 1 gate verdicts are reported uncalibrated" in markdown


def test_require_with_inconclusive_fail_fails_the_uncalibrated_gate(
    project: pytest.Pytester,
) -> None:
    result = run(
        project,
        "--promptsuite-judge-calibration",
        "require",
        "--promptsuite-gate-inconclusive",
        "fail",
    )
    result.assert_outcomes(passed=11, xfailed=10, skipped=6, failed=1)
    result.stdout.fnmatch_lines(["*suite gate: uncalibrated: rests on judge@lenient-grader#*"])


def test_a_stricter_threshold_from_pyproject_untrusts_the_judge(project: pytest.Pytester) -> None:
    project.makepyprojecttoml(
        '[tool.promptsuite]\njudge-calibration = "require"\njudge-kappa = 1.01\n'
    )
    result = run(project)
    assert result.ret == 4  # a usage error: kappa cannot exceed 1
    result.stderr.fnmatch_lines(["*option judge-kappa: expected a kappa in [[]-1, 1[]], got 1.01"])


def test_bad_labels_are_reported_located_and_never_applied(project: pytest.Pytester) -> None:
    path = project.path / "suites" / "__labels__" / "trusted.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    good = json.loads(lines[0])
    stale = {**good, "output": "another reply", "output_digest": digest("another reply")}
    conflict = {**json.loads(lines[1]), "label": "fail"}
    extra = [
        json.dumps({**good, "case": "no-such-case"}),
        json.dumps({**good, "check": "tone"}),
        json.dumps(stale),
        lines[2],
        json.dumps(conflict),
        json.dumps({**good, "label": "maybe"}),
        "{not json",
    ]
    path.write_text("\n".join(lines + extra) + "\n", encoding="utf-8")
    result = run(project, "--promptsuite-judge-calibration", "warn")
    where = "suites/__labels__/trusted.jsonl"
    result.stdout.fnmatch_lines(
        [
            "labels not applied (7):",
            f"  {where}:21: case: unknown case 'no-such-case'; expected a case id of the suite",
            f"  {where}:22: check: case 'good-answer-0' has no model-graded check 'tone';"
            " expected one of: 'quality'",
        ]
    )
    text = result.stdout.str()
    assert f"{where}:23: output_digest: no output of case 'good-answer-0'" in text
    assert f"{where}:24: label: a duplicate of line 3" in text
    assert f"{where}:25: label: 'fail' conflicts with 'pass' on line 2" in text
    assert f"{where}:26: label: Input should be 'pass' or 'fail'" in text
    assert f"{where}:27: (line): not JSON" in text
    # The conflicting pair is withheld: 19 labels remain, and the judge is not trusted.
    result.stdout.fnmatch_lines(["  judge@trusted-grader#*: not trusted: * on 19 labels, fewer*"])
    assert len(path.read_text(encoding="utf-8").splitlines()) == 27  # nothing was rewritten
