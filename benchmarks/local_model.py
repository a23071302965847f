"""Benchmark the embedded local model: decode speed and determinism across concurrency.

Usage::

    python benchmarks/local_model.py [--threads N] [--parallel N] [--runs N]

Prints the median decode rate on one thread with one slot (the target is >= 60 tokens/s),
the median aggregate rate of concurrent requests with the configured threads and slots
(options, else ``PROMPTSUITE_LOCAL_THREADS``/``PROMPTSUITE_LOCAL_PARALLEL``, else the
defaults), and whether temperature-0 outputs were identical one at a time and concurrent.
Figures depend on what else runs on the machine, so the load average is printed first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from promptsuite.models import ModelSpec
from promptsuite.models.local import LocalSettings, get_server

DECODE_TOKENS = 128
DETERMINISM_TOKENS = 64
PROMPTS = [
    f"Write a short story about a {who} who finds a {what}."
    for who, what in [
        ("cat", "key"),
        ("robot", "flower"),
        ("sailor", "map"),
        ("child", "coin"),
        ("dragon", "book"),
        ("farmer", "star"),
        ("bird", "ring"),
        ("clock", "door"),
    ]
]


def complete(server: Any, prompt: str, max_tokens: int, *, ignore_eos: bool) -> dict[str, Any]:
    """One chat completion at temperature 0, straight on the xllamacpp server."""
    response: dict[str, Any] = server.handle_chat_completions(
        {
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "seed": 1234,
            "ignore_eos": ignore_eos,
        }
    )
    if "error" in response:
        raise RuntimeError(response["error"])
    return response


def text(response: dict[str, Any]) -> str:
    """The completion text of a response."""
    return str(response["choices"][0]["message"]["content"])


def single_stream_decode_rate(server: Any, runs: int) -> float:
    """Median decode tokens/s of one request at a time, from llama.cpp's own timings."""
    rates = [
        complete(server, PROMPTS[i % len(PROMPTS)], DECODE_TOKENS, ignore_eos=True)["timings"][
            "predicted_per_second"
        ]
        for i in range(runs)
    ]
    return float(statistics.median(rates))


def concurrent_rate(server: Any, runs: int, workers: int) -> float:
    """Median aggregate completion tokens/s (wall clock) of ``workers`` requests at once."""
    rates = []
    with ThreadPoolExecutor(workers) as pool:
        for _ in range(runs):
            start = time.perf_counter()
            responses = list(
                pool.map(
                    lambda p: complete(server, p, DECODE_TOKENS, ignore_eos=True),
                    PROMPTS[:workers],
                )
            )
            elapsed = time.perf_counter() - start
            rates.append(sum(r["usage"]["completion_tokens"] for r in responses) / elapsed)
    return float(statistics.median(rates))


def outputs(server: Any, *, concurrent: bool) -> list[str]:
    """Temperature-0 texts for every prompt, one at a time or all at once."""
    if not concurrent:
        return [text(complete(server, p, DETERMINISM_TOKENS, ignore_eos=False)) for p in PROMPTS]
    with ThreadPoolExecutor(len(PROMPTS)) as pool:
        return list(
            pool.map(
                lambda p: text(complete(server, p, DETERMINISM_TOKENS, ignore_eos=False)), PROMPTS
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="threads of the configured run")
    parser.add_argument("--parallel", type=int, help="slots of the configured run")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args()

    options = tuple(
        (key, value)
        for key, value in (("threads", args.threads), ("parallel", args.parallel))
        if value
    )
    configured = LocalSettings.from_spec(ModelSpec("local", options=options))
    baseline = LocalSettings.from_spec(
        ModelSpec("local", options=(("threads", 1), ("parallel", 1)))
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, cpus: {os.cpu_count()}")
    print(f"model: {baseline.model_path().name}")

    one = get_server(baseline)
    complete(one, "Hello", 8, ignore_eos=False)
    rate_one = single_stream_decode_rate(one, args.runs)
    verdict = "ok" if rate_one >= 60 else "BELOW TARGET"
    print(f"1 thread, 1 slot: decode {rate_one:.1f} tok/s (target >= 60: {verdict})")
    reference = outputs(one, concurrent=False)
    repeat = outputs(one, concurrent=False)

    label = f"{configured.threads} thread(s), {configured.parallel} slot(s)"
    server = get_server(configured)
    complete(server, "Hello", 8, ignore_eos=False)
    stream = single_stream_decode_rate(server, args.runs)
    workers = max(configured.parallel * 2, 2)
    aggregate = concurrent_rate(server, args.runs, workers)
    print(f"{label}: single request {stream:.1f} tok/s, {workers} concurrent {aggregate:.1f} tok/s")

    at_once = outputs(server, concurrent=True)
    one_by_one = outputs(server, concurrent=False)
    print("temperature 0, identical outputs:")
    print(f"  repeated, 1 thread 1 slot:                 {reference == repeat}")
    print(f"  1 thread 1 slot vs {label}, sequential: {reference == one_by_one}")
    print(f"  1 thread 1 slot vs {label}, concurrent: {reference == at_once}")
    differing = sum(a != b for a, b in zip(reference, at_once, strict=True))
    print(f"  prompts differing under concurrency: {differing}/{len(PROMPTS)}")


if __name__ == "__main__":
    main()
