"""The optimization report's record: the run, its analysis and the export, in one file.

``promptsuite optimize`` writes it as ``optimization.json`` beside its HTML page
(:mod:`promptsuite.optimize._page`); :func:`read_optimization_report` is the one reader of
the file (``promptsuite finetune --optimization`` uses it). The analysis and the export
summary stay frozen dataclasses; pydantic validates them as fields, so they are read back
typed.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Final, Literal

from pydantic import model_validator

from promptsuite._schema import FrozenRecord, RecordFile
from promptsuite.optimize._export import ExportSummary
from promptsuite.optimize._records import OptimizationRun
from promptsuite.optimize._references import reference_answers
from promptsuite.optimize.analysis import Analysis, summarize_failures

__all__ = ["REPORT_VERSION", "OptimizationReport", "read_optimization_report"]

#: Version 2 holds a version 3 run record. A version 1 report is read as version 2: its run
#: converts itself, and an analysis from before the failure summary existed (a version 1
#: run's) gets one derived from the run, without the suite.
REPORT_VERSION: Final = 2


class OptimizationReport(FrozenRecord):
    """What ``optimization.json`` holds."""

    saved_as: ClassVar[RecordFile | None] = RecordFile(
        "optimization.json",
        "an optimization report",
        "pass the optimization.json that promptsuite optimize writes (or its folder)",
    )

    version: Literal[2] = REPORT_VERSION
    """Version of this record's shape."""
    run: OptimizationRun
    """The run as recorded."""
    analysis: Analysis
    """Its analysis and the advice."""
    export: ExportSummary | None = None
    """The fine-tuning export's summary (None when the export did not run)."""

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Convert a version 1 report (see :data:`REPORT_VERSION`)."""
        if not isinstance(data, dict) or data.get("version") != 1:
            return data
        values = {**data, "version": REPORT_VERSION}
        analysis = data.get("analysis")
        if isinstance(analysis, dict) and "failures" not in analysis and "best_index" in analysis:
            run = OptimizationRun.model_validate(data.get("run"))
            references, _ = reference_answers(run)
            failures = summarize_failures(run, analysis["best_index"], references, None)
            values["analysis"] = {**analysis, "failures": dataclasses.asdict(failures)}
        return values


read_optimization_report = OptimizationReport.read
"""Read an optimization report (see :meth:`~promptsuite._schema.Record.read`)."""
