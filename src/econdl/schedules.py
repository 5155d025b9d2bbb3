"""Learning-rate schedules sized by the trainer, so one config works at any data size.

    lr_scheduler:
      class_path: econdl.schedules.OneCycleLR
      init_args: {max_lr: 0.003}

A one-cycle schedule needs the run's total number of optimizer steps, which depends on
the data size, the batch size, the epochs and the number of devices.  A config cannot
know it; ``trainer.estimated_stepping_batches`` does.  ``EconCLI.configure_optimizers``
calls ``set_total_steps`` with it and steps the schedule after every optimizer step.
"""

from __future__ import annotations

import math
from typing import Any

from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from econdl.errors import ConfigError


class StepSchedule(LRScheduler):
    """A schedule stepped once per optimizer step whose length is set by the trainer."""

    total_steps: int | None = None

    def set_total_steps(self, total_steps: float) -> None:
        """Size the schedule to the run; an unbounded run (``max_epochs=-1``) cannot be sized."""
        if not math.isfinite(total_steps) or total_steps < 1:
            raise ConfigError(
                f"{type(self).__name__} needs a finite number of training steps, got {total_steps}; "
                "set --trainer.max_epochs or --trainer.max_steps"
            )
        self.total_steps = int(total_steps)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A resumed fit keeps its checkpoint's schedule (so it resumes exactly); one given more
        steps than that schedule spans (a larger ``max_epochs``) says that the steps beyond it
        train at the schedule's final rate."""
        sized = self.total_steps
        super().load_state_dict(state_dict)
        if sized and self.total_steps and sized > self.total_steps and getattr(rank_zero_only, "rank", 0) == 0:
            final = self.get_lr_at(self.total_steps - 1)
            print(
                f"{type(self).__name__}: this checkpoint's schedule spans {self.total_steps} optimizer steps and "
                f"this fit {sized}; it keeps its own schedule, so the steps after {self.total_steps} train at its "
                f"final learning rate ({final:.3g}). To spread the schedule over the longer fit, start a new fit "
                "with the larger --trainer.max_epochs"
            )

    def get_lr_at(self, step: int) -> float:
        """The first group's rate at optimizer step ``step`` (0-based), without stepping."""
        at = self.last_epoch
        try:
            self.last_epoch = step
            return float(self.get_lr()[0])
        finally:
            self.last_epoch = at

    def progress(self) -> float:
        """Share of the run done, in [0, 1] (0 before the schedule is sized)."""
        if not self.total_steps:
            if self.last_epoch > 0:  # stepping an unsized schedule would hold the start rate
                raise RuntimeError(
                    f"{type(self).__name__} does not know the run's length: run it through `econdl` "
                    "(which sizes it from trainer.estimated_stepping_batches) or pass total_steps"
                )
            return 0.0
        return min(1.0, self.last_epoch / max(1, self.total_steps - 1))


def _cos_ramp(start: float, end: float, share: float) -> float:
    return end + (start - end) * (1 + math.cos(math.pi * share)) / 2


class OneCycleLR(StepSchedule):
    """One-cycle learning rate (Smith and Topin): a cosine warm-up from ``max_lr / div_factor``
    to ``max_lr`` over the first ``pct_start`` of the steps, then a cosine decay to
    ``max_lr / (div_factor * final_div_factor)``.  The learning rate alone is scheduled
    (no momentum cycling), so it composes with any optimizer.

    Args:
        optimizer: the optimizer whose learning rates are set.
        max_lr: the peak learning rate.
        pct_start: share of the steps spent warming up, in (0, 1).
        div_factor: initial learning rate = ``max_lr / div_factor``.
        final_div_factor: final learning rate = initial / ``final_div_factor``.
        total_steps: the run's optimizer steps; None (the default) lets the trainer size it.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float = 3e-3,
        pct_start: float = 0.25,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        total_steps: int | None = None,
        last_epoch: int = -1,
    ) -> None:
        if max_lr <= 0 or not 0 < pct_start < 1 or div_factor < 1 or final_div_factor < 1:
            raise ConfigError(
                f"OneCycleLR(max_lr={max_lr}, pct_start={pct_start}, div_factor={div_factor}, "
                f"final_div_factor={final_div_factor}) needs max_lr > 0, 0 < pct_start < 1 and factors >= 1"
            )
        self.max_lr, self.pct_start = max_lr, pct_start
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        self.total_steps = total_steps
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float | Tensor]:  # LRScheduler's return type; ours are all floats
        start = self.max_lr / self.div_factor
        share = self.progress()
        if share <= self.pct_start:
            lr = _cos_ramp(start, self.max_lr, share / self.pct_start)
        else:
            lr = _cos_ramp(self.max_lr, start / self.final_div_factor, (share - self.pct_start) / (1 - self.pct_start))
        return [lr for _ in self.optimizer.param_groups]
