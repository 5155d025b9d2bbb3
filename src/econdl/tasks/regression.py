"""What every regression model shares, neural or closed-form: metrics and units.

Models see targets on the DataModule's training scale (possibly standardised) and
learn on it; ``RegressionModel`` keeps that scale as buffers (so a checkpoint
alone rebuilds it), undoes it for the reported RMSE/MAE and for predictions, and
logs the same keys for every model: ``train/loss``, ``val/loss``, ``test/loss``,
``test/rmse``, ``test/mae``, ``test/max_abs_err``.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor
from torchmetrics import MaxMetric, MeanAbsoluteError, MeanSquaredError

from econdl.attached import datamodule_of
from econdl.errors import ConfigError, DataError


class RegressionModel(L.LightningModule):
    """Base LightningModule of regressions; subclasses implement ``forward``."""

    # registered as buffers in __init__; declared so they type as tensors, not nn.Module
    y_loc: Tensor
    y_scale: Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("y_loc", torch.zeros(1))
        self.register_buffer("y_scale", torch.ones(1))
        self.val_mse = MeanSquaredError()
        self.test_mse = MeanSquaredError()
        self.test_rmse = MeanSquaredError(squared=False)
        self.test_mae = MeanAbsoluteError()
        self.test_max = MaxMetric()
        # Accumulate in float64: sums then agree across process layouts to ~1e-16, not ~1e-7.
        for metric in (self.val_mse, self.test_mse, self.test_rmse, self.test_mae, self.test_max):
            metric.set_dtype(torch.float64)

    def setup(self, stage: str) -> None:
        dm = datamodule_of(self._trainer)
        if stage == "fit" and dm is not None:
            loc, scale = float(getattr(dm, "target_loc", 0.0)), float(getattr(dm, "target_scale", 1.0))
            # the model's numbers: float64 under --trainer.precision 64-true (Lightning converts after setup)
            wide = str(getattr(self._trainer, "precision", "")).startswith("64")
            kind = torch.float64 if wide else self.y_loc.dtype
            largest, dtype = torch.finfo(kind).max, str(kind).removeprefix("torch.")
            if not (abs(loc) <= largest and abs(scale) <= largest):
                raise DataError(
                    f"the training targets' mean ({loc:.3g}) and standard deviation ({scale:.3g}) are beyond what "
                    f"the model's {dtype} numbers hold (+-{largest:.3g}): look for extreme values in the data, or "
                    "transform it (e.g. growth rates, --data.transform log_diff for the GDP data)"
                )
            self.y_loc.fill_(loc)
            self.y_scale.fill_(scale)

    def unscale(self, y: Tensor) -> Tensor:
        """From the training scale back to the data's units."""
        return y * self.y_scale + self.y_loc

    def predicted(self, x: Tensor, y: Tensor) -> Tensor:
        """The model's predictions for inputs ``x``, shaped as their targets ``y``; a network that
        gives another number of outputs per row is a one-line error naming both shapes."""
        pred = self(x)
        if pred.numel() != y.numel():
            net = getattr(self, "net", self)
            per_row = y[0].numel() if len(y) else 1
            raise ConfigError(
                f"{type(net).__name__} gives outputs of shape {tuple(pred.shape)} for a batch of {len(y)} rows "
                f"whose targets have shape {tuple(y.shape)}: its last layer must give {per_row} output(s) per "
                f"row (e.g. out_features={per_row})"
            )
        return pred.reshape(y.shape)

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        x, y = batch[0], batch[1].double()
        self.val_mse.update(self.predicted(x, y).double(), y)
        self.log("val/loss", self.val_mse, on_step=False, on_epoch=True, prog_bar=True)

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        x, y = batch[0], batch[1].double()
        pred = self.predicted(x, y).double()
        self.test_mse.update(pred, y)
        pred_u, y_u = self.unscale(pred), self.unscale(y)
        self.test_rmse.update(pred_u, y_u)
        self.test_mae.update(pred_u, y_u)
        if len(y):  # a data-parallel shard may end with an empty batch
            self.test_max.update((pred_u - y_u).abs().max())
        self.log_dict(
            {
                "test/loss": self.test_mse,
                "test/rmse": self.test_rmse,
                "test/mae": self.test_mae,
                "test/max_abs_err": self.test_max,
            },
            on_step=False,
            on_epoch=True,
        )

    def predict_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        """Predictions in the data's units."""
        return self.unscale(self(batch[0]))
