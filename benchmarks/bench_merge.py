"""How fast are ``promptsuite merge`` and the Markdown verdict on a large run?

Synthesizes a run (10,000 case results by default, with baselines for its suites so every
gate is computed), cuts it into shard results files the way ``--promptsuite-shard`` does
(each case in the shard its id hashes to, with the run's plan), then times merging them
(checks, gates over all cases, the merged results file; no HTML report) and rendering the
Markdown verdict of the merged run. Prints the medians.

    python benchmarks/bench_merge.py --cases 10000 --shards 4 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from promptsuite.config import Shard
from promptsuite.gate import Baseline, BaselineEntry, baseline_path, entry_key, gate
from promptsuite.markdown import markdown_summary
from promptsuite.results import RunResults, group_by_variant
from promptsuite.session import ShardPlan
from promptsuite.shards import merge_shards
from tests.report_runs import synthetic_run


def write_shards(run: RunResults, count: int, folder: Path) -> list[Path]:
    """The run as ``count`` shard results files, as the shards of one run would write them."""
    places = {case.test_id: place for place, case in enumerate(run.cases)}
    digests = {path: "synthetic" for path in sorted({c.suite_path for c in run.cases})}
    settings = {"update_baseline": False, "baseline_missing": "warn", "gate_margin": 0.05}
    paths = []
    for index in range(1, count + 1):
        shard = Shard(index, count)
        cases = [c for c in run.cases if shard.holds(c.test_id)]
        plan = ShardPlan(
            shard,
            len(run.cases),
            len(cases),
            digests,
            {c.test_id: places[c.test_id] for c in cases},
        )
        metadata = {"settings": settings, "shard": plan.to_dict(), "started": "", "finished": ""}
        paths.append(RunResults(cases, metadata).write(folder / "reports" / f"{shard.name}.json"))
    return paths


def write_baselines(run: RunResults, root: Path) -> None:
    """Baselines from the run itself, with one case in ten flipped, so gates have work."""
    by_suite: dict[str, dict[str, BaselineEntry]] = {}
    for number, case in enumerate(run.cases):
        recorded = replace(case, passed=not case.passed) if number % 10 == 0 else case
        by_suite.setdefault(case.suite_path, {})[entry_key(case)] = BaselineEntry.from_result(
            recorded
        )
    for suite_path, entries in by_suite.items():
        Baseline(Path(suite_path).stem, entries).write(baseline_path(root / suite_path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    run = synthetic_run(args.cases)
    merge_times, markdown_times, gate_times = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_baselines(run, root)
        baselines = {}
        for path in sorted({Path(c.suite_path) for c in run.cases}):
            loaded = Baseline.load(baseline_path(root / path))
            assert loaded is not None
            baselines[path.stem] = loaded
        paths = write_shards(run, args.shards, root)
        size = sum(p.stat().st_size for p in paths)
        for _ in range(args.runs):
            started = time.perf_counter()
            merged = merge_shards(paths, out=root / "merged.json", root=root)
            merge_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            text = markdown_summary(merged.run)
            markdown_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            for _, group in group_by_variant(run.cases):
                gate(baselines[group[0].suite], group)
            gate_times.append(time.perf_counter() - started)
    print(f"{args.cases} cases in {args.shards} shards ({size / 1e6:.1f} MB of results files)")
    print(f"gates: {len(merged.gates)}, markdown: {len(text):,} characters")
    print(f"merge (read, check, gate, write): median {statistics.median(merge_times):.2f} s")
    print(
        f"  of which the same gates, computed as an unsharded run's gate items compute them: "
        f"median {statistics.median(gate_times):.2f} s"
    )
    print(f"markdown verdict: median {statistics.median(markdown_times) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
