"""Callbacks that break a fit on purpose, for the resume and non-finite-loss tests.
They are named by class path on the `econdl` command line (tests/ is put on PYTHONPATH)."""

import os
import signal

import lightning as L
from lightning.pytorch.callbacks import Checkpoint
import torch

from econdl.data import RegressionDataModule


class KillAtEpoch(L.Callback):
    """SIGKILL this process when ``epoch`` starts: no cleanup, no final checkpoint."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)


class KillAfterEpochCheckpoints(Checkpoint):
    """SIGKILL this process as ``epoch`` ends, after its best checkpoint was written and before
    the next epoch writes last.ckpt.  A ``Checkpoint`` so that Lightning calls it with the
    checkpoint callbacks, after ModelCheckpoint (and ResumeCheckpoint's next write)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)


class BlowUpAtEpoch(L.Callback):
    """Multiply every learning rate by ``factor`` when ``epoch`` starts, so the loss diverges."""

    def __init__(self, epoch: int, factor: float = 1e30) -> None:
        self.epoch, self.factor = epoch, factor

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            for opt in trainer.optimizers:
                for group in opt.param_groups:
                    group["lr"] *= self.factor


class NaNAfterLastStep(L.Callback):
    """Fill every parameter with NaN right after the last optimizer step of ``epoch``: the
    update that no training loss ever sees (the loss of step k is computed before update k)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        last = batch_idx + 1 == trainer.num_training_batches
        if trainer.current_epoch == self.epoch and last:
            with torch.no_grad():
                for p in pl_module.parameters():
                    p.fill_(float("nan"))


class InfOptimizerStateAfterLastStep(L.Callback):
    """Set Adam's second moment of the first parameter to infinity right after the last optimizer
    step of ``epoch``, as a gradient whose square overflows does: the weights stay finite, but
    every later update of that parameter is zero."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx + 1 == trainer.num_training_batches:
            first = next(pl_module.parameters())
            trainer.optimizers[0].state[first]["exp_avg_sq"].fill_(float("inf"))


class SlowSteps(L.Callback):
    """Sleep ``seconds`` after every training step, so that a time limit falls inside an epoch."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        import time

        time.sleep(self.seconds)


class ExtremeInputs(RegressionDataModule):
    """x uniform on [0, ``scale``] (finite in float32), y = x / scale + noise: a polynomial
    basis of such inputs overflows, so a closed-form fit's coefficients come out NaN."""

    task = "extreme"

    def __init__(self, scale: float = 1e38, n: int = 300, batch_size: int = 64) -> None:
        super().__init__(batch_size)
        self.scale, self.n = scale, n

    def build(self) -> dict:
        g = torch.Generator().manual_seed(0)

        def split() -> tuple[torch.Tensor, torch.Tensor]:
            x = torch.rand(self.n, 1, generator=g) * self.scale
            return x, x / self.scale + 0.1 * torch.randn(self.n, 1, generator=g)

        return {"train": split(), "val": split(), "test": split()}


class ScaleAfterLastStep(L.Callback):
    """Multiply every parameter by ``factor`` right after the last optimizer step of ``epoch``:
    the weights stay finite, and the model's outputs overflow."""

    def __init__(self, epoch: int, factor: float = 1e20) -> None:
        self.epoch, self.factor = epoch, factor

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx + 1 == trainer.num_training_batches:
            with torch.no_grad():
                for p in pl_module.parameters():
                    p.mul_(self.factor)


class NaNAfterStep(L.Callback):
    """Fill every parameter with NaN right after optimizer step ``step`` (counted from 1): the
    loss of the next batch is the first that is NaN."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                for p in pl_module.parameters():
                    p.fill_(float("nan"))


class FarTestInputs(ExtremeInputs):
    """Training and validation x in [0, 1], test x ``scale`` times as large: a polynomial fitted
    on the first overflows on the second (its weights finite, its test outputs infinite)."""

    task = "far"

    def build(self) -> dict:
        g = torch.Generator().manual_seed(0)

        def split(scale: float) -> tuple[torch.Tensor, torch.Tensor]:
            x = torch.rand(self.n, 1, generator=g)
            return x * scale, x

        return {"train": split(1.0), "val": split(1.0), "test": split(self.scale)}
