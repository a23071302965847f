"""``promptsuite finetune``: the command over :func:`promptsuite.finetune.finetune`."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from promptsuite.cache import CacheMode
from promptsuite.commands._sampling import add_sampling_arguments, sampling_options
from promptsuite.config import RunSettings, add_cache_arguments
from promptsuite.errors import ConfigError

__all__ = ["add_parser", "cmd_finetune"]

DEFAULT_OUT = Path("reports") / "finetune"
DEFAULT_CURVE = (0.25, 0.5)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``promptsuite finetune`` on the CLI's subcommands."""
    from promptsuite.finetune import EPOCH_CAP, EPOCHS_UNVALIDATED, TrainConfig

    d = TrainConfig()
    parser = commands.add_parser(
        "finetune",
        help="LoRA-fine-tune the local model on a suite's train references and re-test it",
        description="Fine-tune the embedded model (or a local GGUF) with LoRA on CPU on the "
        "reference answers of the suite's train split, stop early on the validation split, "
        "write a GGUF adapter the local provider runs, re-test the held-out test split "
        "through the runner and compare it, paired, with the best prompt of an optimization "
        "run. Needs the finetune extra.",
    )
    parser.add_argument("suite", help="the suite file")
    parser.add_argument(
        "--optimization",
        help="an optimization run (its folder or optimization.json): use its split, seed, "
        "target and best prompt, and judge its advice",
    )
    parser.add_argument("--model-file", help="base GGUF model (default: the embedded model)")
    parser.add_argument("--best-variant", help="prompt variant to compare with")
    parser.add_argument("--seed", type=int, default=0, help="split and training seed (0)")
    parser.add_argument(
        "--split", default="0.4,0.3,0.3", help="train,val,test shares, as optimize (0.4,0.3,0.3)"
    )
    parser.add_argument("--rank", type=int, default=d.rank, help=f"LoRA rank ({d.rank})")
    parser.add_argument("--alpha", type=float, default=d.alpha, help=f"LoRA alpha ({d.alpha:g})")
    parser.add_argument(
        "--lr", type=float, default=d.learning_rate, help=f"learning rate ({d.learning_rate:g})"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        help=f"epochs (default: up to {EPOCH_CAP}, early stopping on the validation loss; "
        f"{EPOCHS_UNVALIDATED} when no validation row has a reference)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=d.batch_size, help=f"rows per step ({d.batch_size})"
    )
    parser.add_argument("--max-steps", type=int, help="step budget (default: none)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=d.max_seconds,
        help=f"time budget of each training in seconds ({d.max_seconds:.0f})",
    )
    parser.add_argument(
        "--patience",
        type=int,
        default=d.patience,
        help=f"epochs without a better validation loss before stopping ({d.patience})",
    )
    parser.add_argument(
        "--min-delta",
        type=float,
        default=d.min_delta,
        help=f"how much lower a validation loss must be to count as better ({d.min_delta:g})",
    )
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads (default: 2 when a core is free, else 1)"
    )
    parser.add_argument(
        "--curve",
        nargs="?",
        const=",".join(str(s) for s in DEFAULT_CURVE),
        help="learning curve: also train on these shares of the train rows "
        "(default when given alone: 0.25,0.5)",
    )
    parser.add_argument(
        "--no-test", action="store_true", help="train and write the adapter only (no re-test)"
    )
    add_sampling_arguments(
        parser,
        "the consistency re-test asks each test case as many times (with --optimization, "
        "its run's samples are used)",
    )
    add_cache_arguments(parser, "the re-test")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"output folder ({DEFAULT_OUT})")
    parser.set_defaults(func=cmd_finetune)


def parse_shares(text: str | None) -> tuple[float, ...]:
    """``"0.25,0.5"`` -> (0.25, 0.5).

    Raises:
        ConfigError: A share is not a number in (0, 1).
    """
    if not text:
        return ()
    try:
        shares = tuple(float(part) for part in text.split(","))
    except ValueError:
        shares = (-1.0,)
    if any(not 0 < share < 1 for share in shares):
        raise ConfigError(f"--curve {text!r}: expected shares between 0 and 1 such as 0.25,0.5")
    return shares


def cmd_finetune(
    args: argparse.Namespace, *, out: TextIO | None = None, argv: Sequence[str] | None = None
) -> int:
    """Run ``promptsuite finetune``; returns the exit code."""
    from promptsuite.finetune import FinetuneOptions, TrainConfig, finetune
    from promptsuite.optimize.search import parse_fractions
    from promptsuite.suite import load_suite

    stream = out or sys.stderr

    def say(line: str) -> None:
        print(line, file=stream, flush=True)

    for name, value in (
        ("rank", args.rank),
        ("epochs", args.epochs),
        ("batch-size", args.batch_size),
        ("patience", args.patience),
        ("max-steps", args.max_steps),
    ):
        if value is not None and value < 1:
            raise ConfigError(f"--{name} must be at least 1, got {value}")
    if args.min_delta < 0:
        raise ConfigError(f"--min-delta must be at least 0, got {args.min_delta:g}")
    model_file = Path(args.model_file).expanduser().resolve() if args.model_file else None
    if model_file is not None and not model_file.is_file():
        raise ConfigError(f"--model-file {args.model_file!r}: no such file")
    suite = load_suite(args.suite)
    config = TrainConfig(
        rank=args.rank,
        alpha=args.alpha,
        learning_rate=args.lr,
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_steps=args.max_steps,
        max_seconds=args.max_seconds,
        patience=args.patience,
        min_delta=args.min_delta,
        seed=args.seed,
        threads=args.threads,
    )
    options = FinetuneOptions(
        out_dir=Path(args.out) / f"{suite.name}-{time.strftime('%Y%m%d-%H%M%S')}",
        config=config,
        model_file=model_file,
        seed=args.seed,
        fractions=parse_fractions(args.split),
        optimization=Path(args.optimization) if args.optimization else None,
        best_variant=args.best_variant,
        curve=parse_shares(args.curve),
        retest=not args.no_test,
        settings=RunSettings(
            cache_mode=CacheMode.parse(args.cache), cache_path=Path(args.cache_path)
        ),
        argv=list(argv) if argv is not None else sys.argv[2:],
        sampling=sampling_options(args),
    )
    finetune(suite, options, say=say)
    return 0
