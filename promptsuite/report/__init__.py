"""HTML reports of saved results: one self-contained file, rendered without a model.

``write_report("reports/latest.json", "reports/latest.html")`` renders a run's results
file; ``promptsuite report RESULTS.json`` does the same from the command line.
:func:`write_optimization_report` renders an optimization run's JSON report, and
:func:`write_finetune_report` a ``promptsuite finetune`` record.
"""

from promptsuite.report._finetune import render_finetune_report, write_finetune_report
from promptsuite.report._optimization import (
    render_optimization_report,
    write_optimization_report,
)
from promptsuite.report._render import (
    PAGE_SIZE,
    prewarm,
    read_results,
    render_report,
    script_json,
    write_report,
)

__all__ = [
    "PAGE_SIZE",
    "prewarm",
    "read_results",
    "render_finetune_report",
    "render_optimization_report",
    "render_report",
    "script_json",
    "write_finetune_report",
    "write_optimization_report",
    "write_report",
]
