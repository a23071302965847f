"""The HTML report: structure, escaping, baselines, prices, and a golden skeleton."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from promptsuite.errors import ConfigError
from promptsuite.gate import Baseline, BaselineEntry
from promptsuite.report import PAGE_SIZE, render_report, script_json, write_report
from promptsuite.report._view import word_diff
from promptsuite.results import RunResults
from tests.report_runs import HOSTILE, synthetic_run

GOLDEN = Path(__file__).parent / "golden" / "report_small.html"


class _Page(HTMLParser):
    """Collects what the structure tests look at."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None
        self._text: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script, self._text = dict(attrs), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._text)))
            self._script = None

    def handle_data(self, data: str) -> None:
        (self._text if self._script is not None else self.text).append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def by_id(page: _Page, element_id: str) -> dict[str, str | None]:
    matches = [attrs for _, attrs in page.tags if attrs.get("id") == element_id]
    assert len(matches) == 1, element_id
    return matches[0]


def test_page_is_self_contained_with_the_expected_sections() -> None:
    html = render_report(synthetic_run(240), baselines=[])
    page = parse(html)
    for tag, attrs in page.tags:
        assert tag not in ("link", "iframe", "object", "embed", "img"), tag
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith("#"), (tag, name, value)
    for section in ("overview", "gates", "charts", "matrix", "run", "filters", "matrix-table"):
        by_id(page, section)
    assert sum(tag == "svg" for tag, _ in page.tags) == 3
    assert sum(attrs.get("class") == "row" for tag, attrs in page.tags if tag == "tr") == PAGE_SIZE
    assert "0123456789abcdef0123456789abcdef01234567" in page.text  # the git commit
    assert "Showing the first 50 of 60 cases" in " ".join(page.text)


def test_only_the_pages_own_script_may_run() -> None:
    html = render_report(synthetic_run(8), baselines=[])
    page = parse(html)
    (island_attrs, island), (code_attrs, code) = page.scripts
    assert island_attrs == {"type": "application/json", "id": "report-data"}
    assert code_attrs == {}
    digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
    csp = next(
        a["content"] for t, a in page.tags if a.get("http-equiv") == "Content-Security-Policy"
    )
    assert csp is not None
    assert f"script-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp
    data = json.loads(island)
    assert len(data["rows"]) == 2 and len(data["columns"]) == 4


def test_script_json_cannot_end_its_script_element() -> None:
    value = {"s": list(HOSTILE), "</script>": "a & b <!-- c"}
    text = script_json(value)
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in text
    assert json.loads(text) == value


def test_hostile_text_is_escaped_everywhere() -> None:
    html = render_report(synthetic_run(48, hostile=True), baselines=[])
    hostile_markup = ("<script>document", "<img src", '<a href="javascript', "<svg onload")
    for needle in (*hostile_markup, "</script><script>"):
        assert needle not in html, needle
    page = parse(html)
    assert len(page.scripts) == 2
    text = "".join(page.text)
    # Rendered as text: in the first page, the case detail and the chart labels.
    assert "<script>document.title='pwned';window.__pwned=1</script>" in text
    assert '"><img src=x onerror="window.__pwned=2">' in text
    assert "{{ 7*7 }} ${7*7} $x^2$" in text
    strings = json.loads(page.scripts[0][1])["strings"]
    for payload in HOSTILE:
        assert any(payload in s for s in strings), payload


