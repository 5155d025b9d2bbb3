"""A neural network fitted by minibatch gradient descent on a regression loss."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from econdl.attached import datamodule_of
from econdl.tasks.hparams import unsaved_module_args
from econdl.tasks.regression import RegressionModel
from econdl.tasks.running import EpochMean
from econdl.errors import ConfigError

LOSSES = {"mse": nn.MSELoss, "l1": nn.L1Loss, "huber": nn.HuberLoss}


def has_lazy_parameters(module: nn.Module) -> bool:
    return any(isinstance(p, nn.parameter.UninitializedParameter) for p in module.parameters())


def materialize(module: nn.Module, example: Tensor) -> None:
    """Run one forward pass in eval mode so lazy layers learn their input size."""
    if not has_lazy_parameters(module):
        return
    was_training = module.training
    module.eval()
    # in the dtype of the weights already made (the precision's input dtype, float64 under
    # 64-true, comes only once Lightning converts the whole module after setup)
    made = [p for p in module.parameters() if not isinstance(p, nn.parameter.UninitializedParameter)]
    dtype = next((p.dtype for p in made if p.is_floating_point()), torch.get_default_dtype())
    try:
        with torch.no_grad():
            module(example.to(dtype) if example.is_floating_point() else example)
    except RuntimeError as err:
        text = str(err)
        if "Kernel size" not in text and "Output size is too small" not in text:
            raise
        raise ConfigError(
            f"inputs of shape {tuple(example.shape[1:])} are too small for {type(module).__name__}: its "
            f"convolutions and pooling shrink them to nothing ({text.strip().splitlines()[0]}); give larger "
            "inputs, e.g. a larger --data.image_size"
        ) from err
    module.train(was_training)


def match_output_width(net: nn.Module, width: int) -> None:
    """Widen a network's last linear layer from 1 output to the ``width`` targets the data has
    (e.g. one forecast per horizon), so one config serves every target width."""
    last = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if not last or last[-1].out_features == width:
        return
    if last[-1].out_features != 1:
        raise ConfigError(
            f"the network has {last[-1].out_features} outputs but the data have {width} targets; "
            f"set out_features: {width} (or 1, widened to the data)"
        )
    parent = next(m for m in net.modules() if any(c is last[-1] for c in m.children()))
    name = next(k for k, c in parent.named_children() if c is last[-1])
    setattr(parent, name, nn.Linear(last[-1].in_features, width, device=last[-1].weight.device))


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
            materialize(self.net, dm.example_input())
        if dm is not None and hasattr(dm, "output_dim"):
            match_output_width(self.net, dm.output_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        x, y = batch[0], batch[1]
        loss = self.loss_fn(self(x).reshape(y.shape), y)
        self.train_loss.update(loss)
        return loss

    def on_train_epoch_end(self) -> None:
        self.train_loss.log(self, "train/loss")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-3)
