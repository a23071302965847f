"""The training settings of ``promptsuite finetune`` (pure: no torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["EarlyStop", "TrainConfig"]


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
        min_delta: How much lower than the best so far a validation loss must be to count
            as better (a loss that creeps down by less is noise, not learning).
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
    min_delta: float = 0.001
    seed: int = 0
    threads: int | None = None
    max_length: int = 512


@dataclass
class EarlyStop:
    """Early stopping on the validation loss: which epoch is the best, and when to stop.

    A loss counts as better only when it is more than ``min_delta`` below the best so far;
    training stops after ``patience`` epochs in a row without a better one.
    """

    patience: int
    min_delta: float
    best: float = math.inf
    waited: int = 0
    history: list[float] = field(default_factory=list)

    def better(self, loss: float) -> bool:
        """Record an epoch's validation loss; whether it is the new best."""
        self.history.append(loss)
        if loss < self.best - self.min_delta:
            self.best, self.waited = loss, 0
            return True
        self.waited += 1
        return False

    @property
    def done(self) -> bool:
        """Whether ``patience`` epochs in a row brought no better loss."""
        return self.waited >= self.patience
