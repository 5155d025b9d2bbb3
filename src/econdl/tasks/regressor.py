"""A neural network fitted by minibatch gradient descent on a regression loss."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from econdl.attached import datamodule_of
from econdl.tasks.hparams import unsaved_module_args
from econdl.tasks.regression import RegressionModel
from econdl.tasks.running import EpochMean
from econdl.tasks.sizing import (
    few_steps_note,
    first_inputs,
    fit_to_data,
    has_lazy_parameters,
    match_output_width,
    materialize,
    resize_to_checkpoint,
)
from econdl.errors import ConfigError

LOSSES = {"mse": nn.MSELoss, "l1": nn.L1Loss, "huber": nn.HuberLoss}


class Regressor(RegressionModel):
    """Fits ``net`` to the DataModule's targets by minimising ``loss``.

    The optimizer and learning-rate scheduler come from the config's top-level
    ``optimizer:`` and ``lr_scheduler:`` keys (LightningCLI); used from Python
    without them, the model trains with Adam at lr=1e-3.

    Args:
        net: the network, e.g. ``econdl.nets.MLP``.
        loss: ``mse`` (default, as in the lectures), ``l1`` or ``huber``.
    """

    def __init__(self, net: nn.Module, loss: str = "mse") -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ConfigError(f"loss={loss!r} is not known; choose one of {sorted(LOSSES)}")
        self.save_hyperparameters(ignore=unsaved_module_args("net"))
        self.net = net
        self.loss_fn = LOSSES[loss]()
        self.train_loss = EpochMean()  # logged once per epoch

    def setup(self, stage: str) -> None:
        super().setup(stage)
        dm = datamodule_of(self._trainer)
        if dm is not None and hasattr(dm, "example_input"):
            note = fit_to_data(self.net, dm.example_input())
            if note and stage == "fit" and self.trainer.is_global_zero:  # (test/predict: the checkpoint's weights)
                print(note, flush=True)
        elif dm is not None and stage == "fit" and has_lazy_parameters(self.net):
            # a data module of one's own: lazy layers (in_features: null) learn their size from a batch
            materialize(self.net, first_inputs(dm))
        if dm is not None and hasattr(dm, "output_dim"):
            match_output_width(self.net, dm.output_dim)

    def on_train_start(self) -> None:
        note = few_steps_note(self.trainer)
        if note and self.trainer.is_global_zero:
            print(note, flush=True)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        resize_to_checkpoint(self.net, checkpoint.get("state_dict", {}))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        x, y = batch[0], batch[1]
        loss = self.loss_fn(self.predicted(x, y), y)
        self.train_loss.update(loss)
        return loss

    def on_train_epoch_end(self) -> None:
        self.train_loss.log(self, "train/loss")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-3)
