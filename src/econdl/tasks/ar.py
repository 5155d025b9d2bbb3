"""Forecasting baselines on lag features x_t = (g_{t-1}, ..., g_{t-p}).

``LinearAR`` is AR(p) with intercept by ordinary least squares, ``TrainingMean``
the intercept-only regression (forecast = training-sample mean), both solved in
closed form by ``LeastSquares``.  ``RandomWalk`` forecasts g_{t+h} = g_{t-1} for every
horizon and has nothing to fit.  They assume inputs and target share one scale (as
``GDPDataModule`` standardises them), so the first input column is the last
observation on the target's scale.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from econdl.attached import datamodule_of
from econdl.errors import ConfigError
from econdl.tasks.least_squares import LeastSquares
from econdl.tasks.regression import RegressionModel
from econdl.tasks.rows import as_rows, training_rows


METHODS = ("iterated", "direct")


def horizon_of(module: nn.Module) -> int:
    """Forecast horizon H of the DataModule the model is attached to (1 without one)."""
    dm = getattr(module.trainer, "datamodule", None) if module._trainer is not None else None
    return int(getattr(dm, "output_dim", 1) if dm is not None else 1)


class LinearAR(LeastSquares):
    """AR(p) by OLS: g_t = c + phi_1 g_{t-1} + ... + phi_p g_{t-p}; p = the data's lag count.

    With exogenous inputs (``GDPDataModule(exog=...)``) the same OLS on every input column
    is an ARX model.  For horizons h = 1..H (``GDPDataModule(horizon=H)``):

    - ``iterated``: one one-step equation, applied recursively (forecasts feed later lags);
      with exogenous inputs each exogenous series gets its own one-step OLS equation on the
      same inputs, so the model iterated is a VAR(p) of the target and the exogenous series;
    - ``direct``: one OLS equation per horizon, g_{t+h-1} on the lags at t-1.

    Args:
        method: ``iterated`` or ``direct`` (the same model at H = 1).
        ridge: optional L2 penalty (0 = OLS).
    """

    data_buffers = ("resid_var", "exog_coef")

    def __init__(self, method: str = "iterated", ridge: float = 0.0) -> None:
        super().__init__(ridge)
        if method not in METHODS:
            raise ConfigError(f"method={method!r} is not one of {list(METHODS)}")
        self.save_hyperparameters()
        self.method = method
        self.horizon = 1
        self.register_buffer("resid_var", torch.zeros(1, dtype=torch.float64))  # 0: not fitted yet
        self.register_buffer("exog_coef", torch.zeros(0, 0, dtype=torch.float64))  # iterated ARX only
        self.lags, self.n_exog = 0, 0

    def describe(self) -> str:
        return f"LinearAR(p={max(self.coef.shape[0] - 1, 0) or '?'}, {self.method})"

    def setup(self, stage: str) -> None:
        super().setup(stage)
        self.horizon = horizon_of(self)
        dm = datamodule_of(self._trainer)
        self.lags = int(getattr(dm, "lags", 0) or 0)
        self.n_exog = len(getattr(dm, "exog", None) or [])
        if stage == "fit" and self.method == "iterated":
            self.coef = nn.Parameter(torch.zeros(self.coef.shape[0], 1, dtype=torch.float64))

    def n_features(self, input_dim: int) -> int:
        return 1 + input_dim

    def basis(self, x: Tensor) -> Tensor:
        return torch.cat([torch.ones(len(x), 1, dtype=x.dtype, device=x.device), x], dim=1)

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        x, y = batch[0], batch[1]
        # the iterated model fits the one-step equation only
        return super().training_step((x, y[:, : self.coef.shape[1]]), batch_idx)

    def forward(self, x: Tensor) -> Tensor:
        if self.method == "direct" or self.horizon == 1:
            return super().forward(x)
        state, steps = as_rows(x), []
        p = self.lags or state.shape[1]
        for _ in range(self.horizon):
            steps.append(super().forward(state))
            blocks = [steps[-1], state[:, : p - 1]]
            if self.n_exog:  # each exogenous series' own forecast enters its lags
                fitted = self.exog_coef.numel() > 0  # not before the first solve (sanity check)
                nxt = (
                    (self._design(state) @ self.exog_coef).to(state.dtype)
                    if fitted
                    else state.new_zeros(len(state), self.n_exog)
                )
                for j in range(self.n_exog):
                    blocks += [nxt[:, j : j + 1], state[:, p * (1 + j) : p * (2 + j) - 1]]
            state = torch.cat(blocks, dim=1)
        return torch.cat(steps, dim=1)

    def _solve(self) -> None:
        solved = bool(self._rows)
        super()._solve()
        if solved:
            self._fit_extras()

    def _fit_extras(self) -> None:
        """Residual variances for the intervals and, for iterated ARX, the exogenous equations."""
        dm = datamodule_of(self.trainer)
        x, y = training_rows(dm, type(self).__name__)
        with torch.no_grad():
            design = self._design(x.to(self.coef.device))
            resid = y.double().to(self.coef.device)[:, : self.coef.shape[1]] - design @ self.coef
        self.resid_var = (resid**2).sum(0) / max(len(resid) - self.coef.shape[0], 1)
        if self.method == "iterated" and self.n_exog:
            # training rows are consecutive origins: the next row's first lag of each exogenous
            # series is this row's one-step target
            now = [self.lags * (1 + j) for j in range(self.n_exog)]
            target = design[1:, 1:][:, now]
            self.exog_coef = torch.linalg.lstsq(design[:-1], target).solution

    def forecast_std(self) -> Tensor:
        """Standard deviation of the h-step forecast error, h = 1..H, in the data's units
        (OLS residual variance; iterated: sigma^2 times the summed squared MA weights)."""
        if self.method == "iterated" and self.n_exog and self.horizon > 1:
            raise RuntimeError("no closed-form interval for an iterated ARX model; use the conformal ones")
        if not bool((self.resid_var > 0).all()):
            raise RuntimeError("LinearAR has no residual variance: fit it first")
        var = self.resid_var.double()
        if self.method == "iterated":
            phi = self.coef.detach().double()[1:, 0].cpu()
            psi = [1.0]
            for j in range(1, self.horizon):
                psi.append(sum(float(phi[i - 1]) * psi[j - i] for i in range(1, min(j, len(phi)) + 1)))
            var = var[0].cpu() * torch.cumsum(torch.tensor(psi, dtype=torch.float64) ** 2, 0)
        return var.sqrt().cpu() * float(self.y_scale)

    def ar_coefficients(self) -> tuple[float, list[float]]:
        """(c, [phi_1, ..., phi_p]) in the data's units (no exog; one-step equation).

        With z = (g - m) / s on inputs and target, z_t = b_0 + sum b_i z_{t-i} gives
        phi_i = b_i and c = s b_0 + m (1 - sum b_i).
        """
        b = self.coef.detach().double().cpu()[:, 0]
        m, s = float(self.y_loc), float(self.y_scale)
        phi = b[1:]
        return float(s * b[0] + m * (1 - phi.sum())), phi.tolist()


class TrainingMean(LeastSquares):
    """Forecast = mean of the training targets (intercept-only least squares), per horizon."""

    #: restricted versions of these models (Clark-West applies to the pair)
    nested_in = ("LinearAR",)

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
    nested_in = ("LinearAR",)
    needs_fit = False  # `econdl test` may run it without a checkpoint

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.unused = nn.Parameter(torch.zeros(0))
        self.horizon = 1

    def setup(self, stage: str) -> None:
        super().setup(stage)
        self.horizon = horizon_of(self)

    def forward(self, x: Tensor) -> Tensor:
        return as_rows(x)[:, :1].expand(-1, self.horizon)

    def configure_optimizers(self) -> None:
        return None

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        return None

    def on_train_epoch_end(self) -> None:
        self.trainer.should_stop = True
