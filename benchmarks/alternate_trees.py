"""Two source trees of promptsuite on the same workload, alternating: which one is faster?

It builds ``side_by_side.py``'s workload without promptfoo (one stub process with a fixed
delay per request, N cases with three checks each) and times ``python -m pytest suites/``
with the response cache off, importing promptsuite from tree A, then from tree B (each on
``PYTHONPATH``), strictly alternating, ``--runs`` times each. A change is worth its place
when the difference of the medians is clearly larger than the spread of either side; the
paired differences (B minus A, run by run) show whether the machine's load drifted.

A tree is any folder holding a ``promptsuite`` package, such as a commit's::

    mkdir /tmp/before && git archive b2af236 promptsuite | tar -x -C /tmp/before
    python benchmarks/alternate_trees.py /tmp/before . --cases 200 --delay-ms 50 --runs 11
    python benchmarks/alternate_trees.py /tmp/a /tmp/b -- --promptsuite-model-process off

Options for both trees' pytest runs go after ``--``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path

from side_by_side import child_env, promptsuite_command, start_stub, timed, write_promptsuite


def spread(samples: list[float]) -> str:
    """Median, lowest, highest and the quartiles' distance of ``samples``."""
    low, _, high = statistics.quantiles(samples, n=4, method="inclusive")
    return (
        f"median {statistics.median(samples):.3f} s  min {min(samples):.3f}  "
        f"max {max(samples):.3f}  IQR {high - low:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree_a", type=Path)
    parser.add_argument("tree_b", type=Path)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("extra", nargs="*", help="pytest options for both trees' runs")
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs: at least 2, for a spread")

    trees = {"A": args.tree_a.resolve(), "B": args.tree_b.resolve()}
    work = Path(tempfile.mkdtemp(prefix="alternate-trees-"))
    stub, base_url = start_stub(args.delay_ms)
    rows: dict[str, list[float]] = {"A": [], "B": []}
    try:
        suites = write_promptsuite(work, args.cases, base_url)
        command = [
            *promptsuite_command(args, suites, work / "cache.sqlite"),
            "--promptsuite-cache",
            "off",
        ]
        envs = {name: child_env({"PYTHONPATH": str(tree)}) for name, tree in trees.items()}
        for name in rows:  # compiles each tree's bytecode, not timed
            timed(command, work, envs[name], (0,))
        for _ in range(args.runs):
            for name in rows:
                rows[name].append(timed(command, work, envs[name], (0,)))
    finally:
        stub.terminate()
        stub.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.cases} cases, {args.delay_ms:g} ms per request, {args.runs} runs each")
    for name, samples in rows.items():
        print(f"  {name} {trees[name]}: {spread(samples)}")
        print("     " + " ".join(f"{s:.2f}" for s in samples))
    paired = [b - a for a, b in zip(rows["A"], rows["B"], strict=True)]
    print(f"  B - A, run by run: {spread(paired)}")
    medians = {name: statistics.median(samples) for name, samples in rows.items()}
    print(json.dumps({"medians_s": medians, "paired_median_s": statistics.median(paired)}))


if __name__ == "__main__":
    main()
