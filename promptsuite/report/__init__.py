"""HTML reports of saved results: one self-contained file, rendered without a model.

``write_report("reports/latest.json", "reports/latest.html")`` renders a run's results
file; ``promptsuite report RESULTS.json`` does the same from the command line. The drawing
kit (the SVG canvas, ticks, colours, the templates' environment and assets) is public: the
optimization and fine-tune pages (:mod:`promptsuite.optimize`, :mod:`promptsuite.finetune`)
are drawn with it, beside their records.
"""

from promptsuite.report._charts import BLUE, PASS, trajectory_panel
from promptsuite.report._render import (
    PAGE_SIZE,
    prewarm,
    read_results,
    render_report,
    script_json,
    write_report,
)
from promptsuite.report._svg import Canvas, esc, label_width, nice_ticks, tick_text
from promptsuite.report._templates import asset, environment

__all__ = [
    "BLUE",
    "PAGE_SIZE",
    "PASS",
    "Canvas",
    "asset",
    "environment",
    "esc",
    "label_width",
    "nice_ticks",
    "prewarm",
    "read_results",
    "render_report",
    "script_json",
    "tick_text",
    "trajectory_panel",
    "write_report",
]
