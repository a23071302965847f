"""Similarity checks: how close the output is to reference texts.

``similar`` compares embeddings (cosine, as promptfoo does); ``similar-text`` is difflib's
character ratio, for when no embedding model is wanted; ``rouge-n``, ``bleu`` and ``gleu``
count shared n-grams. The n-gram scores are computed here, by the published formulas and
with promptfoo's tokenization (lowercased; whitespace-separated words for BLEU and GLEU,
words and punctuation for ROUGE), because the libraries that compute them tokenize and
smooth differently and would give other verdicts on the short texts checks look at.
"""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence

from promptsuite._schema import CheckSpec
from promptsuite.checks._common import is_text, num, quote, score_threshold, threshold_or
from promptsuite.checks._graded import grader_spec
from promptsuite.checks._registry import CheckContext, Finding, Problem, check
from promptsuite.errors import CheckError, PromptsuiteError
from promptsuite.models import Embeddings


def references(spec: CheckSpec) -> list[str]:
    """The check's ``value`` as a non-empty list of reference texts (a string or a list).

    Raises:
        CheckError: The value is neither.
    """
    value = spec.value
    values = value if isinstance(value, list) else [value]
    if not values or not all(is_text(v) for v in values):
        raise CheckError(f"{spec.type} needs a reference text (or a list of them), got {value!r}")
    return [str(v) for v in values]


def _need_references(spec: CheckSpec) -> Iterator[Problem]:
    try:
        references(spec)
    except CheckError:
        yield "value", f"{spec.type} needs value: a reference text or a list of them"
    yield from score_threshold(spec)


def _best(
    spec: CheckSpec, scores: Sequence[tuple[str, float]], default: float, what: str
) -> Finding:
    """Passes when any reference scores at least the threshold; the score is the best one."""
    needed = threshold_or(spec, default)
    reference, value = max(scores, key=lambda pair: pair[1])
    more = f" (best of {len(scores)})" if len(scores) > 1 else ""
    return Finding.at_least(
        value,
        needed,
        f"have {what} >= {num(needed)} to {quote(reference)}{more}",
        f"{what} {value:.3f}",
    )


