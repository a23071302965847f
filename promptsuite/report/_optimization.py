"""The optimization report: one self-contained HTML page of an optimization run.

Rendered, like the run report, from saved data only: the JSON report that
``promptsuite optimize`` writes beside the page (the run record, its analysis and the
fine-tuning export's summary). Stylesheet, chart style and formatters are the run report's;
charts are matplotlib SVG inlined in the page, every string from the run is autoescaped, and
nothing is loaded from the network. It needs no JavaScript.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from promptsuite._files import write_json_atomic, write_text_atomic
from promptsuite.report._charts import figure, style, svg
from promptsuite.report._templates import asset, environment

#: Rows of the per-case heatmap; the worst cases come first, the caption says what was cut.
MAX_HEATMAP_ROWS = 60
#: The case statuses of an analysis, worst first.
CASE_STATUSES = ("resistant", "unreliable", "unstable", "solved-elsewhere", "solved")


def write_optimization_report(
    data: Mapping[str, Any], out_dir: str | Path, *, name: str = "optimization"
) -> list[Path]:
    """Write ``{name}.json`` (the data) and ``{name}.html`` (the page) into ``out_dir``.

    Args:
        data: The JSON report: ``{"version", "run", "analysis", "export"}``.
        out_dir: Folder to write into (created if missing).
        name: File name stem.

    Returns:
        The paths written: the HTML page, then the JSON file.
    """
    out = Path(out_dir)
    json_path = write_json_atomic(out / f"{name}.json", data, indent=2)
    html_path = write_text_atomic(out / f"{name}.html", render_optimization_report(data))
    return [html_path, json_path]


def render_optimization_report(data: Mapping[str, Any]) -> str:
    """The HTML page of a JSON optimization report."""
    from markupsafe import Markup

    run, analysis = data["run"], data["analysis"]
    rows, cut = _heatmap_rows(run, analysis)
    heatmap_title = (
        f"Per-case scores across candidates ({len(rows)} of {len(rows) + cut} cases, worst first)"
        if cut
        else "Per-case scores across candidates"
    )
    charts = [
        ("Score trajectory", Markup(trajectory_chart(analysis))),
        (heatmap_title, Markup(heatmap_chart(run, rows, analysis["best_index"]))),
    ]
    return str(
        environment()
        .get_template("optimization.html.j2")
        .render(
            run=run,
            a=analysis,
            export=data.get("export"),
            charts=charts,
            css=Markup(asset("report.css") + asset("optimization.css")),
            status_counts=[
                (s, sum(1 for c in analysis["cases"] if c["status"] == s)) for s in CASE_STATUSES
            ],
            metadata=json.dumps(run["metadata"], indent=2, sort_keys=True, default=str),
        )
    )


def trajectory_chart(analysis: Mapping[str, Any]) -> str:
    """Each candidate's validation score, the best so far, the target, window and plateau."""
    points = analysis["trajectory"]
    with style():
        fig, ax = figure(height=3.2)
        xs = [p["index"] for p in points]
        ax.plot(
            xs, [p["val_score"] for p in points], "o", color="#1565c0", alpha=0.6, label="candidate"
        )
        ax.step(
            xs,
            [p["best_score"] for p in points],
            where="post",
            color="#2e7d32",
            label="best so far",
        )
        target = analysis["target"]
        ax.axhline(target, color="#6a1b9a", linestyle="--", linewidth=1, label=f"target {target:g}")
        plateau = analysis["plateau"]
        if plateau["decided"] and plateau["start_index"] is not None:
            ax.axvspan(
                xs[-plateau["window"] - 1],
                xs[-1],
                color="#90a4ae",
                alpha=0.15,
                label=f"last {plateau['window']} candidates",
            )
        if plateau["plateau_point"] is not None:
            ax.axvline(
                plateau["plateau_point"],
                color="#e65100",
                linestyle=":",
                label=f"plateau from candidate {plateau['plateau_point']}",
            )
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("candidate (evaluation order)")
        ax.set_ylabel("validation score")
        ax.legend(loc="lower right", frameon=False, fontsize=7)
        return svg(fig, "opt-trajectory")


def heatmap_chart(run: Mapping[str, Any], case_ids: Sequence[str], best_index: int) -> str:
    """Cases (rows) by candidates (columns), coloured by score; blank where not scored."""
    from matplotlib.patches import Rectangle

    columns = [c["index"] for c in run["candidates"]]
    lookup = {
        (c["index"], s["case_id"]): _mean(s["scores"])
        for c in run["candidates"]
        for s in c["cases"]
    }
    nan = float("nan")
    grid = [[lookup.get((k, case), nan) for k in columns] for case in case_ids]
    with style():
        fig, ax = figure(height=1.2 + 0.16 * max(1, len(case_ids)))
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
        return svg(fig, "opt-heatmap")


def _heatmap_rows(run: Mapping[str, Any], analysis: Mapping[str, Any]) -> tuple[list[str], int]:
    scored = {s["case_id"] for c in run["candidates"] for s in c["cases"]}
    ordered = [c["case_id"] for c in analysis["cases"] if c["case_id"] in scored]
    return ordered[:MAX_HEATMAP_ROWS], max(0, len(ordered) - MAX_HEATMAP_ROWS)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
