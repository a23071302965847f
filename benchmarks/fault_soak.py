"""The fault soak's figures: requests injected by kind, outcomes, retries, lost results, time.

Starts the seeded fault-injecting server (``tests/fault_server.py``) in this process, writes
a suite of N cases pointing at it, runs ``python -m pytest`` on it in a subprocess, then runs
it again with the faults switched off, and prints what happened against what the schedule
dictated.

    python benchmarks/fault_soak.py --cases 400
    python benchmarks/fault_soak.py --cases 120 --workers 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.hardening import _soak as soak  # noqa: E402
from tests.stub_server import StubServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--seed", type=int, default=soak.SoakConfig.seed)
    parser.add_argument("--workers", type=int, default=0, help="pytest-xdist workers (0: none)")
    args = parser.parse_args()
    without = ("hang",) if args.workers else ()
    config = soak.SoakConfig(cases=args.cases, seed=args.seed, without=without)
    extra = ("-n", str(args.workers)) if args.workers else ()
    schedule = soak.schedule_for(config)
    with tempfile.TemporaryDirectory() as folder, StubServer(behavior=schedule) as server:
        root = Path(folder)
        planned = soak.write_project(root, server.base_url, config)
        first = soak.run_soak(root, schedule, planned, config, *extra)
        problems = soak.mismatches(first, root, schedule, planned, config)
        expected = soak.expected_injections(schedule, planned, config)
        schedule.healthy = True
        again = soak.run_soak(root, schedule, planned, config, *extra)

    # An xdist worker keeps two items' calls in flight; one process keeps ``concurrency``.
    parallel = 2 * args.workers if args.workers else config.concurrency
    print(f"fault soak: {config.cases} cases, seed {config.seed}, workers {args.workers}")
    print(
        f"provider: timeout {config.timeout:g}s, max_retries {config.max_retries}, backoff "
        f"{config.backoff_base:g}..{config.backoff_max:g}s, concurrency {config.concurrency}"
    )
    print("\nrequests answered, by kind (injected / dictated by the schedule):")
    for name in sorted(set(first.injected) | set(expected)):
        print(f"  {name:24} {first.injected.get(name, 0):5} / {expected.get(name, 0)}")
    print(f"  {'total':24} {first.requests:5}")
    print("\nfirst run:")
    _print_run(first, config, parallel)
    print(f"  cases ending otherwise than scheduled: {len(problems)}")
    for problem in problems[:10]:
        print(f"    {problem}")
    print("\nre-run, faults off:")
    _print_run(again, config, parallel)
    lost = len(first.lost) + len(again.lost)
    duplicated = len(first.duplicated) + len(again.duplicated)
    print(f"\nresults lost: {lost}, duplicated: {duplicated}")
    return 0 if not (problems or lost or duplicated) else 1


def _print_run(report: soak.RunReport, config: soak.SoakConfig, parallel: int) -> None:
    outcomes = Counter(report.outcomes)
    print(
        f"  cases {sum(outcomes.values())}: passed {outcomes['passed']}, failed "
        f"{outcomes['failed']}, error {outcomes['error']}"
    )
    if report.error_kinds:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(report.error_kinds.items()))
        print(f"  errors by cause: {kinds}")
    print(
        f"  requests {report.requests} (retries {report.retries}), model calls "
        f"{report.model_calls}, cache hits {report.cache_hits}, cached responses "
        f"{report.cache_rows}"
    )
    counted = [line for line in report.output.splitlines() if line.startswith("model calls:")]
    print(f"  the run's summary: {counted[-1] if counted else '(no summary line)'}")
    bound = soak.time_bound_s(config, config.cases, parallel)
    print(f"  wall time {report.wall_s:.1f} s (bound from the settings: {bound:.0f} s)")


if __name__ == "__main__":
    raise SystemExit(main())