# --- embeddings -----------------------------------------------------------------------------


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0 when either is all zeros)."""
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _euclidean(a: Sequence[float], b: Sequence[float]) -> float:
    # A distance is smaller when closer; as a similarity it is turned into 1 / (1 + d).
    return 1 / (1 + math.dist(a, b))


_METRICS = {"similar": cosine, "similar:cosine": cosine, "similar:dot": _dot}
_METRICS["similar:euclidean"] = _euclidean


async def embeddings(spec: CheckSpec, ctx: CheckContext, texts: Sequence[str]) -> Embeddings:
    """Embed texts with the check's model (``provider``/``grader``) or the run's default.

    Raises:
        CheckError: No embedding model is available, or it failed.
    """
    if ctx.embed is None:
        raise CheckError(
            f"{spec.type} needs an embedding model, and this run has none: set `provider:` on"
            " the check (local, or openai:text-embedding-3-small), or use similar-text"
        )
    model = grader_spec(spec)
    try:
        embedded = await ctx.embed(model, list(texts))
    except PromptsuiteError as err:
        who = model.display if model else "the default embedding model"
        raise CheckError(f"{spec.type}: embedding with {who} failed: {err}") from err
    if len(embedded.vectors) != len(texts):
        raise CheckError(
            f"{spec.type}: the embedding model returned {len(embedded.vectors)} vectors"
        )
    return embedded


@check(
    "similar",
    "value",
    "threshold",
    "grader",
    validate=_need_references,
    aliases=("similar:cosine", "similar:dot", "similar:euclidean"),
)
async def similar(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """The output's embedding is similar to a reference's (``value``, or any of a list):
    cosine similarity at least ``threshold`` (default 0.75; 0.9 with the embedded model,
    whose similarities run higher). ``provider`` picks the embedding model;
    ``similar:dot`` and ``similar:euclidean`` use those measures."""
    refs = references(spec)
    measure = _METRICS.get(spec.type.removeprefix("not-"), cosine)
    if measure is not _dot and ctx.output in refs:
        # Identical texts have identical embeddings: similarity 1 whatever the model, so
        # no embedding call is needed (and the verdict is known offline).
        needed = threshold_or(spec, 0.75)
        return Finding(
            True, 1.0, f"have similarity >= {num(needed)} to {quote(ctx.output)}", "identical"
        )
    embedded = await embeddings(spec, ctx, [ctx.output, *refs])
    vectors = embedded.vectors
    scores = [(ref, measure(vectors[0], vec)) for ref, vec in zip(refs, vectors[1:], strict=True)]
    return _best(spec, scores, embedded.similar_threshold, "similarity")


@check("similar-text", "value", "threshold", validate=_need_references)
def similar_text(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """difflib's character similarity ratio to a reference (``value``, or any of a list) is
    at least ``threshold`` (default 0.8); no model needed."""
    got = ctx.output.strip()
    scores = [
        (ref, difflib.SequenceMatcher(None, got, ref.strip(), autojunk=False).ratio())
        for ref in references(spec)
    ]
    return _best(spec, scores, 0.8, "ratio")


# --- n-gram overlap ---------------------------------------------------------------------------

_ROUGE_TOKEN = re.compile(r"\w+(?:['\u2019]\w+)*|[^\w\s]")


def _grams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def rouge_n(candidate: str, reference: str, n: int = 1) -> float:
    """ROUGE-N recall: the share of the reference's n-grams (counted with repeats) that the
    candidate has, lowercased, words and punctuation as tokens."""
    ref = _grams(_ROUGE_TOKEN.findall(reference.lower()), n)
    cand = _grams(_ROUGE_TOKEN.findall(candidate.lower()), n)
    total = sum(ref.values())
    return sum((ref & cand).values()) / total if total else 0.0


def _words(text: str) -> list[str]:
    return text.lower().split()


def bleu(candidate: str, refs: Sequence[str]) -> float:
    """BLEU-4 (Papineni et al. 2002) of one candidate: uniform weights, counts clipped by the
    best reference, zero precisions floored at 1e-7, brevity penalty against the reference
    closest in length; 0 when the candidate or every reference is blank.

    A candidate of fewer than four words is scored on the n-gram orders it has (its
    "effective order"): an exact three-word answer scores 1, where plain BLEU-4 gives ~0.
    """
    words = _words(candidate)
    ref_words = [w for w in (_words(r) for r in refs) if w]
    if not words or not ref_words:
        return 0.0
    closest = min((len(r) for r in ref_words), key=lambda length: abs(length - len(words)))
    orders = min(4, len(words))
    log_sum = 0.0
    for n in range(1, orders + 1):
        grams = _grams(words, n)
        total = sum(grams.values())
        clipped = max(sum((grams & _grams(r, n)).values()) for r in ref_words)
        precision = clipped / total if total else 0.0
        log_sum += math.log(precision or 1e-7) / orders
    penalty = 1.0 if len(words) > closest else math.exp(1 - closest / len(words))
    return penalty * math.exp(log_sum)


def gleu(candidate: str, reference: str) -> float:
    """Google-BLEU of one sentence: over all 1- to 4-grams, the smaller of precision and
    recall; 0 when either text has no words."""
    words, ref = _words(candidate), _words(reference)
    cand_grams: Counter[tuple[str, ...]] = Counter()
    ref_grams: Counter[tuple[str, ...]] = Counter()
    for n in range(1, 5):
        cand_grams += _grams(words, n)
        ref_grams += _grams(ref, n)
    cand_total, ref_total = sum(cand_grams.values()), sum(ref_grams.values())
    if not cand_total or not ref_total:
        return 0.0
    matches = sum((cand_grams & ref_grams).values())
    return min(matches / cand_total, matches / ref_total)


@check("rouge-n", "value", "threshold", validate=_need_references)
def rouge(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """ROUGE-1 recall of the output against ``value`` (the share of the reference's words it
    contains, case-insensitive) is at least ``threshold`` (default 0.75)."""
    scores = [(ref, rouge_n(ctx.output, ref)) for ref in references(spec)]
    return _best(spec, scores, 0.75, "ROUGE-1 recall")


@check("bleu", "value", "threshold", validate=_need_references)
def bleu_check(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """BLEU-4 of the output against ``value`` (one reference or several) is at least
    ``threshold`` (default 0.5)."""
    refs = references(spec)
    value = bleu(ctx.output, refs)
    needed = threshold_or(spec, 0.5)
    return Finding.at_least(
        value,
        needed,
        f"have BLEU >= {num(needed)} against {len(refs)} reference(s)",
        f"BLEU {value:.4f}",
    )


@check("gleu", "value", "threshold", validate=_need_references)
def gleu_check(spec: CheckSpec, ctx: CheckContext) -> Finding:
    """GLEU of the output against ``value`` (the best of several references) is at least
    ``threshold`` (default 0.5)."""
    scores = [(ref, gleu(ctx.output, ref)) for ref in references(spec)]
    return _best(spec, scores, 0.5, "GLEU")
