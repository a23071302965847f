"""``promptsuite init``'s starter: every file, valid, and nothing that exists overwritten."""

from __future__ import annotations

import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from promptsuite.cli import json_schemas, main
from promptsuite.starter import FILES, write_starter
from promptsuite.suite import load_suite


def test_an_empty_folder_gets_every_file(tmp_path: Path) -> None:
    written = write_starter(tmp_path)
    assert [(f.path, f.written) for f in written] == [(path, True) for path, _ in FILES]
    suite = load_suite(tmp_path / "suites" / "assistant.yaml")
    assert len(suite.cases) >= 5 and [m.display for m in suite.models] == ["local"]
    kinds = {check.type for case in suite.cases for check in case.expect}
    assert {"icontains", "regex", "contains", "icontains-any", "word-count"} <= kinds
    schemas = json_schemas()
    for kind, path in (("suite", "suites/assistant.yaml"), ("prompt", "prompts/assistant.yaml")):
        data = yaml.safe_load((tmp_path / path).read_text())
        jsonschema.Draft202012Validator(schemas[kind]).validate(data)
    table = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["promptsuite"]
    assert table == {"cache-path": "suites/__cassettes__/responses.sqlite"}
    assert (tmp_path / "README.md").read_text().startswith("## Prompt tests\n")


def test_nothing_that_exists_is_overwritten(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "mine"\n\n[tool.pytest.ini_options]\n'
    )
    (tmp_path / "README.md").write_text("# Mine\n")
    (tmp_path / ".gitignore").write_text("reports/\n")
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "assistant.yaml").write_text("mine: true\n")
    done = {f.path: f for f in write_starter(tmp_path)}
    assert (tmp_path / "suites" / "assistant.yaml").read_text() == "mine: true\n"
    assert (tmp_path / "README.md").read_text() == "# Mine\n"
    assert (
        not done["suites/assistant.yaml"].written and done["suites/assistant.yaml"].to_add is None
    )
    assert done["prompts/assistant.yaml"].written
    # For the files a project already has: the part it lacks, to add by hand.
    to_add = done["pyproject.toml"].to_add
    assert to_add is not None and to_add.startswith("[tool.promptsuite]\n")
    assert "[tool.pytest" not in to_add  # the project has that table already
    assert done[".gitignore"].to_add == ".promptsuite/\n"
    readme = done["README.md"].to_add
    assert readme is not None and readme.startswith("## Prompt tests")
    again = write_starter(tmp_path)
    assert not any(f.written for f in again)


def test_init_says_what_it_wrote_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".gitignore").write_text("reports/\n.promptsuite/\n")
    assert main(["init", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "wrote suites/assistant.yaml" in out
    assert "wrote .github/workflows/prompt-regression.yml" in out
    assert "skipped .gitignore (it exists)" in out
    assert out[-1].endswith(f"cd {tmp_path} && pytest suites/")
    assert main(["init", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "skipped pyproject.toml (it exists)" in out and not any(
        line.startswith("wrote") for line in out
    )
