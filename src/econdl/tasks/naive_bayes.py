"""Naive Bayes classifiers fitted in closed form from class counts.

Over one pass of the training batches the model adds up, per class, the number of
examples and the sum (and sum of squares) of every input feature, in float64.  At
the end of the pass the sums of all data-parallel processes are added
(``all_gather``) and the class-conditional distributions follow in closed form:

- ``bernoulli``: pixels binarised at ``threshold``; P(x_j = 1 | k) with additive
  (Laplace) smoothing ``alpha``, as scikit-learn's ``BernoulliNB``;
- ``gaussian``: per-class mean and variance of every feature, variances padded by
  ``var_smoothing`` times the largest feature variance, as ``GaussianNB``.

``forward`` returns the joint log-likelihood log P(k) + log P(x | k) per class, so
its softmax is the posterior.  The fitted quantities are ``nn.Parameter``s (filled
after solving), so DistributedDataParallel accepts the module; no optimizer is used.
"""

from __future__ import annotations

import math
from typing import Any, cast

import torch
from torch import Tensor, nn

from econdl.tasks.classifier import ClassificationModel
from econdl.errors import ConfigError, DataError
from econdl.tasks.rows import as_rows

KINDS = ("bernoulli", "gaussian")
ABSENT_LOG_PRIOR = -1e30  # log prior of a class with no training example: never the argmax, yet finite


