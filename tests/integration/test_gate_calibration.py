"""The gate's calibration, end to end: real pytest runs of a suite with known noise.

A seeded noise model (known per-case pass probabilities, temperature > 0, a new seed each
run) is gated against a baseline recorded from the same prompt (A/A) and from a damaged
prompt (A/B). The harness is ``benchmarks/gate_calibration.py``, which prints the figures
quoted in docs/statistics.md.
"""

from __future__ import annotations

from collections import Counter

from benchmarks.gate_calibration import calibrate


def test_same_prompt_rarely_alarms_and_a_damaged_prompt_is_caught() -> None:
    outcomes = calibrate("scripted", runs=20, ab_runs=5)
    same = Counter(o.decision for o in outcomes["A/A"])
    damaged = Counter(o.decision for o in outcomes["A/B"])
    assert sum(same.values()) == 20 and sum(damaged.values()) == 5
    # False-alarm rate <= 5%: at most one of 20 A/A runs may fail the gate.
    assert same["fail"] <= 1, same
    # The damaged prompt (every case's pass probability down 0.25) fails every time.
    assert damaged["fail"] == 5, damaged
    assert all(o.mean_diff < -0.1 for o in outcomes["A/B"])
