"""Stop a fit whose loss stops being a number, before it overwrites a good checkpoint."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


class FiniteLossGuard(L.Callback):
    """Checks the training loss for NaN/inf and stops the fit with a message naming the epoch,
    the step and the likely causes.  The step only keeps a reference to its loss (no device
    sync, no extra work); the losses are checked together every ``check_every_n_steps``
    steps and always before validation and before a checkpoint is written, so the last
    checkpoint on disk stays the last finite one.

    Args:
        check_every_n_steps: how often to check between checkpoints.
    """

    def __init__(self, check_every_n_steps: int = 25) -> None:
        if check_every_n_steps < 1:
            raise ValueError(f"check_every_n_steps={check_every_n_steps} must be a positive integer")
        self.every = check_every_n_steps
        self._losses: list[torch.Tensor] = []
        self._steps: list[int] = []

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        self._losses.append(loss.detach())
        self._steps.append(trainer.global_step)
        if len(self._losses) >= self.every:
            self._check(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        self._check(trainer)

    def _check(self, trainer: L.Trainer) -> None:
        if not trainer.training and not trainer.validating and not trainer.sanity_checking:
            return  # checkpoints saved outside fit have no training loss to check
        losses, steps = self._losses, self._steps
        self._losses, self._steps = [], []
        device = trainer.strategy.root_device
        if losses:
            bad = ~torch.isfinite(torch.stack([t.float().reshape(()) for t in losses]))
            first = int(bad.nonzero()[0, 0]) if bool(bad.any()) else -1
            step = torch.tensor(steps[first] if first >= 0 else -1, device=device)
        else:
            step = torch.tensor(-1, device=device)
        if trainer.world_size > 1:  # any rank's bad loss stops every rank
            step = trainer.strategy.reduce(step.float(), reduce_op="max").long()
        if int(step) < 0:
            return
        lrs = [group["lr"] for opt in trainer.optimizers for group in opt.param_groups]
        last = getattr(trainer.checkpoint_callback, "last_model_path", "") or "see checkpoints/last.ckpt"
        raise NonFiniteLossError(
            f"the training loss became NaN or infinite at epoch {trainer.current_epoch}, optimizer step {int(step)}. "
            f"Likely causes: a learning rate too high for this model (lr={lrs[0] if lrs else 'n/a'}; try 10x lower, "
            "e.g. --optimizer.init_args.lr), or extreme values in the inputs or targets (standardise them). "
            f"No checkpoint was written after it; the last finite one is kept ({last})."
        )
