"""The gate's calibration simulation (beside its benchmark): false alarms stay rare, real
drops are found."""

from __future__ import annotations

from benchmarks.gate_simulation import calibration_table, simulate_calibration


def test_calibration_single_repeat_keeps_false_alarms_rare() -> None:
    result = simulate_calibration(repeats=1)
    assert result.false_alarm_rate <= 0.05


def test_calibration_three_repeats_detects_a_real_drop() -> None:
    result = simulate_calibration(repeats=3)
    assert result.false_alarm_rate <= 0.05
    assert result.detection_rate >= 0.80


def test_the_table_has_a_row_per_repeat_count() -> None:
    lines = calibration_table([1]).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("trials")
