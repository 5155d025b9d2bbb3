"""Synthetic linear regression, y = x . theta + sigma * eps (the ML-fundamentals lecture).

Fitting it by minibatch SGD/Adam and checking that the estimate recovers theta is
the smallest end-to-end test of a training setup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from econdl.data.base import RegressionDataModule, Splits
from econdl.errors import ConfigError


class LinearDataModule(RegressionDataModule):
    """Draws x ~ N(0, I_M), theta ~ N(0, I_M) (or the given ``theta``), eps ~ N(0, 1).

    Args:
        n: number of observations N in all splits together.
        m: number of regressors M (no intercept, as in the lecture).
        sigma: noise standard deviation (0 gives an exact linear relation).
        proportions: train, validation and test shares, summing to 1.
        theta: the true coefficients; default drawn from ``split_seed``.
        eval_batch_size: rows per validation/test batch (1024 here; None: 4 x batch_size).
        batch_size, split_seed: see ``InMemoryDataModule``.
    """

    task = "linear"
    split_keys = {stage: ("n", "proportions") for stage in ("validate", "test")}

    def __init__(
        self,
        n: int = 10_000,
        m: int = 2,
        sigma: float = 0.1,
        proportions: Sequence[float] = (0.8, 0.1, 0.1),
        theta: Sequence[float] | None = None,
        batch_size: int = 32,
        eval_batch_size: int | None = 1024,
        split_seed: int = 0,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, split_seed)
        self.save_hyperparameters()
        if len(proportions) != 3 or any(p <= 0 for p in proportions) or abs(sum(proportions) - 1) > 1e-6:
            raise ConfigError(
                f"proportions={list(proportions)} must be three positive shares (train, val, test) summing to 1"
            )
        if theta is not None and len(theta) != m:
            raise ConfigError(f"theta has {len(theta)} entries but m={m}; give one coefficient per regressor")
        if sigma < 0:
            raise ConfigError(f"sigma={sigma} is a standard deviation and cannot be negative")

        def holds(k: int) -> bool:  # every split gets a row
            sizes = [int(round(p * k)) for p in proportions[:2]]
            return min(sizes) >= 1 and k - sum(sizes) >= 1

        if not holds(n):
            # from 1.5 / (smallest share) rows on, every share rounds to a row or more; below it,
            # the least n from which no size fails
            bound = math.ceil(1.5 / min(proportions))
            least: int | None = None
            if bound <= 10**6:
                least = bound
                while least > 3 and holds(least - 1):
                    least -= 1
            raise ConfigError(
                f"n={n} is too small for proportions={list(proportions)}: a split would be empty; "
                + (f"use --data.n {least} or more, or " if least else "give ")
                + "larger shares to the small splits"
            )
        self.n, self.m, self.sigma, self.proportions = n, m, sigma, tuple(proportions)
        self._theta = None if theta is None else torch.tensor(theta, dtype=torch.float32)

    @property
    def theta(self) -> Tensor:
        """The true coefficients (drawn on first use when not given)."""
        if self._theta is None:
            self._theta = torch.randn(self.m, generator=self.generator())
        return self._theta

    def build(self) -> Splits:
        theta = self.theta
        gen = self.generator()
        gen.manual_seed(self.split_seed + 1)  # independent of the draw of theta
        x = torch.randn(self.n, self.m, generator=gen)
        y = (x @ theta + self.sigma * torch.randn(self.n, generator=gen)).unsqueeze(1)
        n_train = int(round(self.proportions[0] * self.n))
        n_val = int(round(self.proportions[1] * self.n))
        cuts = [(0, n_train), (n_train, n_train + n_val), (n_train + n_val, self.n)]
        return {name: (x[a:b], y[a:b]) for name, (a, b) in zip(("train", "val", "test"), cuts, strict=True)}

    def describe_model(self, model: nn.Module) -> dict[str, float]:
        """``theta_error`` = ||theta - theta_hat|| for a model whose net is one linear layer."""
        net = getattr(model, "net", None)
        weight = getattr(net, "weight", None)
        if weight is None or weight.numel() != self.m:
            return {}
        return {"theta_error": float(torch.linalg.vector_norm(weight.detach().cpu().flatten() - self.theta))}
