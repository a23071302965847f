"""Checks: each turns one model output into a scored, explained result.

A case lists its checks under ``expect``. Every check scores the output from 0 to 1, passes
or fails, and says in one line what it expected and what it saw. Any type can be negated
with a ``not-`` prefix (``not-contains``): the pass is inverted and the score becomes
``1 - score``. ``weight`` sets a check's share of the case score; ``metric`` names it in
reports. A case passes when every check with a positive weight passes, or, with a case
``threshold``, when the weighted mean score reaches it (promptfoo's rules).

The types come in families, one module each: text (``_text``, with JavaScript-compatible
``regex`` from ``_regex``), JSON (``_json``), markup (``_markup``: XML, HTML), SQL
(``_sql``), similarity to references (``_similarity``: embeddings, difflib, ROUGE, BLEU,
GLEU), the call's latency, tokens, cost, finish reason and perplexity (``_generation``),
code (``_code``: ``python``; ``_scripts`` loads code for it and for ``transform``), groups
(``_sets``: ``assert-set``) and model-graded (``_graded``: ``judge``; ``_model_graded``:
factuality, closed QA, G-Eval, answer relevance, select-best). A ``transform`` on a check
or a case rewrites the output before it is checked.

Each type is one function decorated with :func:`check`, which declares its name, the
fields it accepts and its load-time validator; the function's
docstring documents it (``promptsuite checks`` lists them all). Adding a type means adding
one decorated function and its tests.
"""

from promptsuite.checks import (  # noqa: F401 - importing registers the types
    _code,
    _generation,
    _graded,
    _json,
    _markup,
    _model_graded,
    _sets,
    _similarity,
    _sql,
    _text,
    _tools,
)
from promptsuite.checks._common import bounds_text
from promptsuite.checks._json import (
    extract_json_objects,
    json_candidates,
    parse_json_output,
    parse_path,
    slash_comments_to_hash,
)
from promptsuite.checks._registry import (
    NEGATION,
    CheckContext,
    CheckType,
    EmbedFn,
    Finding,
    GradeFn,
    PeersFn,
    Problem,
    ScoredOutput,
    check,
    check_problems,
    check_types,
    evaluate,
    has_value,
    known_types,
    outcome,
    score,
    split_type,
    uses_type,
)
from promptsuite.checks._scripts import transform_problems
from promptsuite.results import CheckResult

__all__ = [
    "NEGATION",
    "CheckContext",
    "CheckResult",
    "CheckType",
    "EmbedFn",
    "Finding",
    "GradeFn",
    "PeersFn",
    "Problem",
    "ScoredOutput",
    "bounds_text",
    "check",
    "check_problems",
    "check_types",
    "evaluate",
    "extract_json_objects",
    "has_value",
    "json_candidates",
    "known_types",
    "outcome",
    "parse_json_output",
    "parse_path",
    "score",
    "slash_comments_to_hash",
    "split_type",
    "transform_problems",
    "uses_type",
]
