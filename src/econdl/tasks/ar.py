"""Forecasting baselines on lag features x_t = (g_{t-1}, ..., g_{t-p}).

``LinearAR`` is AR(p) with intercept by ordinary least squares, ``TrainingMean``
the intercept-only regression (forecast = training-sample mean), both solved in
closed form by ``LeastSquares``.  ``RandomWalk`` forecasts g_t = g_{t-1} and has
nothing to fit.  They assume inputs and target share one scale (as
``GDPDataModule`` standardises them), so the first input column is the last
observation on the target's scale.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from econdl.tasks.least_squares import LeastSquares
from econdl.tasks.regression import RegressionModel


class LinearAR(LeastSquares):
    """AR(p) by OLS: g_t = c + phi_1 g_{t-1} + ... + phi_p g_{t-p}; p = the data's lag count.

    Args:
        ridge: optional L2 penalty (0 = OLS).
    """

    def __init__(self, ridge: float = 0.0) -> None:
        super().__init__(ridge)
        self.save_hyperparameters()

    def describe(self) -> str:
        return f"LinearAR(p={max(self.coef.shape[0] - 1, 0) or '?'})"

    def n_features(self, input_dim: int) -> int:
        return 1 + input_dim

    def basis(self, x: Tensor) -> Tensor:
        return torch.cat([torch.ones(len(x), 1, dtype=x.dtype, device=x.device), x], dim=1)

    def ar_coefficients(self) -> tuple[float, list[float]]:
        """(c, [phi_1, ..., phi_p]) in the data's units.

        With z = (g - m) / s on inputs and target, z_t = b_0 + sum b_i z_{t-i} gives
        phi_i = b_i and c = s b_0 + m (1 - sum b_i).
        """
        b = self.coef.detach().double().cpu()[:, 0]
        m, s = float(self.y_loc), float(self.y_scale)
        phi = b[1:]
        return float(s * b[0] + m * (1 - phi.sum())), phi.tolist()


class TrainingMean(LeastSquares):
    """Forecast = mean of the training targets (intercept-only least squares)."""

    def __init__(self) -> None:
        super().__init__()

    def describe(self) -> str:
        return "TrainingMean"

    def n_features(self, input_dim: int) -> int:
        return 1

    def basis(self, x: Tensor) -> Tensor:
        return torch.ones(len(x), 1, dtype=x.dtype, device=x.device)


class RandomWalk(RegressionModel):
    """Forecast = last observation (g_t = g_{t-1}), the first input column.

    Nothing is fitted: one pass over the training data, no optimizer step.  It holds an
    empty trainable parameter because DistributedDataParallel refuses modules without one.
    """

    exact_pass = True

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.unused = nn.Parameter(torch.zeros(0))

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(len(x), -1)[:, :1]

    def configure_optimizers(self) -> None:
        return None

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        return None

    def on_train_epoch_end(self) -> None:
        self.trainer.should_stop = True
