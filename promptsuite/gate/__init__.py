"""Regression gating: per-case repeats and a paired comparison with the baseline."""

from promptsuite.gate._stats import (
    BootstrapResult,
    CaseSummary,
    GateVerdict,
    Reducer,
    Verdict,
    compare_paired,
    mcnemar_exact,
    paired_bootstrap,
    reduce_repeats,
    required_cases,
    wilson_interval,
)

__all__ = [
    "BootstrapResult",
    "CaseSummary",
    "GateVerdict",
    "Reducer",
    "Verdict",
    "compare_paired",
    "mcnemar_exact",
    "paired_bootstrap",
    "reduce_repeats",
    "required_cases",
    "wilson_interval",
]
