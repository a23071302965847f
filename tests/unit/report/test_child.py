"""The report renderer in a child process: renders from the results file, fails cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptsuite.errors import ReportError
from promptsuite.report._child import ReportProcess
from tests.report_runs import synthetic_run


def test_the_child_renders_the_page_and_its_copy(tmp_path: Path) -> None:
    results = synthetic_run(cases=12).write(tmp_path / "results.json")
    child = ReportProcess()
    written = child.render(
        results,
        tmp_path / "latest.html",
        root=tmp_path,
        prices={"gpt-test": (1.0, 2.0)},
        copy_to=tmp_path / "runs" / "report-1.html",
    )
    assert written == tmp_path / "latest.html"
    page = written.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert (tmp_path / "runs" / "report-1.html").read_text() == page


def test_a_bad_results_file_is_a_one_line_report_error(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text("{not json")
    child = ReportProcess()
    with pytest.raises(ReportError, match=r"the report process failed: .*results\.json") as info:
        child.render(
            tmp_path / "results.json", tmp_path / "r.html", root=tmp_path, prices={}, copy_to=None
        )
    assert "\n" not in str(info.value)
    assert not (tmp_path / "r.html").exists()
    with pytest.raises(ReportError, match="already used"):
        child.render(
            tmp_path / "x.json", tmp_path / "r.html", root=tmp_path, prices={}, copy_to=None
        )


def test_an_unused_child_is_stopped(tmp_path: Path) -> None:
    child = ReportProcess()
    process = child._process
    assert process is not None
    child.close()
    assert process.returncode is not None
    child.close()  # a second close is harmless
