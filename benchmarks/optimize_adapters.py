"""Measure the optimizer's two task adapters on the embedded model (Banking77 cases).

Usage::

    python benchmarks/optimize_adapters.py [--per-intent N] [--model local]

Runs the suite's prompt as a DSPy program on the first N cases of each intent, through
promptsuite's runner with a fresh cache (every call is a real model call), with:

* ``suite``: the adapter the search uses, rendering the user's own prompt (instruction,
  the prompt's ten few-shot examples, the message) and taking the raw reply as the label;
* ``suite, instruction only``: the same without the prompt's examples;
* ``chat``: DSPy's ChatAdapter (``[[ ## field ## ]]`` format, JSON fallback on a parse
  failure) with the same instruction; it cannot show the prompt's own example turns. Run
  at the suite's ``max_tokens`` (8) and again with room for the field markers.

Prints, per adapter: cases passed (the suite's own checks), model calls, replies DSPy
could not parse, and wall time. Figures depend on the machine's load.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from promptsuite.config import RunSettings
from promptsuite.models._registry import parse_model_spec
from promptsuite.optimize.search import import_dspy
from promptsuite.suite import load_suite

SUITE = Path(__file__).resolve().parents[1] / "suites" / "banking77_intents.yaml"


def measure(
    style: str, keep_examples: bool, max_tokens: int | None, cases: list[Any], model: str
) -> str:
    dspy = import_dspy()
    from promptsuite.optimize._shape import shape_of
    from promptsuite.optimize.search._adapter import RecordingAdapter
    from promptsuite.optimize.search._engine import Bridge, PromptsuiteEngine
    from promptsuite.optimize.search._program import Scorer, build_student, task_spec

    suite = load_suite(SUITE)
    spec = parse_model_spec(model)
    params = (
        suite.params
        if max_tokens is None
        else dataclasses.replace(suite.params, max_tokens=max_tokens)
    )
    shape = shape_of(suite.prompt.variants[suite.prompt.default], where=str(SUITE))
    if not keep_examples:
        shape = dataclasses.replace(shape, fixed=())
    task = task_spec(suite, shape)
    with tempfile.TemporaryDirectory() as folder:
        bridge = Bridge(RunSettings(cache_path=Path(folder) / "cache.sqlite"))
        try:
            engine = PromptsuiteEngine(bridge, spec, params=params, task=True)
            lm = dspy.LM("promptsuite/bench", engine=engine, cache=False)
            scorer = Scorer(bridge, suite, spec)
            program = build_student(task)
            passed = unparsed = 0
            started = time.perf_counter()
            with dspy.context(lm=lm, adapter=RecordingAdapter(task, style)):
                for case in cases:
                    try:
                        prediction = program(**case.vars)
                    except Exception as exc:  # DSPy's AdapterParseError after its fallback
                        if "parse" not in str(exc).lower():
                            raise
                        unparsed += 1
                        continue
                    output = str(prediction.get(task.output_field) or "")
                    passed += scorer.score(case, output, None).passed
            elapsed = time.perf_counter() - started
            calls = engine.stats.calls
        finally:
            bridge.close()
    label = style + ("" if keep_examples else ", instruction only")
    label += f", max_tokens {params.max_tokens}"
    return (
        f"{label:<42} passed {passed}/{len(cases)}  model calls {calls:>3}  "
        f"unparsed {unparsed}  {elapsed:.1f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-intent", type=int, default=2)
    parser.add_argument("--model", default="local")
    parser.add_argument(
        "--chat-max-tokens",
        type=int,
        default=64,
        help="generation limit of the last ChatAdapter run (room for its field markers)",
    )
    args = parser.parse_args()
    suite = load_suite(SUITE)
    cases = [c for c in suite.cases if int(c.id.rsplit("-", 1)[1]) <= args.per_intent]
    print(f"{len(cases)} Banking77 cases on {args.model}")
    logging.disable(logging.WARNING)  # DSPy warns on every truncated reply
    configurations = [
        ("suite", True, None),
        ("suite", False, None),
        ("chat", False, None),
        ("chat", False, args.chat_max_tokens),
    ]
    for style, keep, max_tokens in configurations:
        print(measure(style, keep, max_tokens, cases, args.model), flush=True)


if __name__ == "__main__":
    main()
