"""LASSO multinomial logit: softmax regression with an L1 penalty, by proximal gradient.

The objective is the mean cross-entropy of ``x W' + b`` plus ``lam * sum |W|`` (the
intercepts are not penalised).  Each training step takes a gradient step on the
cross-entropy with the configured optimizer (plain SGD is the textbook proximal
gradient method; its learning rate is the step size) and then applies the proximal
map of the L1 term, soft-thresholding every weight by ``lr * lam``.  Unlike a
subgradient step, that sets weights exactly to zero, which is what makes it LASSO.

scikit-learn's ``LogisticRegression(penalty="l1", C=C)`` minimises the same objective
times ``C * n`` with ``lam = 1 / (C * n)``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from econdl.tasks.classifier import ClassificationModel
from econdl.errors import ConfigError
from econdl.tasks.rows import as_rows


def soft_threshold(w: Tensor, t: float) -> Tensor:
    """The proximal map of ``t * |w|``: shrink towards zero by t, exactly zero within t."""
    return torch.sign(w) * (w.abs() - t).clamp_min(0)


class LassoLogit(ClassificationModel):
    """Multinomial logit on the flattened inputs with an L1 penalty on the weights.

    Args:
        lam: L1 penalty per example (``1 / (C n)`` in scikit-learn's terms); 0 = plain logit.
    """

    def __init__(self, lam: float = 1e-4) -> None:
        super().__init__()
        if lam < 0:
            raise ConfigError(f"lam={lam} must be zero or positive")
        self.save_hyperparameters()
        self.lam = lam
        self.automatic_optimization = False
        self.weight = nn.Parameter(torch.zeros(0, 0))
        self.bias = nn.Parameter(torch.zeros(0))

    def setup(self, stage: str) -> None:
        super().setup(stage)
        # Lightning attaches Trainer.datamodule at fit time without declaring the attribute
        dm = getattr(self._trainer, "datamodule", None)
        if stage == "fit" and dm is not None and self.weight.numel() == 0:
            # Resized in place (not replaced): LightningCLI builds the optimizer from the
            # config before setup, holding these very Parameter objects.  Zeros are the
            # LASSO's natural start: a weight enters only if it pays for its penalty.
            self.weight.data = torch.zeros(self.num_classes, int(dm.input_dim))
            self.bias.data = torch.zeros(self.num_classes)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        state = checkpoint["state_dict"]
        self.weight.data = torch.empty_like(state["weight"])
        self.bias.data = torch.empty_like(state["bias"])

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(as_rows(x).to(self.weight.dtype), self.weight, self.bias)

    def penalty(self) -> Tensor:
        return self.lam * self.weight.abs().sum()

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        x, y = batch[0], batch[1]
        opt = self.optimizers()
        if isinstance(opt, list):
            raise TypeError(f"LassoLogit expects one optimizer, got {len(opt)}")
        loss = F.cross_entropy(self(x), y)
        objective = loss.detach() + self.penalty().detach()  # at the weights this batch's loss was computed on
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        with torch.no_grad():
            for group in opt.optimizer.param_groups:
                if any(p is self.weight for p in group["params"]):
                    self.weight.copy_(soft_threshold(self.weight, group["lr"] * self.lam))
        self.log("train/loss", objective, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y))
        return loss

    def on_train_epoch_end(self) -> None:
        # manual optimization: epoch-level schedulers are stepped here
        sched = self.lr_schedulers()
        if sched is not None and not isinstance(sched, list):
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                metric = self.trainer.callback_metrics.get("val/loss")
                if metric is not None:
                    sched.step(metric)
            else:
                sched.step()
        self.log("sparsity", (self.weight == 0).float().mean(), on_epoch=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)
