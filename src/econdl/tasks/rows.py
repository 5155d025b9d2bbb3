"""Helpers that the closed-form baselines share."""

from __future__ import annotations

import math

from typing import Any

from torch import Tensor

from econdl.errors import ConfigError


def as_rows(x: Tensor) -> Tensor:
    """``x`` as a matrix with one row per sample, also for an empty batch (a data-parallel shard
    ends with one when the rows do not split evenly), where ``reshape(0, -1)`` is ambiguous."""
    return x.reshape(len(x), math.prod(x.shape[1:]))


def training_rows(dm: Any, model: str) -> tuple[Tensor, Tensor]:
    """All training inputs and targets of ``dm`` at once, which a closed-form fit needs; a data
    module that cannot give them (a plain LightningDataModule) is a one-line error."""
    split = getattr(dm, "split", None)
    if split is None:
        raise ConfigError(
            f"{model} is fitted in closed form from all training rows at once, which econdl's data modules "
            f"give (split('train')); {type(dm).__name__} has no split(): subclass "
            "econdl.data.RegressionDataModule and return your tensors from its build() (README, 'Your own "
            "data and networks'), or fit a network instead"
        )
    x, y = split("train")[:2]
    return x, y
