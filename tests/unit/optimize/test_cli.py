"""``promptsuite optimize`` end to end on the scripted model: write-back, verify, --apply."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest

from promptsuite.cli import main
from promptsuite.optimize import OptimizationRun, read_run
from promptsuite.suite import load_prompt
from tests.unit.optimize import optimize_scripted
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


FLOW_PROMPT = '{"name": "scripted", "system": "Classify the case.", "user": "Q: {{ q }}"}\n'


def test_a_flow_style_prompt_gets_the_variants_beside_it_and_the_run_goes_on(project, capsys):
    (project / "prompt.yaml").write_text(FLOW_PROMPT, encoding="utf-8")
    assert main(["optimize", "suite.yaml", "--budget", "3", "--keep", "1", "--apply"]) == 0
    err = capsys.readouterr().err
    assert (
        "prompt.yaml was not edited (it is written in flow style ({...}, as JSON is); the "
        "optimizer edits block-style YAML only, to keep the file's text); wrote variant(s) "
        "opt-auto-1 to prompt.optimized.yaml instead, a new prompt file with its variants and "
        "these: point the suite's prompt at it to use them\n"
    ) in err
    assert "--apply: no variant was written into the prompt file, its default stays" in err
    assert "verdict:" in err and "report:" in err
    assert (project / "prompt.yaml").read_text(encoding="utf-8") == FLOW_PROMPT
    beside = load_prompt(project / "prompt.optimized.yaml")
    assert (list(beside.variants), beside.default) == (["default", "opt-auto-1"], "default")
    run = the_run(project)
    assert run.written_variants == [] and run.applied is None
    # Verified in memory: the variant the file beside holds, on the test split.
    best = max(run.candidates, key=lambda c: (c.val_score, -c.index))
    assert set(run.test_results) == {0, best.index}
    winner = {s.case_id: s.passed for s in run.test_results[best.index]}
    assert all(passed for case_id, passed in winner.items() if case_id.startswith("hard"))


def test_a_prompt_nothing_can_be_written_for_is_verified_in_memory(project, capsys, monkeypatch):
    # The prompt's folder is on a read-only file system: its writes' temporary files are
    # refused (the run's own outputs go to reports/, which stays writable).
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        if Path(str(kwargs.get("dir"))).resolve() == project.resolve():
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(project))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    assert main(["optimize", "suite.yaml", "--budget", "2", "--keep", "1"]) == 0
    err = capsys.readouterr().err
    assert "could not edit prompt.yaml ([Errno 30] Read-only file system: " in err
    assert "nor write a prompt file beside it ([Errno 30]" in err
    assert "verifying variant(s) opt-auto-1 in memory" in err
    assert "verdict:" in err
    assert sorted(p.name for p in project.glob("*.yaml")) == ["prompt.yaml", "suite.yaml"]
    assert (project / "prompt.yaml").read_text(encoding="utf-8") == PROMPT
    assert len(the_run(project).test_results) == 2


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


def test_the_verification_runs_one_variants_cases_back_to_back(project):
    optimize_scripted.CALLS.clear()
    assert main(["optimize", "suite.yaml", "--budget", "3", "--keep", "1"]) == 0
    run = the_run(project)
    assert run.verification is not None
    verified = optimize_scripted.CALLS[-run.verification.model_calls :]
    prompts = [tuple(m["content"] for m in call[:-1]) for call in verified]
    # Each variant's shared text (instruction and demos) comes in one run of calls, so a
    # local model reuses it as its prompt prefix.
    runs = [prompt for i, prompt in enumerate(prompts) if i == 0 or prompt != prompts[i - 1]]
    assert len(runs) == len(set(prompts)) == len(run.verification.variants) == 2
