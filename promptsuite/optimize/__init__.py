"""Search prompt variants with DSPy, find where prompting plateaus, advise fine-tuning.

``promptsuite optimize suites/x.yaml`` turns a suite into a DSPy program whose metric is the
suite's own expectation score, searches instructions and demos on a train/validation
split, records every candidate (:class:`OptimizationRun`), writes the best back into the
prompt file as named variants and verifies them on the held-out test split through the
normal runner; :func:`analyze` then reads the run for the plateau and the advice.

DSPy is imported only when a search runs; importing this package stays cheap.
"""

from promptsuite.optimize._analysis import Analysis, analyze
from promptsuite.optimize._export import export_finetune
from promptsuite.optimize._records import (
    OPTIMIZATION_VERSION,
    Candidate,
    CaseScore,
    Demo,
    OptimizationRun,
)
from promptsuite.optimize._report import write_optimization_report
from promptsuite.optimize._search import OPTIMIZERS, SearchOptions, SearchOutcome, run_search
from promptsuite.optimize._split import split_cases
from promptsuite.optimize._writeback import NewVariant, write_default, write_variants

__all__ = [
    "OPTIMIZATION_VERSION",
    "OPTIMIZERS",
    "Analysis",
    "Candidate",
    "CaseScore",
    "Demo",
    "NewVariant",
    "OptimizationRun",
    "SearchOptions",
    "SearchOutcome",
    "analyze",
    "export_finetune",
    "run_search",
    "split_cases",
    "write_default",
    "write_optimization_report",
    "write_variants",
]