class NaiveBayes(ClassificationModel):
    """Naive Bayes on the flattened inputs (pixels in [0, 1] for images).

    Args:
        kind: ``bernoulli`` (binarised inputs) or ``gaussian``.
        alpha: additive smoothing of the Bernoulli counts.
        threshold: Bernoulli inputs above it count as 1.
        var_smoothing: Gaussian variance floor, as a share of the largest feature variance.
    """

    exact_pass = True  # every training row exactly once: the counts must be exact

    def __init__(
        self, kind: str = "bernoulli", alpha: float = 1.0, threshold: float = 0.5, var_smoothing: float = 1e-9
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ConfigError(f"kind={kind!r} is not known; choose one of {list(KINDS)}")
        if alpha < 0 or var_smoothing < 0:
            raise ConfigError(f"alpha={alpha} and var_smoothing={var_smoothing} must be zero or positive")
        self.save_hyperparameters()
        self.kind, self.alpha, self.threshold, self.var_smoothing = kind, alpha, threshold, var_smoothing
        self.automatic_optimization = False
        self.log_prior = nn.Parameter(torch.zeros(0, dtype=torch.float64))
        self.center = nn.Parameter(torch.zeros(0, 0, dtype=torch.float64))  # log-odds (bernoulli) / mean
        self.spread = nn.Parameter(torch.zeros(0, 0, dtype=torch.float64))  # log(1-p) (bernoulli) / variance
        self._stats: Tensor | None = None
        self._told_absent = False
        self._range: tuple[float, float] | None = None  # smallest and largest training input (bernoulli)

    def setup(self, stage: str) -> None:
        super().setup(stage)
        # Lightning attaches Trainer.datamodule at fit time without declaring the attribute
        dm = getattr(self._trainer, "datamodule", None)
        if stage != "fit" or dm is None:
            return
        k, d = self.num_classes, int(dm.input_dim)
        self.log_prior = nn.Parameter(torch.full((k,), -math.log(k), dtype=torch.float64))
        self.center = nn.Parameter(torch.zeros(k, d, dtype=torch.float64))
        self.spread = nn.Parameter(
            torch.ones(k, d, dtype=torch.float64) * (1.0 if self.kind == "gaussian" else -math.log(2))
        )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        state = checkpoint["state_dict"]
        for name in ("log_prior", "center", "spread"):
            setattr(self, name, nn.Parameter(torch.empty_like(state[name])))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # never updates anything; its step() only counts batches in trainer.global_step
        return torch.optim.SGD([self.log_prior], lr=0.0)

    def features(self, x: Tensor) -> Tensor:
        x = as_rows(x).double()
        return (x > self.threshold).double() if self.kind == "bernoulli" else x

    def forward(self, x: Tensor) -> Tensor:
        f = self.features(x)
        if self.kind == "bernoulli":
            scores = f @ self.center.T + self.spread.sum(1) + self.log_prior
        else:
            var = self.spread
            scores = (
                -0.5 * (torch.log(2 * math.pi * var).sum(1))
                - 0.5 * ((f.unsqueeze(1) - self.center) ** 2 / var).sum(2)
                + self.log_prior
            )
        return scores.float()

    # --- the fit: one pass of sums -----------------------------------------------------
    def on_train_epoch_start(self) -> None:
        self._stats = None
        self._range = None

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        x, y = batch[0], batch[1]
        with torch.no_grad():
            f = self.features(x)
            onehot = torch.nn.functional.one_hot(y, self.num_classes).double()
            # per class: count | sum of features | sum of squared features
            stats = torch.cat([onehot.sum(0, keepdim=True).T, onehot.T @ f, onehot.T @ f**2], dim=1)
            self._stats = stats if self._stats is None else self._stats + stats
            if self.kind == "bernoulli":  # for the message when no input crosses the threshold
                low, high = as_rows(x).aminmax()
                seen = (float(low), float(high))
                self._range = (
                    seen if self._range is None else (min(self._range[0], seen[0]), max(self._range[1], seen[1]))
                )
        opt = self.optimizers()
        if isinstance(opt, list):
            raise TypeError(f"NaiveBayes expects one optimizer, got {len(opt)}")
        opt.step()

    def on_validation_epoch_start(self) -> None:
        self._solve()

    def on_train_epoch_end(self) -> None:
        self._solve()
        self.trainer.should_stop = True  # one pass over the data is the whole fit

    def _constant_inputs(self, all_on: bool) -> None:
        """Every training input binarises to the same value (0 or 1): nothing to learn from."""
        low, high = getattr(self, "_range", None) or (float("nan"), float("nan"))
        if all_on:
            raise DataError(
                f"NaiveBayes: every training input is above threshold={self.threshold:g} (the smallest is "
                f"{low:.4g}), so every image binarises to all ones and the model can only predict the most "
                f"common class; set --model.threshold above {low:.4g}, or check that the data are scaled to [0, 1]"
            )
        raise DataError(
            f"NaiveBayes: no training input is above threshold={self.threshold:g} (the largest is {high:.4g} on "
            f"the [0, 1] scale of 8-bit images), so every image binarises to all zeros and the model can only "
            f"predict the most common class; write the images with the full 0-255 range of pixel values, or set "
            f"--model.threshold below {high:.4g} (e.g. {high / 2:.3g})"
        )

    def _solve(self) -> None:
        if self._stats is None:
            return
        stats, self._stats = self._stats, None
        if self.trainer.world_size > 1:
            # all_gather returns a tensor for a tensor; Lightning's return type is any collection
            stats = cast(Tensor, self.all_gather(stats)).reshape(-1, *stats.shape).sum(0)
        d = self.center.shape[1]
        count, s1, s2 = stats[:, 0], stats[:, 1 : 1 + d], stats[:, 1 + d :]
        absent = count == 0
        if absent.all():
            raise DataError("NaiveBayes: no training examples at all; check the data's training split")
        if absent.any() and self.trainer.is_global_zero and not self._told_absent:
            missing = [self.class_names[i] for i in torch.nonzero(absent).flatten().tolist()]
            print(
                f"NaiveBayes: no training example of class(es) {', '.join(missing)}; it never predicts "
                f"{'them' if len(missing) > 1 else 'it'} (prior probability 0)",
                flush=True,
            )
            self._told_absent = True
        # an absent class gets a prior of (almost) zero, finite so that no checkpoint holds -inf
        self.log_prior.data.copy_(torch.log(count / count.sum()).clamp_min(ABSENT_LOG_PRIOR))
        seen = count.clamp_min(1).unsqueeze(1)  # an absent class: sums of 0 give finite features (mean 0)
        if self.kind == "bernoulli":
            on = s1.sum(0)  # per pixel, the training images in which it is on
            all_off, all_on = bool((on == 0).all()), bool((on == count.sum()).all())
            if all_off or all_on:  # (a single image, or identical ones, with pixels on and off is data)
                self._constant_inputs(all_on=all_on)
            p = (s1 + self.alpha) / (count.unsqueeze(1) + 2 * self.alpha)
            p[absent] = 0.5  # no image of the class: no information (0 / 0 without smoothing)
            certain = int(((p == 0) | (p == 1))[~absent].sum())
            if certain:  # alpha 0: log(0) for a pixel always off (or on) among a class's images
                raise ConfigError(
                    f"alpha={self.alpha:g}: {certain:,} pixel(s) are never on, or always on, among the training "
                    "images of a class, so without smoothing their log-probability is infinite; give --model.alpha "
                    "above 0, e.g. 1.0 (Laplace, the default) or 1e-10 for next to no smoothing (scikit-learn's floor)"
                )
            self.center.data.copy_(torch.log(p) - torch.log1p(-p))
            self.spread.data.copy_(torch.log1p(-p))
        else:
            mean = s1 / seen
            var = (s2 / seen - mean**2).clamp_min(0)
            total_mean = s1.sum(0) / count.sum()
            total_var = (s2.sum(0) / count.sum() - total_mean**2).clamp_min(0)
            self.center.data.copy_(mean)
            if not bool(total_var.max() > 0):
                raise DataError(
                    "NaiveBayes: every pixel takes one value across all training images (no variance to model); "
                    "check that data_dir holds the real images"
                )
            spread = var + self.var_smoothing * total_var.max()
            spread[absent] = spread[absent].clamp_min(1e-9 * total_var.max())  # finite, and never likely
            flat = int((spread == 0)[~absent].sum())
            if flat:  # var_smoothing 0: a pixel constant within a class has variance 0, divided by
                raise ConfigError(
                    f"var_smoothing={self.var_smoothing:g}: {flat:,} pixel(s) take one value among the training "
                    "images of a class (variance 0), and the Gaussian likelihood divides by it; give "
                    "--model.var_smoothing above 0, e.g. 1e-9 (the default, as scikit-learn's GaussianNB)"
                )
            self.spread.data.copy_(spread)
