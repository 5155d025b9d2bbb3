"""Callbacks that break a fit on purpose, for the resume and non-finite-loss tests.
They are named by class path on the `econdl` command line (tests/ is put on PYTHONPATH)."""

import os
import signal

import lightning as L
from lightning.pytorch.callbacks import Checkpoint
import torch


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
