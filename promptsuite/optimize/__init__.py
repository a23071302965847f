"""Search prompt variants with DSPy, find where prompting plateaus, advise fine-tuning.

``promptsuite optimize suites/x.yaml`` runs the pipeline (:func:`optimize`), stage by stage:

1. **search** (:mod:`~promptsuite.optimize.search`): the suite as a DSPy program whose
   metric is the suite's own check score; instructions and demos searched on a
   train/validation split; every candidate recorded (:class:`OptimizationRun`);
2. **write-back**: the best candidates appended to the prompt file as named variants;
3. **verify**: those variants and the user's own re-run on the held-out test split through
   the normal runner (:func:`retest`, the engine the fine-tune re-tests with too);
4. **analyse and advise** (:mod:`~promptsuite.optimize.analysis`): the plateau, where
   prompting fails, the cost, and the verdict;
5. **export**: the labelled cases as fine-tuning JSONL, with reference answers found by one
   documented rule; then the optimization report (:class:`OptimizationReport`, its page
   drawn by :func:`render_optimization_report`).

The records are versioned pydantic models; :func:`read_run` and
:func:`read_optimization_report` read the files back (older versions converted). DSPy is
imported only when a search runs; importing this package stays cheap.
"""

from promptsuite.optimize._export import (
    ExportSummary,
    export_finetune,
    validate_example,
    validate_jsonl,
)
from promptsuite.optimize._page import render_optimization_report, write_optimization_report
from promptsuite.optimize._pipeline import (
    Pick,
    PipelineOptions,
    PipelineResult,
    Say,
    optimize,
)
from promptsuite.optimize._records import (
    OPTIMIZATION_VERSION,
    AutoPlan,
    Candidate,
    CaseScore,
    Demo,
    DspySearch,
    ModelUsage,
    OptimizationRun,
    ReferenceSummary,
    RepairedDemos,
    RunnerCounts,
    SampledCase,
    Sampling,
    SearchSettings,
    SearchStop,
    Spend,
    SpendingLimits,
    Verification,
    mean,
    mean_score,
    read_run,
)
from promptsuite.optimize._references import (
    own_references,
    reference_answers,
    sampled_references,
)
from promptsuite.optimize._report import (
    REPORT_VERSION,
    OptimizationReport,
    read_optimization_report,
)
from promptsuite.optimize._retest import Retested, retest
from promptsuite.optimize._writeback import NewVariant, write_default, write_variants
from promptsuite.optimize.analysis import Analysis, analyze
from promptsuite.optimize.search import OPTIMIZERS, SearchOptions, SearchOutcome, run_search

__all__ = [
    "OPTIMIZATION_VERSION",
    "OPTIMIZERS",
    "REPORT_VERSION",
    "Analysis",
    "AutoPlan",
    "Candidate",
    "CaseScore",
    "Demo",
    "DspySearch",
    "ExportSummary",
    "ModelUsage",
    "NewVariant",
    "OptimizationReport",
    "OptimizationRun",
    "Pick",
    "PipelineOptions",
    "PipelineResult",
    "ReferenceSummary",
    "RepairedDemos",
    "Retested",
    "RunnerCounts",
    "SampledCase",
    "Sampling",
    "Say",
    "SearchOptions",
    "SearchOutcome",
    "SearchSettings",
    "SearchStop",
    "Spend",
    "SpendingLimits",
    "Verification",
    "analyze",
    "export_finetune",
    "mean",
    "mean_score",
    "optimize",
    "own_references",
    "read_optimization_report",
    "read_run",
    "reference_answers",
    "render_optimization_report",
    "retest",
    "run_search",
    "sampled_references",
    "validate_example",
    "validate_jsonl",
    "write_default",
    "write_optimization_report",
    "write_variants",
]
