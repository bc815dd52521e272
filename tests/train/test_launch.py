"""What a torchrun launch looks like to one process, and the rules that split the global batch."""

from __future__ import annotations

import math

import pytest
import torch

from contrastlab.config import OptimConfig
from contrastlab.config.schema import TrainConfig
from contrastlab.core.errors import ConfigError
from contrastlab.optim.optimizers import base_lr
from contrastlab.train.launch import from_environment, join
from contrastlab.train.trainer import local_batch_size


def test_environment_of_a_torchrun_worker() -> None:
    env = {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "TORCHELASTIC_RESTART_COUNT": "2"}
    launch = from_environment(env)
    assert (launch.rank, launch.local_rank, launch.world, launch.restarts) == (3, 1, 4, 2)
    assert not launch.writes  # only rank 0 writes the run directory
    alone = from_environment({})
    assert (alone.rank, alone.world, alone.restarts, alone.writes) == (0, 1, 0, True)


def test_a_malformed_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="WORLD_SIZE='two' is not an integer"):
        from_environment({"WORLD_SIZE": "two"})


def test_one_process_initialises_nothing() -> None:
    assert join(from_environment({}), torch.device("cpu")) == torch.device("cpu")
    assert not torch.distributed.is_initialized()


def test_the_global_batch_splits_evenly() -> None:
    assert local_batch_size(256, 8) == 32
    assert local_batch_size(16, 1) == 16
    with pytest.raises(ConfigError, match=r"global batch, split over 3 processes.*--batch-size 9"):
        local_batch_size(10, 3)


@pytest.mark.parametrize(
    ("rule", "batch", "expected"),
    [("none", 1024, 0.3), ("linear", 1024, 1.2), ("sqrt", 1024, 0.6), ("sqrt", 64, 0.15)],
)
def test_learning_rate_scaling_rules(rule: str, batch: int, expected: float) -> None:
    config = OptimConfig(lr=0.3, lr_scaling=rule)  # type: ignore[arg-type]
    assert base_lr(config, batch) == pytest.approx(expected)
    if rule == "sqrt":
        assert base_lr(config, batch) == pytest.approx(0.3 * math.sqrt(batch / 256))


def test_checkpoint_every_must_not_be_negative() -> None:
    with pytest.raises(ConfigError, match=r"train\.checkpoint_every"):
        TrainConfig(checkpoint_every=-1).validate()
