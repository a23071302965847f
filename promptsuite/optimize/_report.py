"""The optimization report: one self-contained HTML page and the same facts as JSON.

The page follows the run report (``promptsuite/report/``): its stylesheet and chart style
are reused, charts are matplotlib SVG inlined in the page, every string from the run is
autoescaped by Jinja2, and nothing is loaded from the network. It needs no JavaScript.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsuite.optimize._records import OptimizationRun
from promptsuite.results import write_json_atomic

if TYPE_CHECKING:
    from promptsuite.optimize._analysis import Analysis
    from promptsuite.optimize._export import ExportSummary

REPORT_VERSION = 1
#: Rows of the per-case heatmap; the worst cases come first, the caption says what was cut.
MAX_HEATMAP_ROWS = 60
_TEMPLATES = Path(__file__).parent / "templates"


def write_optimization_report(
    run: OptimizationRun,
    analysis: Analysis,
    out_dir: str | Path,
    *,
    export: ExportSummary | None = None,
    name: str = "optimization",
) -> list[Path]:
    """Write ``{name}.html`` and ``{name}.json`` into ``out_dir``.

    Args:
        run: The optimization run.
        analysis: Its analysis (:func:`~promptsuite.optimize._analysis.analyze`).
        out_dir: Folder to write into (created if missing).
        export: The fine-tuning export's summary, when one was written.
        name: File name stem.

    Returns:
        The paths written: the HTML page, then the JSON file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html_path = out / f"{name}.html"
    json_path = out / f"{name}.json"
    html = render_optimization_report(run, analysis, export=export)
    tmp = html_path.with_name(f".{html_path.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(html_path)
    write_json_atomic(json_path, report_data(run, analysis, export), indent=2)
    return [html_path, json_path]


def report_data(
    run: OptimizationRun, analysis: Analysis, export: ExportSummary | None = None
) -> dict[str, Any]:
    """The JSON report: the run as recorded, its analysis and the export summary."""
    return {
        "version": REPORT_VERSION,
        "run": run.to_dict(),
        "analysis": analysis.to_dict(),
        "export": export.to_dict() if export is not None else None,
    }


def render_optimization_report(
    run: OptimizationRun, analysis: Analysis, *, export: ExportSummary | None = None
) -> str:
    """Render the HTML page.

    Args:
        run: The optimization run.
        analysis: Its analysis.
        export: The fine-tuning export's summary, if any.

    Returns:
        The page.
    """
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, signed=_signed, pct=_pct, usd=_usd, tokens=_tokens)
    rows, cut = _heatmap_rows(run, analysis)
    charts = [
        ("Score trajectory", Markup(trajectory_chart(analysis))),
        (
            f"Per-case scores across candidates ({len(rows)} of {len(rows) + cut} cases,"
            " worst first)"
            if cut
            else "Per-case scores across candidates",
            Markup(heatmap_chart(run, rows, analysis.best_index)),
        ),
    ]
    return env.get_template("optimization.html.j2").render(
        run=run,
        a=analysis,
        export=export,
        charts=charts,
        css=Markup(_css()),
        status_counts=_status_counts(analysis),
        metadata=json.dumps(run.metadata, indent=2, sort_keys=True, default=str),
    )


def trajectory_chart(analysis: Analysis) -> str:
    """Each candidate's validation score, the best so far, the target, window and plateau."""
    from promptsuite.report._charts import _figure, _style, _svg

    points = analysis.trajectory
    with _style():
        fig, ax = _figure(height=3.2)
        xs = [p.index for p in points]
        ax.plot(
            xs, [p.val_score for p in points], "o", color="#1565c0", alpha=0.6, label="candidate"
        )
        ax.step(
            xs, [p.best_score for p in points], where="post", color="#2e7d32", label="best so far"
        )
        ax.axhline(
            analysis.target,
            color="#6a1b9a",
            linestyle="--",
            linewidth=1,
            label=f"target {analysis.target:g}",
        )
        plateau = analysis.plateau
        if plateau.decided and plateau.start_index is not None:
            ax.axvspan(
                xs[-plateau.window - 1],
                xs[-1],
                color="#90a4ae",
                alpha=0.15,
                label=f"last {plateau.window} candidates",
            )
        if plateau.plateau_point is not None:
            ax.axvline(
                plateau.plateau_point,
                color="#e65100",
                linestyle=":",
                label=f"plateau from candidate {plateau.plateau_point}",
            )
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("candidate (evaluation order)")
        ax.set_ylabel("validation score")
        ax.legend(loc="lower right", frameon=False, fontsize=7)
        return _svg(fig, "opt-trajectory")


def heatmap_chart(run: OptimizationRun, case_ids: Sequence[str], best_index: int) -> str:
    """Cases (rows) by candidates (columns), coloured by score; blank where not scored."""
    from matplotlib.patches import Rectangle

    from promptsuite.report._charts import _figure, _style, _svg

    columns = [c.index for c in run.candidates]
    lookup = {(c.index, s.case_id): s.score for c in run.candidates for s in c.cases}
    nan = float("nan")
    grid = [[lookup.get((k, case), nan) for k in columns] for case in case_ids]
    with _style():
        fig, ax = _figure(height=1.2 + 0.16 * max(1, len(case_ids)))
        ax.grid(False)
        if grid:
            image = ax.imshow(
                grid, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, interpolation="nearest"
            )
            fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01, label="score")
            if best_index in columns:
                at = columns.index(best_index)
                ax.add_patch(
                    Rectangle(
                        (at - 0.5, -0.5),
                        1,
                        len(case_ids),
                        fill=False,
                        edgecolor="#1b1b1b",
                        linewidth=1.5,
                    )
                )
        ax.set_yticks(range(len(case_ids)), list(case_ids), fontsize=6)
        step = max(1, len(columns) // 25)
        ax.set_xticks(range(0, len(columns), step), [str(k) for k in columns[::step]])
        ax.set_xlabel("candidate (outlined: best)")
        return _svg(fig, "opt-heatmap")


def _heatmap_rows(run: OptimizationRun, analysis: Analysis) -> tuple[list[str], int]:
    scored = {s.case_id for c in run.candidates for s in c.cases}
    ordered = [c.case_id for c in analysis.cases if c.case_id in scored]
    return ordered[:MAX_HEATMAP_ROWS], max(0, len(ordered) - MAX_HEATMAP_ROWS)


def _status_counts(analysis: Analysis) -> list[tuple[str, int]]:
    names = ("resistant", "unreliable", "unstable", "solved-elsewhere", "solved")
    return [(n, sum(1 for c in analysis.cases if c.status == n)) for n in names]


def _css() -> str:
    base = (resources.files("promptsuite.report") / "templates" / "report.css").read_text(
        encoding="utf-8"
    )
    return base + (_TEMPLATES / "optimization.css").read_text(encoding="utf-8")


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _signed(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:+.{digits}f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _usd(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.6f}"


def _tokens(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"
