"""How often promptsuite's verdicts agree with promptfoo's documented ones, and with
promptfoo's own on JSON.

Runs the corpus in ``tests/unit/checks/promptfoo_corpus.yaml`` (promptfoo assertions as
promptfoo configs write them, with the pass and score promptfoo documents) through
promptsuite's checks, and prints the verdict and score agreement, by check type, and each
disagreement with its documented reason.

Then it asks promptfoo 0.123.1 itself (its ``assertions.runAssertion``, under Node) for
its ``is-json`` / ``contains-json`` verdicts on the corpus's outputs and on seeded random
strings of JSON and YAML punctuation, and prints how many of ours agree. promptfoo and
the Node it needs are installed into ``~/.cache/promptsuite-bench`` on first use, as
``benchmarks/side_by_side.py`` does (``--no-promptfoo`` skips this part).

    python benchmarks/promptfoo_agreement.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from promptsuite._schema import CheckSpec
from promptsuite.checks import CheckContext, evaluate, score, split_type
from promptsuite.errors import CheckError
from promptsuite.models import Generation

sys.path.insert(0, str(Path(__file__).parent))
from side_by_side import PROMPTFOO_ENV, child_env, ensure_promptfoo

CORPUS = Path(__file__).parents[1] / "tests" / "unit" / "checks" / "promptfoo_corpus.yaml"
JSON_TYPES = frozenset({"is-json", "contains-json"})
#: What the random strings are made of: the characters and words lenient JSON turns on.
FUZZ_PIECES = (*"{}[]:,\"' \n/#abcxy0123-.", "true", "null", "yes", "//", "http://x", ": ")
#: Asks promptfoo for its verdicts: a file of [assertion, output] pairs in, pass flags out.
VERDICTS_SCRIPT = """
import { assertions } from "promptfoo";
import fs from "node:fs";
const verdicts = [];
for (const [assertion, output] of JSON.parse(fs.readFileSync(process.argv[2], "utf8"))) {
  const result = await assertions.runAssertion({
    assertion, test: { vars: {} }, providerResponse: { output }, prompt: "",
  });
  verdicts.push(result.pass);
}
console.log(JSON.stringify(verdicts));
"""


def _context(case: dict[str, Any]) -> CheckContext:
    generation = dict(case.get("generation") or {})
    if "logprobs" in generation:
        generation["logprobs"] = tuple(generation["logprobs"])
    return CheckContext(
        case["output"],
        Generation(case["output"], **generation),
        case.get("vars") or {},
        (),
        CORPUS.parent,
    )


def _ours(case: dict[str, Any], combined: bool) -> tuple[bool | None, float | None]:
    try:
        if combined:
            specs = [CheckSpec.model_validate(a) for a in case["assert"]]
            outcome = asyncio.run(score(specs, _context(case), case.get("threshold")))
            return outcome.passed, outcome.score
        result = asyncio.run(evaluate(CheckSpec.model_validate(case["assert"]), _context(case)))
    except CheckError:
        return None, None
    return result.passed, result.score


def promptfoo_verdicts(pairs: list[tuple[dict[str, Any], str]], cache: Path) -> list[bool]:
    """promptfoo's own pass flags for (assertion, output) pairs."""
    node, _ = ensure_promptfoo(cache)
    # The script sits beside promptfoo's node_modules, so `import "promptfoo"` finds it.
    with tempfile.TemporaryDirectory(dir=cache) as folder:
        script, data = Path(folder) / "verdicts.mjs", Path(folder) / "pairs.json"
        script.write_text(VERDICTS_SCRIPT, encoding="utf-8")
        data.write_text(json.dumps(pairs), encoding="utf-8")
        done = subprocess.run(
            [str(node), str(script), str(data)],
            capture_output=True,
            text=True,
            cwd=cache,
            env=child_env(PROMPTFOO_ENV),
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"promptfoo failed ({done.returncode}):\n{done.stderr[-2000:]}")
    verdicts: list[bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return verdicts


def fuzz_outputs(count: int, seed: int = 7) -> list[str]:
    """Seeded random strings of JSON and YAML punctuation, half of them opening a brace."""
    rng = random.Random(seed)
    outputs = []
    for _ in range(count):
        text = "".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randint(1, 30)))
        outputs.append("{" + text if rng.random() < 0.5 else text)
    return outputs


def compare_json_verdicts(corpus: dict[str, Any], cache: Path, fuzz: int) -> None:
    """Print how many of our is-json / contains-json verdicts promptfoo's own share."""
    cases = [c for c in corpus["cases"] if split_type(c["assert"]["type"])[1] in JSON_TYPES]
    strings = fuzz_outputs(fuzz)
    pairs = [(c["assert"], c["output"]) for c in cases]
    pairs += [({"type": "contains-json"}, text) for text in strings]
    theirs = promptfoo_verdicts(pairs, cache)
    ours = [_ours({"assert": a, "output": o}, False)[0] for a, o in pairs]
    agree = [a == b for a, b in zip(ours, theirs, strict=True)]
    n = len(cases)
    print("\nis-json / contains-json against promptfoo 0.123.1 itself (its runAssertion):")
    print(f"  corpus outputs: {sum(agree[:n])}/{n} verdicts agree")
    for (assertion, output), same in zip(pairs[:n], agree[:n], strict=True):
        if not same:
            print(f"    {assertion['type']}: {output[:40]!r}")
    shared = sum(agree[n:])
    print(
        f"  contains-json on {len(strings)} seeded random strings of JSON and YAML punctuation: "
        f"{shared}/{len(strings)} agree ({shared / max(len(strings), 1):.1%}; the rest are "
        "where two YAML 1.2 readers part on malformed text)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-promptfoo", action="store_true", help="skip promptfoo's own run")
    parser.add_argument("--fuzz", type=int, default=4000, help="random strings to compare")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path.home() / ".cache" / "promptsuite-bench"
    )
    args = parser.parse_args()
    corpus = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    rows = [(c, False) for c in corpus["cases"]] + [(c, True) for c in corpus["tests"]]
    verdicts = scores = scored = 0
    by_type: Counter[str] = Counter()
    disagree: list[str] = []
    for case, combined in rows:
        documented = case.get("promptfoo") or {"pass": case.get("pass"), "score": case.get("score")}
        passed, value = _ours(case, combined)
        kind = "test" if combined else split_type(case["assert"]["type"])[1]
        by_type[kind] += 1
        expected_pass = None if case.get("error") else documented["pass"]
        if passed == expected_pass:
            verdicts += 1
        else:
            disagree.append(f"  {kind}: {case['output'][:30]!r}: {case.get('deviation', '?')}")
        if documented.get("score") is not None and value is not None:
            scored += 1
            scores += abs(value - documented["score"]) < 1e-3
    print(f"{len(rows)} cases over {len(by_type) - 1} check types and {by_type['test']} combined")
    print(f"verdicts agreeing with promptfoo's documented ones: {verdicts}/{len(rows)}"
          f" ({verdicts / len(rows):.1%})")  # fmt: skip
    print(f"scores agreeing (of {scored} with a documented score): {scores}/{scored}")
    print("disagreements (all documented in docs/checks.md):")
    print("\n".join(disagree) or "  none")
    if not args.no_promptfoo:
        compare_json_verdicts(corpus, args.cache_dir, args.fuzz)


if __name__ == "__main__":
    main()
