"""What every classification model shares, neural or closed-form, and the generic ``Classifier``.

A classification model's ``forward`` returns one score (logit) per class, shape (n, K).
``ClassificationModel`` turns those into the same metrics for every model:
``val/loss``, ``val/acc``, ``test/loss``, ``test/acc``, ``test/acc_class_<label>``
(cross-entropy of the scores and accuracy with torchmetrics, so they are correct
under data parallelism), and ``predict_step`` returns class probabilities (softmax).

The class names come from the DataModule attribute ``class_names`` in ``setup`` and are
stored in checkpoints, so ``econdl test/predict --ckpt_path`` work in a new process.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from econdl.attached import callbacks_of, datamodule_of
from econdl.metrics import metric_label
from econdl.tasks.hparams import unsaved_module_args
from econdl.tasks.sizing import (
    few_steps_note,
    check_output_width,
    first_inputs,
    fit_to_data,
    has_lazy_parameters,
    materialize,
    resize_to_checkpoint,
)
from econdl.tasks.running import EpochMean
from econdl.errors import ConfigError, DataError


class ClassificationModel(L.LightningModule):
    """Base LightningModule of classifiers; subclasses implement ``forward`` (scores, (n, K))."""

    def __init__(self) -> None:
        super().__init__()
        self.class_names: list[str] = []

    # --- classes ----------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        names = getattr(dm, "class_names", None)
        if names:
            if self.class_names and list(map(str, names)) != self.class_names:
                raise DataError(
                    f"the model was trained on classes {self.class_names} but the data have "
                    f"classes {list(names)}; use data with the same classes"
                )
            self.class_names = [str(n) for n in names]
        if not self.class_names:
            raise DataError(f"{type(self).__name__} needs class names: the DataModule must define `class_names`")
        self._make_metrics()

    def _make_metrics(self) -> None:
        k = self.num_classes
        # losses are averaged by torchmetrics too, so every process logs the same value
        self.val_loss, self.test_loss = MeanMetric(), MeanMetric()
        self.val_acc = MulticlassAccuracy(num_classes=k, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes=k, average="micro")
        self.test_acc_class = MulticlassAccuracy(num_classes=k, average=None)

    def configure_callbacks(self) -> list[L.Callback]:
        """Every classification run prints the lecture's per-class table: add a
        ``ClassAccuracyTable`` unless the trainer already has one (then that one, with its
        own options, is used).  It reports at test time, which ``econdl fit`` reaches by
        testing the best checkpoint, so a fit prints the table once."""
        from econdl.callbacks.class_table import ClassAccuracyTable

        if any(isinstance(cb, ClassAccuracyTable) for cb in callbacks_of(self.trainer)):
            return []
        return [ClassAccuracyTable(on_fit=False)]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["class_names"] = list(self.class_names)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if checkpoint.get("class_names"):
            self.class_names = list(checkpoint["class_names"])

    # --- steps ------------------------------------------------------------------------
    def loss(self, scores: Tensor, y: Tensor) -> Tensor:
        """Cross-entropy of each sample (averaged by the loss metrics across batches and ranks)."""
        return F.cross_entropy(scores.float(), y, reduction="none")

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        x, y = batch[0], batch[1]
        scores = self(x)
        if len(y):  # a data-parallel shard may end with an empty batch, which torchmetrics refuses
            self.val_acc.update(scores, y)
            self.val_loss.update(self.loss(scores, y))
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("val/acc", self.val_acc, on_step=False, on_epoch=True, prog_bar=True)

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> dict[str, Tensor]:
        x, y = batch[0], batch[1]
        scores = self(x)
        if len(y):  # (as in validation_step)
            self.test_acc.update(scores, y)
            self.test_acc_class.update(scores, y)
            self.test_loss.update(self.loss(scores, y))
        self.log("test/loss", self.test_loss, on_step=False, on_epoch=True)
        self.log("test/acc", self.test_acc, on_step=False, on_epoch=True)
        # returned so callbacks (ClassAccuracyTable) need no second forward pass
        return {"preds": scores.detach().argmax(dim=1), "target": y}

    def on_test_epoch_end(self) -> None:
        per_class = self.test_acc_class.compute()
        with self.test_acc_class.sync_context():  # the counts of every rank, as compute() used
            tp, fn = self.test_acc_class.tp, self.test_acc_class.fn
            assert isinstance(tp, Tensor) and isinstance(fn, Tensor)  # global counts per class
            support = tp + fn
        # a class with no test example has no accuracy (torchmetrics says 0), as in the table
        per_class = torch.where(support > 0, per_class, torch.nan)
        self.log_dict(
            {f"test/acc_class_{metric_label(n)}": per_class[i] for i, n in enumerate(self.class_names)},
            on_epoch=True,
            sync_dist=True,  # computed from synced counts: equal on every rank already
        )
        self.test_acc_class.reset()

    def predict_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        """Class probabilities, shape (n, K)."""
        return torch.softmax(self(batch[0]).float(), dim=1)


class Classifier(ClassificationModel):
    """Fits ``net`` (any ``nn.Module`` returning K scores) by minimising cross-entropy.

    The optimizer and scheduler come from the config's top-level ``optimizer:`` and
    ``lr_scheduler:`` keys; used from Python without them, Adam at lr=1e-3.

    Args:
        net: the network, e.g. ``econdl.nets.MLP(flatten=True, out_features=10)`` or
            ``econdl.nets.DigitCNN``.
        label_smoothing: cross-entropy label smoothing in [0, 1) (0 = none).
    """

    def __init__(self, net: nn.Module, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"label_smoothing={label_smoothing} must lie in [0, 1)")
        self.save_hyperparameters(ignore=unsaved_module_args("net"))
        self.net = net
        self.label_smoothing = label_smoothing
        self.train_loss = EpochMean()  # logged once per epoch

    def setup(self, stage: str) -> None:
        super().setup(stage)
        dm = datamodule_of(self._trainer)
        if dm is not None and not hasattr(dm, "example_input") and stage == "fit":
            # a data module of one's own: size lazy layers from its first batch, and check the scores
            example = first_inputs(dm)
            materialize(self.net, example)
            check_output_width(self.net, example, self.class_names)
        if dm is None or not hasattr(dm, "example_input"):
            return
        if stage == "predict" and getattr(dm, "predict_dir", None):
            # a folder of images may come without training data: only lazy layers need an example
            # (the checkpoint gives every other size, resize_to_checkpoint)
            if has_lazy_parameters(self.net):
                materialize(self.net, dm.example_input())
            return
        example = dm.example_input()
        note = fit_to_data(self.net, example)
        check_output_width(self.net, example, self.class_names)
        if note and stage == "fit" and self.trainer.is_global_zero:  # (test/predict: the checkpoint's weights)
            print(note, flush=True)

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
        scores = self(x)
        loss = F.cross_entropy(scores, y, label_smoothing=self.label_smoothing)
        self.train_loss.update(loss)
        return loss

    def on_train_epoch_end(self) -> None:
        self.train_loss.log(self, "train/loss")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-3)