def test_golden_skeleton(tmp_path: Path) -> None:
    html = render_report(synthetic_run(12, repeats=2), baselines=[], title="golden")
    # The charts are ours too (SVG written by promptsuite.report._svg): nothing may change.
    skeleton = html
    if os.environ.get("PROMPTSUITE_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(skeleton, encoding="utf-8")
    obtained = tmp_path / "report_small.obtained.html"
    obtained.write_text(skeleton, encoding="utf-8")
    assert skeleton == GOLDEN.read_text(encoding="utf-8"), (
        f"the report changed; compare {obtained} with {GOLDEN}, and if the change is "
        "intended, regenerate with PROMPTSUITE_UPDATE_GOLDEN=1"
    )


def _baseline(run: RunResults, outputs: bool) -> Baseline:
    entries = {}
    for case in run.cases:
        entry = BaselineEntry.from_result(case)
        repeats = [
            replace(repeat, output=recorded.output.replace("refund", "return") if outputs else None)
            for repeat, recorded in zip(entry.repeats, case.repeats, strict=True)
        ]
        entry = replace(entry, repeats=repeats)
        key = f"{case.case_id}[{case.model}|{case.variant}]"
        entries[key] = entry
    return Baseline(suite=run.cases[0].suite, entries=entries)


def _cells(html: str) -> list[dict[str, Any]]:
    data = json.loads(parse(html).scripts[0][1])
    return [cell for row in data["rows"] for cell in row["x"].values()]


def test_baseline_output_text_gives_a_word_diff() -> None:
    run = synthetic_run(4, suites=1)
    html = render_report(run, baselines={run.cases[0].suite: _baseline(run, outputs=True)})
    cells = _cells(html)
    assert all(c["bs"] is not None for c in cells)
    diffs = [c["bs"]["d"] for c in cells if c["bs"]["d"]]
    changed = [c for c in run.cases if "refund" in c.repeats[0].output]
    assert len(diffs) == len(changed)
    for diff in diffs:
        assert ["-", "return"] in diff and ["+", "refund"] in diff
    assert "<del>return</del><ins>refund</ins>" in html or not changed


def test_baseline_with_digests_only_says_whether_the_output_changed(tmp_path: Path) -> None:
    run = synthetic_run(4, suites=1)
    baseline = _baseline(run, outputs=False)
    path = baseline.write(tmp_path / "suite_0.json")
    cells = _cells(render_report(run, baselines=[path]))
    assert all(c["bs"]["same"] == [True] and c["bs"]["d"] is None for c in cells)
    assert all(c["b"] in ("pass", "known-failure") for c in cells if c["st"] != "error")


def test_baselines_are_found_beside_the_suite_files(tmp_path: Path) -> None:
    run = synthetic_run(4, suites=1)
    _baseline(run, outputs=False).write(tmp_path / "suites" / "__baselines__" / "suite_0.json")
    assert all(c["bs"] for c in _cells(render_report(run, root=tmp_path)))
    assert not any(c["bs"] for c in _cells(render_report(run, root=tmp_path / "elsewhere")))


def test_word_diff() -> None:
    assert word_diff("the cat sat", "the dog sat") == [
        ["=", "the "],
        ["-", "cat"],
        ["+", "dog"],
        ["=", " sat"],
    ]
    assert word_diff("a" * 20_000, "b") is None


def test_costs_use_prices_and_local_is_free() -> None:
    run = synthetic_run(4, models=("gpt-4o-mini", "local", "mystery"), variants=("v",))
    cells = {c["id"].rsplit("[", 1)[1]: c for c in _cells(render_report(run, baselines=[]))}
    mini = next(c for c in run.cases if c.model == "gpt-4o-mini").repeats[0].generation
    assert mini is not None
    expected = (mini.prompt_tokens * 0.15 + mini.completion_tokens * 0.60) / 1e6
    assert cells["gpt-4o-mini-v]"]["c"] == pytest.approx(expected)
    assert cells["local-v]"]["c"] == 0.0
    assert cells["mystery-v]"]["c"] is None
    priced = _cells(render_report(run, baselines=[], prices={"mystery": (1.0, 2.0)}))
    assert all(c["c"] is not None for c in priced)


def test_write_report_writes_the_page_and_its_copy(tmp_path: Path) -> None:
    results = synthetic_run(4).write(tmp_path / "latest.json")
    out = write_report(
        results, tmp_path / "latest.html", baselines=[], copy_to=tmp_path / "runs" / "r.html"
    )
    assert out.read_bytes() == (tmp_path / "runs" / "r.html").read_bytes()
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_unreadable_results_are_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.json: not a promptsuite results file"):
        render_report(bad)
    with pytest.raises(ConfigError, match=r"missing\.json: cannot read results file"):
        render_report(tmp_path / "missing.json")


def test_no_run_data_still_renders() -> None:
    html = render_report(RunResults(), baselines=[])
    assert "No gate ran" in html
    assert json.loads(parse(html).scripts[0][1])["rows"] == []


def test_importing_the_report_package_stays_cheap() -> None:
    import subprocess
    import sys

    import promptsuite.report

    # ruff's (isort-style) order: constants, then classes, then functions.
    exported = promptsuite.report.__all__
    kind = {True: 0, False: 1}
    assert list(exported) == sorted(
        exported, key=lambda n: (kind[n.isupper()], kind[n[0].isupper()], n)
    )
    code = (
        "import sys, promptsuite.report;"
        "print(sorted({'matplotlib', 'pandas', 'numpy'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_dataframe_and_exports(tmp_path: Path) -> None:
    run = synthetic_run(8, repeats=3)
    frame = run.to_dataframe()
    assert len(frame) == 24 and frame["repeat"].tolist()[:3] == [0, 1, 2]
    assert frame.groupby("test_id")["case_passed"].nunique().max() == 1
    checks = run.checks_dataframe()
    assert len(checks) == 24 * 3 and set(checks["type"]) == {
        "icontains-any",
        "word-count",
        "not-regex",
    }
    local = frame[frame["model"] == "local"]
    assert (local["cost_usd"] == 0.0).all()
    rows = run.export(tmp_path / "rows.jsonl")
    assert [json.loads(line)["output"] for line in rows.read_text().splitlines()] == list(
        frame["output"]
    )
    with pytest.raises(ConfigError, match=r"rows\.txt.*use \.csv or \.jsonl"):
        run.export(tmp_path / "rows.txt")


def test_a_conversation_shows_as_its_transcript_with_checks_named_by_turn() -> None:
    from promptsuite.results import CheckResult

    run = synthetic_run(1, suites=1, models=("local",), variants=("default",))
    case = run.cases[0]
    transcript = [
        {"role": "system", "content": "Help."},
        {"role": "user", "content": "Where is A-1?", "turn": 1},
        {
            "role": "assistant",
            "content": "",
            "turn": 1,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "lookup_order", "arguments": '{"order_id": "A-1"}'},
                }
            ],
        },
        {"role": "tool", "content": '{"status": "shipped"}', "tool_call_id": "call_0", "turn": 1},
        {"role": "assistant", "content": "It has shipped.", "turn": 1},
    ]
    check = CheckResult("icontains", True, 1.0, "expected output to contain 'shipped'", 1.0, turn=1)
    repeat = replace(case.repeats[0], transcript=transcript, checks=[check])
    run = replace(run, cases=[replace(case, repeats=[repeat])])
    html = render_report(run)
    [cell] = _cells(html)
    strings = json.loads(parse(html).scripts[0][1])["strings"]
    assert strings[cell["o"][0]] == (
        "[user] Where is A-1?\n"
        '[assistant] -> lookup_order({"order_id": "A-1"}) [call_0]\n'
        '[tool call_0] {"status": "shipped"}\n'
        "[assistant] It has shipped."
    )
    assert cell["ch"][0][0][0] == "turn 1: icontains"


def test_compiled_templates_are_kept_between_runs_and_optional(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jinja2

    from promptsuite.report import _templates

    run = synthetic_run(3)
    reference = render_report(run)

    kept = tmp_path / "bytecode"
    kept.mkdir()
    real = jinja2.FileSystemBytecodeCache
    monkeypatch.setattr(jinja2, "FileSystemBytecodeCache", lambda: real(str(kept)))
    _templates.environment.cache_clear()
    assert render_report(run) == reference
    assert list(kept.glob("__jinja2_*.cache"))  # the page's compiled template, for next time

    def unusable() -> None:
        raise RuntimeError("no private cache folder")

    monkeypatch.setattr(jinja2, "FileSystemBytecodeCache", unusable)
    _templates.environment.cache_clear()
    try:
        assert render_report(run) == reference  # compiled each time instead
    finally:
        _templates.environment.cache_clear()
