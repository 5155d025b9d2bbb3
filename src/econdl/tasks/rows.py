"""One helper that the closed-form baselines share."""

from __future__ import annotations

import math

from torch import Tensor


def as_rows(x: Tensor) -> Tensor:
    """``x`` as a matrix with one row per sample, also for an empty batch (a data-parallel shard
    ends with one when the rows do not split evenly), where ``reshape(0, -1)`` is ambiguous."""
    return x.reshape(len(x), math.prod(x.shape[1:]))
