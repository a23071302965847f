"""The reports' SVG charts: well-formed, accessible, escaped, and plotting the right numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from promptsuite.report import _charts
from promptsuite.report._svg import even_edges, histogram, nice_ticks

NS = {"svg": "http://www.w3.org/2000/svg"}
HOSTILE = '<script>alert(1)</script> & "quoted" {{ 7*7 }}'


def groups(count: int = 2) -> list[_charts.GroupStats]:
    return [
        _charts.GroupStats(
            label=f"suite{i} / model / {HOSTILE if i == 0 else 'v'}",
            pass_rate=0.5 + i / 10,
            interval=(0.3, 0.7 + i / 10),
            scores=[0.0, 0.5, 1.0, 1.0],
            latencies_s=[0.1, 0.2, 0.2 + i],
            tokens=[10, 20, 30 + i],
        )
        for i in range(count)
    ]


def parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("role") == "img"
    title, desc = root.find("svg:title", NS), root.find("svg:desc", NS)
    assert title is not None and desc is not None
    assert set((root.get("aria-labelledby") or "").split()) == {title.get("id"), desc.get("id")}
    return root


@pytest.mark.parametrize(
    "chart",
    [_charts.pass_rate_chart, _charts.score_chart, _charts.cost_chart],
    ids=["pass-rate", "scores", "cost"],
)
def test_run_charts_are_well_formed_accessible_and_escaped(chart: object) -> None:
    svg = chart(groups())  # type: ignore[operator]
    root = parsed(svg)
    assert "<script>" not in svg
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    desc = root.find("svg:desc", NS)
    assert desc is not None and desc.text
    # The label reaches the reader as text, in the description at least.
    assert HOSTILE in desc.text
    assert texts


def test_pass_rate_chart_draws_each_bar_at_its_rate() -> None:
    root = parsed(_charts.pass_rate_chart(groups()))
    bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("fill") == "#2e7d32"]
    widths = [float(b.get("width", 0)) for b in bars]
    assert len(widths) == 2 and widths[1] / widths[0] == pytest.approx(0.6 / 0.5, rel=1e-3)
    desc = root.find("svg:desc", NS)
    assert desc is not None and "50% (30%-70%)" in (desc.text or "")


def test_score_histogram_counts_and_the_right_edge() -> None:
    edges = [i / 10 for i in range(11)]
    assert histogram([0.0, 0.05, 0.1, 0.95, 1.0, 1.5, -1], edges) == [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    desc = parsed(_charts.score_chart(groups(1))).find("svg:desc", NS)
    assert desc is not None and desc.text is not None
    assert desc.text.endswith("1 0 0 0 0 1 0 0 0 2")


def test_more_groups_than_shown_says_so() -> None:
    svg = _charts.score_chart(groups(_charts.MAX_SERIES + 2))
    assert f"first {_charts.MAX_SERIES} of {_charts.MAX_SERIES + 2} groups" in svg


def test_ticks_and_edges() -> None:
    assert nice_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0, 7.35) == [0, 2, 4, 6]
    assert nice_ticks(3, 3) == [3]
    assert even_edges([], 2) == [0.0, 0.5, 1.0]
    assert even_edges([2.0, 2.0], 2) == [1.5, 2.0, 2.5]
