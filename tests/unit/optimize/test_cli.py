"""``promptsuite optimize`` end to end on the scripted model: write-back, verify, --apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptsuite.cli import main
from promptsuite.optimize import OptimizationRun, read_run
from promptsuite.suite import load_prompt
from tests.unit.optimize.optimize_scripted import PROMPT, suite_text

SCRIPT = '{provider: scripted, model: s, script: "tests.unit.optimize.optimize_scripted:answer"}'


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "suite.yaml").write_text(
        suite_text().replace("prompt: prompt.yaml\n", f"prompt: prompt.yaml\nmodels: [{SCRIPT}]\n"),
        encoding="utf-8",
    )
    (tmp_path / "prompt.yaml").write_text(PROMPT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def the_run(project: Path) -> OptimizationRun:
    [path] = (project / "reports" / "optimize").glob("scripted-*/run.json")
    return read_run(path)


def test_optimize_writes_variants_verifies_them_and_reports(project, capsys):
    assert main(["optimize", "suite.yaml", "--budget", "3", "--keep", "1"]) == 0
    err = capsys.readouterr().err
    assert "candidate   0 baseline" in err
    assert "verdict:" in err
    run = the_run(project)
    assert run.written_variants == ["opt-auto-1"]
    prompt = load_prompt(project / "prompt.yaml")
    assert prompt.default == "default"
    assert "# The user's prompt" in (project / "prompt.yaml").read_text(encoding="utf-8")
    best = max(run.candidates, key=lambda c: (c.val_score, -c.index))
    assert set(run.test_results) == {0, best.index}
    test_ids = {case_id for case_id, split in run.split.items() if split == "test"}
    for scores in run.test_results.values():
        assert {s.case_id for s in scores} == test_ids
        assert all(s.split == "test" for s in scores)
    # The written variant, run by the runner on the test split, is the candidate searched:
    # its demos show up as turns, and hard cases (solved by any demo) now pass.
    winner = {s.case_id: s.passed for s in run.test_results[best.index]}
    assert all(winner[c] for c in test_ids if c.startswith(("easy", "hard")))
    assert list((project / "reports" / "optimize").glob("scripted-*/optimization.html"))
    assert run.verification is not None and run.verification.model_calls > 0


def test_apply_makes_the_winner_the_default(project):
    assert main(["optimize", "suite.yaml", "--budget", "2", "--apply"]) == 0
    run = the_run(project)
    assert run.applied == "opt-auto-1"
    assert load_prompt(project / "prompt.yaml").default == "opt-auto-1"


def test_no_write_leaves_the_prompt_file_alone(project):
    assert main(["optimize", "suite.yaml", "--budget", "2", "--no-write", "--apply"]) == 0
    assert (project / "prompt.yaml").read_text(encoding="utf-8") == PROMPT
    run = the_run(project)
    assert run.written_variants == []
    assert len(run.test_results) >= 2


def test_bad_options_are_one_line_errors(project, capsys):
    assert main(["optimize", "suite.yaml", "--split", "1,2"]) == 2
    assert "three positive numbers" in capsys.readouterr().err
    assert main(["optimize", "suite.yaml", "--budget", "0"]) == 2
    assert "--budget must be at least 1" in capsys.readouterr().err


def test_an_optimizer_that_gives_up_keeps_the_recorded_candidates(project, capsys):
    suite = (project / "suite.yaml").read_text(encoding="utf-8")
    (project / "suite.yaml").write_text(suite.replace(":answer", ":answer_in_prose"), "utf-8")
    assert main(["optimize", "suite.yaml", "--optimizer", "copro", "--budget", "2"]) == 0
    assert "the optimizer stopped early (AdapterParseError" in capsys.readouterr().err
    run = the_run(project)
    assert (run.optimizer_error or "").startswith("AdapterParseError")
    assert run.candidates[0].source == "baseline"
    assert 0 in run.test_results


def test_model_option_takes_a_mapping(project):
    suite = (project / "suite.yaml").read_text(encoding="utf-8")
    (project / "suite.yaml").write_text(suite.replace(f"models: [{SCRIPT}]\n", ""), "utf-8")
    assert main(["optimize", "suite.yaml", "--budget", "1", "--model", SCRIPT]) == 0
    assert the_run(project).model == "scripted:s"
