"""Per-class accuracy on the training and test sets, in the lecture's layout.

    Naive Bayes       0     1     2  ...   All
    Training Set   0.89  0.97  0.76  ...  0.81
    Test Set       0.90  0.96  0.78  ...  0.82

Accuracy of class k is the share of class-k examples predicted as k (its recall);
``All`` is the share of all examples predicted right.  The numbers come from
torchmetrics ``MulticlassAccuracy(average=None)`` and ``MulticlassConfusionMatrix``,
whose states are summed across data-parallel processes, so they are exact under DDP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from torch import Tensor
from torchmetrics.classification import MulticlassConfusionMatrix

from econdl import interrupt
from econdl.attached import datamodule_of
from econdl.metrics import metric_label  # not from tasks: tasks import callbacks, never the reverse
from econdl.errors import ConfigError
from econdl.report.table import missing_as_none

ROWS = {"train": "Training Set", "val": "Validation Set", "test": "Test Set"}


def accuracy_row(confusion: Tensor, class_names: list[str]) -> pd.Series:
    """Per-class accuracy (recall) and overall accuracy from a confusion matrix
    (rows = true class, columns = predicted class); NaN (printed ``-``) for a class with no
    example in the split, whose accuracy is undefined rather than 0."""
    confusion = confusion.double().cpu()
    counts = confusion.sum(dim=1)
    per_class = torch.where(counts > 0, confusion.diagonal() / counts.clamp_min(1), float("nan"))
    overall = confusion.diagonal().sum() / confusion.sum().clamp_min(1)
    return pd.Series([*per_class.tolist(), float(overall)], index=[*map(str, class_names), "All"])


def class_names_of(trainer: L.Trainer, pl_module: L.LightningModule) -> list[str]:
    names = getattr(pl_module, "class_names", None) or getattr(datamodule_of(trainer), "class_names", None)
    if not names:
        raise ConfigError("ClassAccuracyTable needs class names: set `class_names` on the DataModule")
    return [str(n) for n in names]


class ClassAccuracyTable(L.Callback):
    """Prints and saves per-class accuracy (rows Training Set / Test Set, columns the class
    labels then ``All``) at the end of fit (training vs validation set, last weights) and
    of test (training vs test set, the weights tested).

    At test it logs ``train/acc`` (the models log
    ``test/acc_class_<label>`` themselves; a model that does not gets them from here) and
    writes ``class_accuracy.csv``, ``class_accuracy.md`` and ``confusion_matrix.png`` to the
    run directory (``class_accuracy_fit.*`` at the end of fit).  ``table`` keeps the latest
    table; ``comparison_block()`` hands it to ``econdl compare``.

    Args:
        on_fit: also tabulate at the end of fit (one extra pass over the training data).
        title: heading of the printed table (default: the model's class name).
        digits: decimals printed.
    """

    def __init__(self, on_fit: bool = True, title: str | None = None, digits: int = 2) -> None:
        self.on_fit = on_fit
        self.title = title
        self.digits = digits
        self.table: pd.DataFrame | None = None
        self.files: list[Path] = []
        self._test_confusion: MulticlassConfusionMatrix | None = None

    # --- passes -----------------------------------------------------------------------
    @staticmethod
    def _new_confusion(k: int, device: torch.device) -> MulticlassConfusionMatrix:
        return MulticlassConfusionMatrix(num_classes=k).to(device)

    @torch.no_grad()
    def confusion_on(self, trainer: L.Trainer, pl_module: L.LightningModule, split: str) -> Tensor:
        """Confusion matrix of ``pl_module`` on a DataModule split, each process its shard."""
        dm = datamodule_of(trainer)
        if dm is None:
            raise ConfigError("ClassAccuracyTable tabulates DataModule splits: run the model with a DataModule")
        k = len(class_names_of(trainer, pl_module))
        metric = self._new_confusion(k, pl_module.device)
        loader = dm.loader(split) if hasattr(dm, "loader") else getattr(dm, f"{split}_dataloader")()
        was_training = pl_module.training
        pl_module.eval()
        for batch in loader:
            batch = tuple(t.to(pl_module.device) for t in batch)
            batch = dm.on_after_batch_transfer(batch, 0)
            scores = pl_module(batch[0])
            metric.update(scores.argmax(dim=1), batch[1])
        pl_module.train(was_training)
        return metric.compute()

    # --- hooks ------------------------------------------------------------------------
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.on_fit or trainer.sanity_checking or trainer.interrupted:
            return
        names = class_names_of(trainer, pl_module)
        matrices = {s: self.confusion_on(trainer, pl_module, s) for s in ("train", "val")}
        self._report(trainer, pl_module, names, matrices, suffix="_fit")

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._test_confusion = self._new_confusion(len(class_names_of(trainer, pl_module)), pl_module.device)

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        assert self._test_confusion is not None
        if isinstance(outputs, dict) and "preds" in outputs:
            preds, target = outputs["preds"], outputs["target"]
        else:  # a model whose test_step returns nothing: score the batch here
            with torch.no_grad():
                preds, target = pl_module(batch[0]).argmax(dim=1), batch[1]
        self._test_confusion.update(preds, target)

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        assert self._test_confusion is not None
        names = class_names_of(trainer, pl_module)
        matrices = {"train": self.confusion_on(trainer, pl_module, "train"), "test": self._test_confusion.compute()}
        table = self._report(trainer, pl_module, names, matrices, suffix="")
        logged = dict(trainer.callback_metrics)
        values = {"train/acc": float(table.loc[ROWS["train"], "All"])}
        for name in names:  # training-set rows per class are in the CSV/Markdown files
            key = f"test/acc_class_{metric_label(name)}"
            if key not in logged and not hasattr(pl_module, "test_acc_class"):
                values[key] = float(table.loc[ROWS["test"], name])
        pl_module.log_dict(values, on_epoch=True, sync_dist=True)  # equal on every rank already

    # --- output -----------------------------------------------------------------------
    def _report(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        names: list[str],
        matrices: dict[str, Tensor],
        suffix: str,
    ) -> pd.DataFrame:
        table = pd.DataFrame({ROWS[s]: accuracy_row(m, names) for s, m in matrices.items()}).T
        title = self.title or type(getattr(pl_module, "net", pl_module)).__name__
        table.columns.name = title
        self.table = table
        log_dir = trainer.log_dir  # every rank asks: under DDP it is a collective broadcast
        if not trainer.is_global_zero:
            return table
        if interrupt.driver() is None:  # compare and sweep print every model's block together, once
            text = table.to_string(float_format=lambda v: f"{v:.{self.digits}f}", na_rep="-")
            print(f"\n{title}: accuracy per class\n{text}\n")
        out = Path(log_dir) if log_dir else None
        if out is None:
            return table
        out.mkdir(parents=True, exist_ok=True)
        self.files = [out / f"class_accuracy{suffix}.csv", out / f"class_accuracy{suffix}.md"]
        table.to_csv(self.files[0])
        self.files[1].write_text(missing_as_none(table).to_markdown(floatfmt=f".{self.digits}f", missingval="-") + "\n")
        last = list(matrices)[-1]
        self.files.append(
            plot_confusion(matrices[last].cpu(), names, out / f"confusion_matrix{suffix}.png", ROWS[last])
        )
        return table

    def comparison_block(self) -> tuple[str, pd.DataFrame] | None:
        """For ``econdl compare``: (title of the combined table, this run's table)."""
        return None if self.table is None else ("accuracy per class", self.table)


def plot_confusion(confusion: Tensor, names: list[str], path: Path, split: str) -> Path:
    """Save a confusion-matrix heat map (counts in the cells) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * k, 1.0 + 0.5 * k))
    counts = confusion.numpy()
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion matrix, {split.lower()}")
    top = counts.max() if counts.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                str(int(counts[i, j])),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if counts[i, j] > top / 2 else "black",
            )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
