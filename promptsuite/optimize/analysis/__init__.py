"""The analysis stage: where prompting plateaus, where it fails, what it costs, the advice.

Pure Python over a recorded :class:`~promptsuite.optimize.OptimizationRun`; no model is
called. See ``docs/optimize.md`` for the definitions and the calibration.
"""

from promptsuite.optimize.analysis._advice import (
    MIN_HELD_OUT,
    OPENAI_MIN_EXAMPLES,
    RECOMMENDED_MIN_EXAMPLES,
    VERDICT_RULES,
    Evidence,
    FailureFacts,
    FinalScore,
    LabelFacts,
    SearchFacts,
    StopFacts,
    Verdict,
    VerdictCode,
    VerdictRule,
    decide,
)
from promptsuite.optimize.analysis._analyze import (
    Analysis,
    FinalFigures,
    TrajectoryPoint,
    analyze,
    search_facts,
)
from promptsuite.optimize.analysis._consistency import (
    GAP_SHARE,
    CaseConsistency,
    Consistency,
    ConsistencyRow,
    consistency,
)
from promptsuite.optimize.analysis._cost import (
    CHARS_PER_TOKEN,
    DEFAULT_CALL_VOLUME,
    CostLine,
    CostSummary,
    Prices,
)
from promptsuite.optimize.analysis._failures import (
    FailureKind,
    FailureSummary,
    summarize_failures,
)
from promptsuite.optimize.analysis._insights import CaseInsight, CaseStatus, TagInsight
from promptsuite.optimize.analysis._learning import LearningCurve, fit_learning_curve
from promptsuite.optimize.analysis._plateau import (
    DEFAULT_MARGIN,
    MIN_WINDOW,
    PLATEAU_CONFIDENCE,
    GainEstimate,
    Plateau,
    best_so_far,
    default_window,
    detect_plateau,
    estimate_gain,
)

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_CALL_VOLUME",
    "DEFAULT_MARGIN",
    "GAP_SHARE",
    "MIN_HELD_OUT",
    "MIN_WINDOW",
    "OPENAI_MIN_EXAMPLES",
    "PLATEAU_CONFIDENCE",
    "RECOMMENDED_MIN_EXAMPLES",
    "VERDICT_RULES",
    "Analysis",
    "CaseConsistency",
    "CaseInsight",
    "CaseStatus",
    "Consistency",
    "ConsistencyRow",
    "CostLine",
    "CostSummary",
    "Evidence",
    "FailureFacts",
    "FailureKind",
    "FailureSummary",
    "FinalFigures",
    "FinalScore",
    "GainEstimate",
    "LabelFacts",
    "LearningCurve",
    "Plateau",
    "Prices",
    "SearchFacts",
    "StopFacts",
    "TagInsight",
    "TrajectoryPoint",
    "Verdict",
    "VerdictCode",
    "VerdictRule",
    "analyze",
    "best_so_far",
    "consistency",
    "decide",
    "default_window",
    "detect_plateau",
    "estimate_gain",
    "fit_learning_curve",
    "search_facts",
    "summarize_failures",
]
