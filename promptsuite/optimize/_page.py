"""The optimization report's page: one self-contained HTML file of an optimization run.

Rendered, like the run report, from the record only (:class:`OptimizationReport`: the run,
its analysis and the fine-tuning export's summary), with the run report's stylesheet,
templates and chart kit (:mod:`promptsuite.report`, imported when a page is drawn): charts
are inline SVG, every string from the run is escaped, nothing is loaded from the network and
the page needs no JavaScript.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from promptsuite._files import write_text_atomic
from promptsuite._schema import write_record
from promptsuite.optimize._records import OptimizationRun
from promptsuite.optimize._report import OptimizationReport
from promptsuite.optimize.analysis import Analysis

__all__ = [
    "heatmap_chart",
    "red_yellow_green",
    "render_optimization_report",
    "trajectory_chart",
    "write_optimization_report",
]

#: Rows of the per-case heatmap; the worst cases come first, the caption says what was cut.
MAX_HEATMAP_ROWS = 60
#: The case statuses of an analysis, worst first.
CASE_STATUSES = ("resistant", "unreliable", "unstable", "solved-elsewhere", "solved")


def write_optimization_report(
    report: OptimizationReport, out_dir: str | Path, *, name: str = "optimization"
) -> list[Path]:
    """Write ``{name}.json`` (the record) and ``{name}.html`` (the page) into ``out_dir``.

    Returns:
        The paths written: the HTML page, then the JSON file.
    """
    out = Path(out_dir)
    json_path = write_record(out / f"{name}.json", report)
    html_path = write_text_atomic(out / f"{name}.html", render_optimization_report(report))
    return [html_path, json_path]


def render_optimization_report(report: OptimizationReport) -> str:
    """The HTML page of an optimization report."""
    from markupsafe import Markup

    from promptsuite.report import asset, environment

    run, analysis = report.run, report.analysis
    rows, cut = _heatmap_rows(run, analysis)
    heatmap_title = (
        f"Per-case scores across candidates ({len(rows)} of {len(rows) + cut} cases, worst first)"
        if cut
        else "Per-case scores across candidates"
    )
    charts = [
        ("Score trajectory", Markup(trajectory_chart(analysis))),
        (heatmap_title, Markup(heatmap_chart(run, rows, analysis.best_index))),
    ]
    return str(
        environment()
        .get_template("optimization.html.j2")
        .render(
            run=run,
            a=analysis,
            export=report.export,
            charts=charts,
            css=Markup(asset("report.css") + asset("optimization.css")),
            status_counts=[
                (s, sum(1 for c in analysis.cases if c.status == s)) for s in CASE_STATUSES
            ],
            metadata=json.dumps(run.details(), indent=2, sort_keys=True),
        )
    )


def trajectory_chart(analysis: Analysis) -> str:
    """Each candidate's validation score, the best so far, the target, window and plateau."""
    from promptsuite.report import BLUE, PASS, Canvas, trajectory_panel

    points = analysis.trajectory
    xs = [float(p.index) for p in points]
    scores = [p.val_score for p in points]
    target = analysis.target
    plateau = analysis.plateau
    legend = [(BLUE, "candidate"), (PASS, "best so far"), (_TARGET, f"target {target:g}")]
    described = ", ".join(f"{p.index}: {p.val_score:.3g}" for p in points)
    canvas = Canvas(
        720,
        300,
        "Score trajectory",
        f"Validation score per candidate: {described}; target {target:g}",
    )
    plot = trajectory_panel(canvas, xs, scores, [p.best_score for p in points], (-0.02, 1.02))
    plot.polyline(
        [(plot.xlim[0], target), (plot.xlim[1], target)],
        f'stroke="{_TARGET}" stroke-dasharray="5 3"',
    )
    if plateau.decided and plateau.start_index is not None and len(xs) > plateau.window:
        low_y, high_y = plot.ylim
        plot.rect(
            xs[-plateau.window - 1], low_y, xs[-1], high_y, 'fill="#90a4ae" fill-opacity="0.15"'
        )
        legend.append(("#90a4ae", f"last {plateau.window} candidates"))
    if plateau.plateau_point is not None:
        at = float(plateau.plateau_point)
        plot.polyline(
            [(at, plot.ylim[0]), (at, plot.ylim[1])], 'stroke="#e65100" stroke-dasharray="2 2"'
        )
        legend.append(("#e65100", f"plateau from candidate {plateau.plateau_point}"))
    canvas.legend(
        plot.left + plot.width - 170, plot.top + plot.height - 12 - 11 * len(legend), legend
    )
    return canvas.render("opt-trajectory")


