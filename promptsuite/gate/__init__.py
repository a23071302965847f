"""Regression gating: committed baselines, and a paired gate of each run against them."""

from promptsuite.gate._baseline import (
    BASELINE_DIR,
    Baseline,
    BaselineEntry,
    BaselineRepeat,
    CaseComparison,
    baseline_path,
    compare_case,
    digest,
    entry_key,
    messages_digest,
    updated,
)
from promptsuite.gate._gate import GateResult, gate

__all__ = [
    "BASELINE_DIR",
    "Baseline",
    "BaselineEntry",
    "BaselineRepeat",
    "CaseComparison",
    "GateResult",
    "baseline_path",
    "compare_case",
    "digest",
    "entry_key",
    "gate",
    "messages_digest",
    "updated",
]
