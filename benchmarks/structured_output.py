"""What constrained decoding does to the json_extraction example suite on the embedded model.

Runs ``suites/json_extraction.yaml`` through the real plugin, in a temporary copy of the
project with the response cache off, with the prompt as committed (instructions and two
examples) and with a bare prompt (the customer's message alone), each without and with
``response_format: {type: json_schema}`` carrying the suite's own schema (which the local
provider enforces with llama.cpp's JSON-schema grammar). Prints, for each run, the cases
passed and the pass rate of each check metric.

Usage::

    python benchmarks/structured_output.py [--repeat N] [--temperature T]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUITE = "json_extraction"


def project(folder: Path, constrained: bool, bare: bool, repeat: int, temperature: float) -> None:
    import yaml

    (folder / "suites").mkdir()
    (folder / "prompts").mkdir()
    suite = yaml.safe_load((ROOT / "suites" / f"{SUITE}.yaml").read_text())
    suite["defaults"].update(repeat=repeat, temperature=temperature)
    (folder / "suites" / f"{SUITE}.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    prompt = yaml.safe_load((ROOT / "prompts" / f"{SUITE}.yaml").read_text())
    if bare:
        prompt = {"name": SUITE, "user": prompt["user"]}
    if constrained:
        schema = next(c["schema"] for c in suite["defaults"]["expect"] if "schema" in c)
        prompt["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "order", "schema": schema},
        }
    (folder / "prompts" / f"{SUITE}.yaml").write_text(yaml.safe_dump(prompt, sort_keys=False))


def run(constrained: bool, bare: bool, repeat: int, temperature: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        project(folder, constrained, bare, repeat, temperature)
        started = time.perf_counter()
        process = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "suites",
                "-q",
                "-p",
                "no:cacheprovider",
                "--promptsuite-cache",
                "off",
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        latest = folder / "reports" / "latest.json"
        if process.returncode not in (0, 1) or not latest.exists():
            raise RuntimeError(f"pytest failed ({process.returncode}):\n{process.stdout[-3000:]}")
        data = json.loads(latest.read_text())
    cases = data["cases"]
    metrics: dict[str, list[bool]] = defaultdict(list)
    for case in cases:
        for repeat_result in case["repeats"]:
            for check in repeat_result["checks"]:
                metrics[check["metric"] or check["type"]].append(check["passed"])
    return {
        "constrained": constrained,
        "cases": len(cases),
        "passed": sum(c["passed"] for c in cases),
        "metrics": {k: sum(v) / len(v) for k, v in sorted(metrics.items())},
        "seconds": round(elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=0.0)
    args = parser.parse_args()
    for bare in (False, True):
        for constrained in (False, True):
            result = run(constrained, bare, args.repeat, args.temperature)
            label = "bare prompt" if bare else "committed prompt"
            label += ", response_format json_schema" if constrained else ", no response_format"
            count = f"{result['passed']}/{result['cases']}"
            print(f"{label}: {count} cases passed ({result['seconds']} s)")
            for metric, rate in result["metrics"].items():
                print(f"  {metric:<12} {rate:6.1%} of checks passed")


if __name__ == "__main__":
    main()
