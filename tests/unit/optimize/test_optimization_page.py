"""The optimization report's page: self-contained, escaped, deterministic, and the record."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from promptsuite.optimize import (
    Analysis,
    ExportSummary,
    OptimizationReport,
    OptimizationRun,
    analyze,
    read_optimization_report,
    render_optimization_report,
    write_optimization_report,
)
from promptsuite.optimize._page import heatmap_chart, red_yellow_green
from tests.system_tools import debian_tool
from tests.unit.optimize.optimize_runs import make_run, nested

HOSTILE = '<script>alert("x")</script><img src=http://evil.example/x.png>'


def hostile_run() -> OptimizationRun:
    run = make_run(
        10,
        24,
        nested([0.3, 0.5, 0.6, 0.62, 0.62, 0.62, 0.62, 0.62, 0.62, 0.62], 24),
        test_outcome=lambda k, i, r: i < (4 if k == 0 else 9),
        test_cases=12,
        tags=lambda i: ["t<b>", f"g{i % 2}"],
    )
    first = run.candidates[1]
    run.candidates[1] = first.model_copy(update={"instruction": HOSTILE, "source": "</td><td>"})
    run.applied = HOSTILE
    return run


def summary() -> ExportSummary:
    return ExportSummary(
        train_path="out/finetune_train.jsonl",
        validation_path="out/finetune_validation.jsonl",
        n_train=42,
        n_validation=9,
        stated=0,
        verified=30,
        derived=21,
        focus_cases=("c001", "c002"),
        focus_without_reference=("c003",),
        needs_reference={"c003": "no candidate passed it"},
        held_out=12,
        not_rendered={},
        variant="default",
        lines_validated=51,
        meets_openai_minimum=True,
        collect_more=0,
    )


def data(run: OptimizationRun, analysis: Analysis) -> OptimizationReport:
    return OptimizationReport(run=run, analysis=analysis)


def page(run: OptimizationRun) -> str:
    """The page of a run, rendered from its JSON report as the pipeline writes it."""
    saved = data(run, analyze(run, window=3)).model_dump_json()
    return render_optimization_report(OptimizationReport.model_validate_json(saved))


def test_writes_html_and_json(tmp_path: Path) -> None:
    run = hostile_run()
    analysis = analyze(run, window=3)
    report = OptimizationReport(run=run, analysis=analysis, export=summary())
    html_path, json_path = write_optimization_report(report, tmp_path)
    assert (html_path.name, json_path.name) == ("optimization.html", "optimization.json")
    assert json.loads(json_path.read_text(encoding="utf-8"))["version"] == 2
    saved = read_optimization_report(tmp_path)
    assert saved == report
    assert saved.analysis.verdict.code == analysis.verdict.code
    assert saved.export is not None and saved.export.n_train == 42
    assert saved.run.candidates[1].instruction == HOSTILE


def test_the_page_shows_the_verdict_trajectory_heatmap_cost_and_dataset() -> None:
    run = hostile_run()
    analysis = analyze(run, window=3, prices={"local": (1.0, 2.0)})
    html = render_optimization_report(
        OptimizationReport(run=run, analysis=analysis, export=summary())
    )
    assert analysis.verdict.headline in html
    assert "plateau from candidate" in html  # the plateau point is drawn on the trajectory
    assert html.count("<svg") == 2
    assert f"candidate {analysis.plateau.plateau_point}" in html
    for candidate in run.candidates:
        assert f'<td class="n">{candidate.index}</td>' in html
    assert "out/finetune_train.jsonl (42 examples)" in html
    assert "USD per 100,000 calls" in html
    assert "on test cases" in html


def test_untrusted_text_is_escaped_and_nothing_is_fetched() -> None:
    html = page(hostile_run())
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;/td&gt;&lt;td&gt;" in html
    assert "t&lt;b&gt;" in html
    assert "&#34;applied&#34;: &#34;&lt;script&gt;" in html  # the run's details
    tags = Tags()
    tags.feed(html)
    assert not {"script", "img", "link", "iframe", "object"} & tags.names
    # Links only jump within the page; the SVG namespaces are not fetched.
    assert all(url.startswith("#") for url in tags.urls), tags.urls
    assert "default-src 'none'" in html


class Tags(HTMLParser):
    """Every element name, and every src/href value, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        self.urls.extend(value or "" for name, value in attrs if name in ("src", "href"))


def test_the_page_is_deterministic() -> None:
    run = hostile_run()
    first = page(run)
    second = page(run)
    assert first == second


def test_a_real_browser_renders_the_page(tmp_path: Path) -> None:
    run = hostile_run()
    html_path, _ = write_optimization_report(data(run, analyze(run, window=3)), tmp_path)
    dom = subprocess.run(
        [
            debian_tool("chromium"),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            html_path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "Where prompting fails" in dom
    assert dom.count("<svg") == 2
    assert "<script" not in dom


def test_the_heatmap_colours_each_scored_case_and_escapes_its_id() -> None:
    run = make_run(2, 1, lambda k, i, r: k == 1, tested=False)
    hostile = (
        run.candidates[1]
        .cases[0]
        .model_copy(update={"case_id": HOSTILE, "scores": [1.0, 0.0], "passes": [True, False]})
    )
    run.candidates[1] = run.candidates[1].model_copy(update={"cases": [hostile]})
    run.candidates[0] = run.candidates[0].model_copy(
        update={"cases": [hostile.model_copy(update={"scores": [0.0]})]}
    )
    svg = heatmap_chart(run, [HOSTILE, "unscored"], best_index=1)
    fills = {r.get("fill") for r in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}rect")}
    assert red_yellow_green(0.0) in fills and red_yellow_green(0.5) in fills
    assert "<script>" not in svg
    assert (red_yellow_green(0), red_yellow_green(0.5), red_yellow_green(1)) == (
        "#a50026",
        "#ffffbf",
        "#006837",
    )
