"""Minibatches cut from tensors already in memory.

Every econdl data source ends in a few tensors (features, targets, ...) that fit
in memory.  ``TensorBatches`` slices them into minibatches without a per-sample
``__getitem__`` or a collate function, which is where a ``DataLoader`` spends its
time on small models.  It is a plain iterable, which Lightning accepts wherever
it accepts a ``DataLoader``.

Under data parallelism (DDP) each process gets its own shard of every epoch's
permutation, so each sample is seen once per epoch across processes, and every
process runs the same number of batches (collective operations must pair up).
Training shards of gradient-trained models are padded by repeating a few samples,
as ``DistributedSampler`` does.  Evaluation shards, and the training pass of
closed-form models, are not padded: a shorter shard ends with a smaller or empty
batch instead, so every sample counts exactly once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from econdl.errors import ConfigError


class EpochShuffler:
    """Deterministic per-epoch permutation, sharded by process rank.

    Lightning calls ``set_epoch`` on a loader's ``sampler`` before each training
    epoch, which makes the order a function of ``(seed, epoch)`` alone: a run
    resumed at epoch k sees the same batches as one that never stopped.
    """

    def __init__(self, n: int, shuffle: bool, seed: int, rank: int, world_size: int, pad: bool) -> None:
        self.n, self.shuffle, self.seed = n, shuffle, seed
        self.rank, self.world_size, self.pad = rank, world_size, pad
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        """Rows this rank draws per epoch (with padding), or at most draws (without)."""
        return self.n if self.world_size == 1 else math.ceil(self.n / self.world_size)

    def indices(self) -> Tensor | None:
        """This process's sample indices for the current epoch; None means 0..n-1."""
        if not self.shuffle and self.world_size == 1:
            return None
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=gen)
        else:
            order = torch.arange(self.n)
        if self.world_size == 1:
            return order
        if self.pad:
            total = len(self) * self.world_size
            order = torch.cat([order, order[: total - self.n]])
        return order[self.rank :: self.world_size]


class TensorBatches:
    """Iterate over minibatches ``(t[idx] for t in tensors)`` of in-memory tensors.

    Args:
        tensors: tensors sharing their first dimension (e.g. ``(x, y)``).
        batch_size: rows per batch; the last batch may be smaller unless ``drop_last``.
        shuffle: draw a new permutation every epoch (training) or keep the order.
        seed: seed of the permutation; the epoch number is added to it.
        rank, world_size: this process's place among data-parallel processes.
        drop_last: drop a final incomplete batch (useful with BatchNorm).
        pad: repeat samples so every rank has the same count (training under DDP).
    """

    def __init__(
        self,
        tensors: Sequence[Tensor],
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
        pad: bool | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size={batch_size} must be a positive integer")
        n = len(tensors[0])
        for t in tensors[1:]:
            if len(t) != n:
                raise ValueError(f"tensors must share their first dimension, got {[len(t) for t in tensors]}")
        self.tensors = tuple(tensors)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.batch_sampler = None  # Lightning inspects it on DataLoader-like objects
        self.sampler = EpochShuffler(n, shuffle, seed, rank, world_size, shuffle if pad is None else pad)

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        idx = self.sampler.indices()
        if idx is not None:
            idx = idx.to(self.tensors[0].device)
        bs = self.batch_size
        for b in range(len(self)):
            if idx is None:
                yield tuple(t[b * bs : (b + 1) * bs] for t in self.tensors)
            else:
                rows = idx[b * bs : (b + 1) * bs]
                yield tuple(t[rows] for t in self.tensors)
