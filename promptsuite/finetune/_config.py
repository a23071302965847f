"""The training settings of ``promptsuite finetune`` (pure: no torch)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

__all__ = ["EPOCHS_UNVALIDATED", "EPOCH_CAP", "EarlyStop", "TrainConfig"]

#: The most epochs when the validation loss decides (early stopping ends most runs sooner).
EPOCH_CAP = 10
#: Epochs without validation rows: nothing can stop a longer run before it overfits.
EPOCHS_UNVALIDATED = 3


@dataclass(frozen=True)
class TrainConfig:
    """How to train; every field is a ``promptsuite finetune`` option.

    Attributes:
        rank: LoRA rank.
        alpha: LoRA alpha (the update is scaled by alpha / rank).
        learning_rate: AdamW learning rate (decayed linearly to 0 over the planned steps).
        epochs: Passes over the train rows; None (the default) lets the validation loss
            decide: up to :data:`EPOCH_CAP` epochs with early stopping (``patience``), or
            :data:`EPOCHS_UNVALIDATED` when no validation row has a reference to measure it
            on (an open-ended suite's validation cases are never sampled). The learning
            rate decays over all of them, so the number shapes the schedule too. Chosen on
            the known-answer suites (``benchmarks/known_answer/finetune.py``,
            docs/finetune.md "Epochs"). :meth:`resolved` fixes it before training.
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
    epochs: int | None = None
    batch_size: int = 4
    max_steps: int | None = None
    max_seconds: float = 900.0
    patience: int = 2
    min_delta: float = 0.001
    seed: int = 0
    threads: int | None = None
    max_length: int = 512

    def resolved(self, validation_rows: int) -> TrainConfig:
        """These settings with the epochs fixed for a training with this many validation rows."""
        if self.epochs is not None:
            return self
        epochs = EPOCH_CAP if validation_rows else EPOCHS_UNVALIDATED
        return dataclasses.replace(self, epochs=epochs)

    @property
    def epoch_count(self) -> int:
        """The epochs, once :meth:`resolved` fixed them."""
        if self.epochs is None:
            raise ValueError("the epochs are fixed by TrainConfig.resolved before training")
        return self.epochs


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
