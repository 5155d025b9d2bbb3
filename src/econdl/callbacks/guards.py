"""Stop a fit whose loss stops being a number, before it overwrites a good checkpoint."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


class FiniteLossGuard(L.Callback):
    """Checks the training loss for NaN/inf and stops the fit with a message naming the epoch,
    the step and the likely causes.  The check runs on the device (no sync per step); the
    flag is read every ``check_every_n_steps`` steps and always before a checkpoint is written,
    so the last checkpoint on disk stays the last finite one.

    Args:
        check_every_n_steps: how often to read the flag between checkpoints.
    """

    def __init__(self, check_every_n_steps: int = 25) -> None:
        if check_every_n_steps < 1:
            raise ValueError(f"check_every_n_steps={check_every_n_steps} must be a positive integer")
        self.every = check_every_n_steps
        self._first_bad: torch.Tensor | None = None  # global step of the first bad loss, -1 if none
        self._epoch_of_bad: int | None = None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        step = trainer.global_step
        if self._first_bad is None:
            self._first_bad = torch.full((), -1, dtype=torch.long, device=loss.device)
        bad = ~torch.isfinite(loss.detach())
        self._first_bad = torch.where(bad & (self._first_bad < 0), torch.tensor(step, device=loss.device), self._first_bad)
        if (batch_idx + 1) % self.every == 0:
            self._raise_if_bad(trainer, pl_module)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._raise_if_bad(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._raise_if_bad(trainer, pl_module)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        self._raise_if_bad(trainer, pl_module)

    def _raise_if_bad(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._first_bad is None:
            return
        flag = self._first_bad
        if trainer.world_size > 1:  # any rank's bad loss stops every rank
            flag = trainer.strategy.reduce(flag.float(), reduce_op="max").long()
        step = int(flag)
        if step < 0:
            return
        lrs = [group["lr"] for opt in trainer.optimizers for group in opt.param_groups]
        last = getattr(trainer.checkpoint_callback, "last_model_path", "") or "none written yet"
        raise NonFiniteLossError(
            f"the training loss became NaN or infinite at epoch {trainer.current_epoch}, optimizer step {step}. "
            f"Likely causes: a learning rate too high for this model (lr={lrs[0] if lrs else 'n/a'}; try 10x lower, "
            "e.g. --optimizer.init_args.lr), or extreme values in the inputs or targets (standardise them). "
            f"The last finite checkpoint is kept: {last}"
        )
