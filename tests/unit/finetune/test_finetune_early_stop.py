"""Early stopping on the validation loss, as the fine-tune's calibration runs saw it."""

from __future__ import annotations

import pytest

from promptsuite.finetune import TrainConfig
from promptsuite.finetune._config import EarlyStop


def run(losses: list[float], patience: int = 2, min_delta: float = 0.001) -> tuple[int, int]:
    """Epochs run and the epoch kept (1-based) for these validation losses."""
    stop = EarlyStop(patience, min_delta)
    kept = 0
    for epoch, loss in enumerate(losses, start=1):
        if stop.better(loss):
            kept = epoch
        elif stop.done:
            return epoch, kept
    return len(losses), kept


def test_a_noisy_bump_does_not_stop_training_with_the_default_patience() -> None:
    # card_intents' validation losses with the defaults (benchmarks/known_answer/finetune.py).
    losses = [0.301, 0.248, 0.170, 0.142, 0.152, 0.140, 0.133, 0.149, 0.156]
    assert run(losses) == (9, 7)
    assert run(losses, patience=1) == (5, 4)  # stops on the bump, before the best epoch


def test_a_loss_that_creeps_down_by_less_than_min_delta_is_not_better() -> None:
    # order_number: the loss is ~0 from the third epoch on.
    losses = [0.011, 0.00105, 0.0003, 0.0001, 0.00005, 0.00002]
    assert run(losses) == (4, 2)
    assert run(losses, min_delta=0.0) == (6, 6)


def test_the_defaults_cap_ten_epochs_and_stop_after_two_without_progress() -> None:
    config = TrainConfig()
    assert (config.epochs, config.patience, config.min_delta) == (None, 2, 0.001)
    assert config.resolved(validation_rows=12).epochs == 10
    assert run([0.5, 0.4, 0.41, 0.42, 0.3]) == (4, 2)


def test_without_validation_rows_nothing_stops_training_so_it_is_short() -> None:
    # polite_reply (its validation cases are never sampled): 10 epochs scored 0.059 below
    # 3 epochs on the test split.
    assert TrainConfig().resolved(validation_rows=0).epochs == 3
    assert TrainConfig(epochs=7).resolved(validation_rows=0).epochs == 7
    with pytest.raises(ValueError, match="resolved"):
        _ = TrainConfig().epoch_count
