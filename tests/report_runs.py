"""Synthetic run results for the report's tests and benchmark, including hostile text.

A synthetic run has the shape a real one has (suites, models, prompt variants, repeats,
checks with reasons, baselines, gate verdicts); its content is made up and seeded.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from promptsuite.results import CaseResult, CheckResult, GenerationRecord, RepeatResult, RunResults

#: Strings that would run script if they reached the page as markup, or end the JSON island.
HOSTILE = (
    "<script>document.title='pwned';window.__pwned=1</script>",
    '"><img src=x onerror="window.__pwned=2">',
    '<a href="javascript:window.__pwned=3">click me</a>',
    "</script><script>window.__pwned=4</script><!--",
    "\u2028\u2029<svg onload=window.__pwned=5>",
    "{{ 7*7 }} ${7*7} $x^2$ &amp; &lt;",
)

_WORDS = (
    *("refund", "order", "card", "account", "payment", "sorry", "help", "please", "thank"),
    *("you", "delivery", "arrived", "broken", "charge", "twice", "label", "track"),
    *("exchange", "rate", "support", "team", "today", "week"),
)
_SYSTEM = (
    "You are the customer-support assistant of Maple & Co. Answer politely, in at most "
    "three sentences, and always offer a next step. " * 4
)


def synthetic_run(
    cases: int,
    *,
    models: Sequence[str] = ("gpt-4o-mini", "local"),
    variants: Sequence[str] = ("default", "terse"),
    repeats: int = 1,
    suites: int = 3,
    seed: int = 7,
    hostile: bool = False,
) -> RunResults:
    """A run of ``cases`` case results spread over suites x models x variants.

    Args:
        cases: Number of case results (case x model x variant).
        models: Model labels; ``local`` is the free embedded model, others OpenAI names.
        variants: Prompt variant names.
        repeats: Repeats per case.
        suites: Number of suites.
        seed: Random seed; the same seed gives the same run.
        hostile: Put :data:`HOSTILE` strings into the first cases' outputs, ids, tags, vars
            (the rendered user message), reasons and errors, and into a suite name.
    """
    rng = random.Random(seed)
    combos = [(m, v) for m in models for v in variants]
    results = []
    for i in range(cases):
        model, variant = combos[i % len(combos)]
        suite = f"suite_{(i // len(combos)) % suites}"
        case_id = f"case-{i // len(combos):05d}"
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 40)))
        tags = [rng.choice(("billing", "delivery", "tone")), f"t{i % 7}"]
        user = f"Customer message {i}: {text}"
        error = None
        if hostile and i < len(HOSTILE) * len(combos):
            payload = HOSTILE[i // len(combos)]
            text = f"{payload} {text}"
            user = f"{user} {payload}"
            tags.append(payload)
            if i == 0:
                suite = f"suite_{payload}"
            if i == len(combos):
                error = f"TransportError {payload}"
        samples = []
        for r in range(repeats):
            passed = rng.random() < 0.8 and error is None
            checks = [
                _check("icontains-any", None, passed, text),
                _check("word-count", "concise", rng.random() < 0.9, text),
                _check("not-regex", None, True, text),
            ]
            samples.append(
                RepeatResult(
                    index=r,
                    output=text if r == 0 else f"{text} {rng.choice(_WORDS)}",
                    generation=GenerationRecord(
                        prompt_tokens=150 + len(user) // 4,
                        completion_tokens=len(text) // 4,
                        latency_s=rng.lognormvariate(-1.0, 0.6),
                        finish_reason="stop",
                        model=model,
                        cached=rng.random() < 0.3,
                    ),
                    checks=checks,
                    passed=passed,
                    score=sum(c.score for c in checks) / len(checks),
                    error=error,
                )
            )
        results.append(
            CaseResult(
                test_id=f"suites/{suite}.yaml::{case_id}[{model}-{variant}]",
                suite=suite,
                suite_path=f"suites/{suite}.yaml",
                case_id=f"{case_id} {HOSTILE[0]}" if hostile and i == 0 else case_id,
                model=model,
                backend=_backend(model),
                variant=variant,
                tags=tags,
                messages=[
                    {"role": "system", "content": _SYSTEM},
                    {"role": "user", "content": user},
                ],
                repeats=samples,
                passed=all(s.passed for s in samples),
                score=min(s.score for s in samples),
                error=error,
                error_kind="TransportError" if error else None,
            )
        )
    return RunResults(cases=results, metadata=_metadata(results, models))


def _check(kind: str, metric: str | None, passed: bool, text: str) -> CheckResult:
    reason = "ok" if passed else f"expected output to match; got {text[:80]!r}"
    return CheckResult(kind, passed, 1.0 if passed else 0.0, reason, 1.0, metric)


def _backend(model: str) -> dict[str, Any]:
    if model == "local":
        return {"provider": "local", "model": "SmolLM2-135M-Instruct.Q4_1.gguf"}
    return {"provider": "openai", "model": model, "base_url": "https://api.openai.com/v1"}


def _metadata(results: list[CaseResult], models: Sequence[str]) -> dict[str, Any]:
    groups = sorted({(c.suite, c.model, c.variant) for c in results})
    return {
        "started": "2026-01-02T03:04:05+00:00",
        "finished": "2026-01-02T03:09:05+00:00",
        "promptsuite": "0.1.0",
        "python": "3.11.7",
        "platform": "Linux-test",
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "settings": {
            "concurrency": 16,
            "cache_mode": "use",
            "repeat": None,
            "models": list(models),
        },
        "model_calls": sum(len(c.repeats) for c in results),
        "cache_hits": 0,
        "gates": [
            {
                "suite": suite,
                "model": model,
                "variant": variant,
                "verdict": "pass" if n % 3 else "inconclusive",
                "mean_diff": -0.01 * (n % 3),
                "ci_low": -0.08,
                "ci_high": 0.04,
                "sd_diff": 0.2,
                "n_cases": 10,
                "pass_to_fail": n % 3,
                "fail_to_pass": 0,
                "p_value_mcnemar": 1.0,
                "margin": 0.05,
                "confidence": 0.95,
                "cases_needed": None if n % 3 else 120,
                "reason": f"gate reason {n}",
            }
            for n, (suite, model, variant) in enumerate(groups)
        ],
    }
