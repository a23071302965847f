"""The training settings of ``promptsuite finetune`` (pure: no torch)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """How to train; every field is a ``promptsuite finetune`` option.

    Attributes:
        rank: LoRA rank.
        alpha: LoRA alpha (the update is scaled by alpha / rank).
        learning_rate: AdamW learning rate (decayed linearly to 0 over the planned steps).
        epochs: The most passes over the train rows; early stopping on the validation loss
            (``patience``) usually ends training before. The learning rate decays over all
            of them, so the cap shapes the schedule too. Chosen on the known-answer suites
            (``benchmarks/known_answer/finetune.py``, docs/finetune.md "Epochs").
        batch_size: Rows per step.
        max_steps: Stop after this many steps (None: no step budget).
        max_seconds: Stop before a step would end past this many seconds of training.
        patience: Epochs without a better validation loss before stopping early.
        seed: Seed of the LoRA initialisation and of the row order.
        threads: CPU threads torch uses (None: two when a core is free, else one).
        max_length: Longest row in tokens; longer rows are cut from the left of the prompt.
    """

    rank: int = 16
    alpha: float = 32.0
    learning_rate: float = 1e-3
    epochs: int = 10
    batch_size: int = 4
    max_steps: int | None = None
    max_seconds: float = 900.0
    patience: int = 2
    seed: int = 0
    threads: int | None = None
    max_length: int = 512
