"""Search prompt variants with DSPy, find where prompting plateaus, advise fine-tuning.

``promptsuite optimize suites/x.yaml`` runs the pipeline (:func:`optimize`), stage by stage:

1. **search** (:mod:`~promptsuite.optimize.search`): the suite as a DSPy program whose
   metric is the suite's own check score; instructions and demos searched on a
   train/validation split; every candidate recorded (:class:`OptimizationRun`);
2. **write-back**: the best candidates appended to the prompt file as named variants;
3. **verify**: those variants and the user's own re-run on the held-out test split through
   the normal runner;
4. **analyse and advise** (:mod:`~promptsuite.optimize.analysis`): the plateau, where
   prompting fails, the cost, and the verdict;
5. **export**: the labelled cases as fine-tuning JSONL, with reference answers found by one
   documented rule; then the optimization report (:mod:`promptsuite.report`).

DSPy is imported only when a search runs; importing this package stays cheap.
"""

from promptsuite.optimize._cli import add_parser
from promptsuite.optimize._export import (
    ExportSummary,
    export_finetune,
    validate_example,
    validate_jsonl,
)
from promptsuite.optimize._pipeline import (
    Pick,
    PipelineOptions,
    PipelineResult,
    optimize,
)
from promptsuite.optimize._records import (
    OPTIMIZATION_VERSION,
    Candidate,
    CaseScore,
    Demo,
    OptimizationRun,
)
from promptsuite.optimize._references import reference_answers
from promptsuite.optimize._writeback import NewVariant, write_default, write_variants
from promptsuite.optimize.analysis import Analysis, analyze
from promptsuite.optimize.search import OPTIMIZERS, SearchOptions, SearchOutcome, run_search

__all__ = [
    "OPTIMIZATION_VERSION",
    "OPTIMIZERS",
    "Analysis",
    "Candidate",
    "CaseScore",
    "Demo",
    "ExportSummary",
    "NewVariant",
    "OptimizationRun",
    "Pick",
    "PipelineOptions",
    "PipelineResult",
    "SearchOptions",
    "SearchOutcome",
    "add_parser",
    "analyze",
    "export_finetune",
    "optimize",
    "reference_answers",
    "run_search",
    "validate_example",
    "validate_jsonl",
    "write_default",
    "write_variants",
]