def heatmap_chart(run: OptimizationRun, case_ids: Sequence[str], best_index: int) -> str:
    """Cases (rows) by candidates (columns), coloured by score; blank where not scored."""
    from promptsuite.report import Canvas, esc, label_width

    columns = [c.index for c in run.candidates]
    lookup = {(c.index, s.case_id): s.score for c in run.candidates for s in c.cases}
    rows = len(case_ids)
    left = min(240.0, 12 + max((label_width(c, 6) for c in case_ids), default=0.0))
    row_height = 12.0
    canvas = Canvas(
        720,
        60 + row_height * max(1, rows),
        "Per-case scores across candidates",
        f"{rows} cases by {len(columns)} candidates, coloured from red (score 0) to green "
        f"(score 1), blank where not scored; candidate {best_index} (outlined) is the best",
    )
    plot = canvas.panel(
        left,
        10,
        720 - left - 70,
        row_height * max(1, rows),
        (-0.5, len(columns) - 0.5),
        (rows - 0.5, -0.5),
    )
    step = max(1, len(columns) // 25)
    plot.frame(
        xticks=[(i, str(columns[i])) for i in range(0, len(columns), step)],
        yticks=[],
        xlabel="candidate (outlined: best)",
        grid=False,
    )
    for r, case in enumerate(case_ids):
        plot.parts.append(
            f'<text x="{plot.left - 4:.2f}" y="{plot.y(r):.2f}" text-anchor="end" '
            f'dominant-baseline="middle" font-size="6">{esc(case)}</text>'
        )
        for k, index in enumerate(columns):
            value = lookup.get((index, case))
            if value is not None:
                plot.rect(k - 0.5, r - 0.5, k + 0.5, r + 0.5, f'fill="{red_yellow_green(value)}"')
    if best_index in columns and rows:
        at = columns.index(best_index)
        plot.rect(
            at - 0.5, -0.5, at + 0.5, rows - 0.5, 'fill="none" stroke="#1b1b1b" stroke-width="1.5"'
        )
    bar = canvas.panel(720 - 50, 10, 10, plot.height, (0, 1), (0, 1))
    for i in range(20):
        bar.rect(0, i / 20, 1, (i + 1) / 20, f'fill="{red_yellow_green((i + 0.5) / 20)}"')
    for value in (0.0, 0.5, 1.0):
        bar.parts.append(
            f'<text x="{bar.left + 13:.2f}" y="{bar.y(value):.2f}" dominant-baseline="middle" '
            f'font-size="7">{value:g}</text>'
        )
    return canvas.render("opt-heatmap")


#: matplotlib's RdYlGn at 0, 0.5 and 1, between which scores are interpolated.
_STOPS = ((0.0, (165, 0, 38)), (0.5, (255, 255, 191)), (1.0, (0, 104, 55)))
_TARGET = "#6a1b9a"


def red_yellow_green(score: float) -> str:
    """The heatmap's colour of a score in 0..1 (clamped)."""
    value = min(max(score, 0.0), 1.0)
    (x0, c0), (x1, c1) = (_STOPS[0], _STOPS[1]) if value <= 0.5 else (_STOPS[1], _STOPS[2])
    t = (value - x0) / (x1 - x0)
    r, g, b = (round(a + (b - a) * t) for a, b in zip(c0, c1, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def _heatmap_rows(run: OptimizationRun, analysis: Analysis) -> tuple[list[str], int]:
    scored = {s.case_id for c in run.candidates for s in c.cases}
    ordered = [c.case_id for c in analysis.cases if c.case_id in scored]
    return ordered[:MAX_HEATMAP_ROWS], max(0, len(ordered) - MAX_HEATMAP_ROWS)
