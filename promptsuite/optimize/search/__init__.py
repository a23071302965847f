"""The search stage: a DSPy optimizer over a suite's prompt, every candidate recorded.

:func:`run_search` splits the cases (seeded, stratified by tag; the test split is never
shown to the optimizer), scores the user's own variant on validation (candidate 0), then
lets the chosen optimizer propose candidates (train cases without a reference answer are
first sampled for one: :mod:`._sampling`), scored by the suite's own checks through
promptsuite's runner and cache. DSPy is imported only when a search runs.
"""

from promptsuite.optimize.search._options import (
    DEFAULT_TARGET,
    JOINING,
    OPTIMIZE_INSTALL,
    OPTIMIZERS,
    Progress,
    SearchOptions,
)
from promptsuite.optimize.search._run import SearchOutcome, import_dspy, run_search, sampling_line
from promptsuite.optimize.search._sampling import (
    DEFAULT_SAMPLE_TEMPERATURE,
    DEFAULT_SAMPLES,
    SamplingOptions,
    sample_references,
)
from promptsuite.optimize.search._split import (
    DEFAULT_FRACTIONS,
    fractions_text,
    parse_fractions,
    split_cases,
)

__all__ = [
    "DEFAULT_FRACTIONS",
    "DEFAULT_SAMPLES",
    "DEFAULT_SAMPLE_TEMPERATURE",
    "DEFAULT_TARGET",
    "JOINING",
    "OPTIMIZERS",
    "OPTIMIZE_INSTALL",
    "Progress",
    "SamplingOptions",
    "SearchOptions",
    "SearchOutcome",
    "fractions_text",
    "import_dspy",
    "parse_fractions",
    "run_search",
    "sample_references",
    "sampling_line",
    "split_cases",
]
