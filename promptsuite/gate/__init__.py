"""Regression gating: committed baselines, and a paired gate of each run against them.

``_baseline`` reads and writes the baselines, ``_decision`` decides pass, fail or
inconclusive from paired per-case scores, ``_gate`` pairs a suite's results with its
baseline and asks for that decision.
"""

from promptsuite.gate._baseline import (
    BASELINE_DIR,
    Baseline,
    BaselineEntry,
    BaselineRepeat,
    BaselineSource,
    CaseComparison,
    baseline_entry,
    baseline_path,
    compare_case,
    digest,
    entry_key,
    load_baselines,
    messages_digest,
    updated,
)
from promptsuite.gate._decision import (
    DEFAULT_GATE_MARGIN,
    GateDecision,
    GateInconclusive,
    GateVerdict,
    compare_paired,
)
from promptsuite.gate._gate import GateResult, gate, recorded_gates, sorted_gates

__all__ = [
    "BASELINE_DIR",
    "DEFAULT_GATE_MARGIN",
    "Baseline",
    "BaselineEntry",
    "BaselineRepeat",
    "BaselineSource",
    "CaseComparison",
    "GateDecision",
    "GateInconclusive",
    "GateResult",
    "GateVerdict",
    "baseline_entry",
    "baseline_path",
    "compare_case",
    "compare_paired",
    "digest",
    "entry_key",
    "gate",
    "load_baselines",
    "messages_digest",
    "recorded_gates",
    "sorted_gates",
    "updated",
]
