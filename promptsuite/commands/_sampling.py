"""The sampling options both commands take: ``--samples``, ``--sample-temperature``,
``--teacher`` (see :mod:`promptsuite.optimize.search`'s sampling stage)."""

from __future__ import annotations

import argparse

from promptsuite.config import model_option
from promptsuite.errors import ConfigError
from promptsuite.optimize.search import (
    DEFAULT_SAMPLE_TEMPERATURE,
    DEFAULT_SAMPLES,
    SamplingOptions,
)

__all__ = ["add_sampling_arguments", "sampling_options"]


def add_sampling_arguments(parser: argparse.ArgumentParser, consistency: str) -> None:
    """Register the sampling options; ``consistency`` says what else the samples measure."""
    parser.add_argument(
        "--samples",
        type=int,
        default=DEFAULT_SAMPLES,
        help="replies sampled per train case without a reference answer; the best passing "
        f"one becomes its reference; {consistency} (default {DEFAULT_SAMPLES}; 0: off)",
    )
    parser.add_argument(
        "--sample-temperature",
        type=float,
        default=DEFAULT_SAMPLE_TEMPERATURE,
        help=f"temperature of those samples (default {DEFAULT_SAMPLE_TEMPERATURE:g})",
    )
    parser.add_argument(
        "--teacher",
        help="a stronger model sampled where no reply of the task model passes: 'local', "
        "'openai:gpt-4o-mini' or a YAML mapping, as --model",
    )


def sampling_options(args: argparse.Namespace) -> SamplingOptions:
    """The parsed sampling options.

    Raises:
        ConfigError: A negative sample count, a temperature outside 0..2, or a bad teacher.
    """
    if args.samples < 0:
        raise ConfigError(f"--samples must be at least 0, got {args.samples}")
    if not 0 <= args.sample_temperature <= 2:
        raise ConfigError(
            f"--sample-temperature must be between 0 and 2, got {args.sample_temperature:g}"
        )
    teacher = model_option(args.teacher, "--teacher") if args.teacher else None
    return SamplingOptions(
        samples=args.samples, temperature=args.sample_temperature, teacher=teacher
    )
