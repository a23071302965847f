"""Run results: what each case did, persisted as a versioned JSON file.

The file is the contract between a run and everything that reads it later (reports,
baselines, notebooks). ``promptsuite.results.load(path).to_dataframe()`` gives one row per
case x model x prompt x repeat; ``checks_dataframe()`` one row per check.
"""

from promptsuite.results._records import (
    BaselineStatus,
    CaseResult,
    CheckResult,
    GenerationRecord,
    RepeatResult,
)
from promptsuite.results._run import RESULTS_VERSION, RunResults, load
from promptsuite.results._tables import (
    CHECK_COLUMNS,
    SAMPLE_COLUMNS,
    CallCounts,
    GroupKey,
    SummaryRow,
    call_counts,
    check_rows,
    export_rows,
    group_by_variant,
    sample_rows,
    spent_usd,
    summarize,
    usage_metadata,
)
from promptsuite.results._transcript import transcript_line, transcript_text

__all__ = [
    "CHECK_COLUMNS",
    "RESULTS_VERSION",
    "SAMPLE_COLUMNS",
    "BaselineStatus",
    "CallCounts",
    "CaseResult",
    "CheckResult",
    "GenerationRecord",
    "GroupKey",
    "RepeatResult",
    "RunResults",
    "SummaryRow",
    "call_counts",
    "check_rows",
    "export_rows",
    "group_by_variant",
    "load",
    "sample_rows",
    "spent_usd",
    "summarize",
    "transcript_line",
    "transcript_text",
    "usage_metadata",
]
