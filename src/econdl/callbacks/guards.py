"""Stop a fit whose loss or weights stop being numbers, before it validates or saves them."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

from econdl.attached import callbacks_of
from econdl.errors import ConfigError, EcondlError


class NonFiniteLossError(EcondlError, RuntimeError):
    """The training loss, the validation loss or the weights became NaN or infinite: the
    fit's settings or data, not econdl, so ``econdl`` prints it as one line (exit status 1)."""


OPTIMIZER_STATE = "optimizer state: "  # how first_non_finite names an optimizer's tensor


def _checked_tensors(module: torch.nn.Module, optimizers: Any = ()) -> list[tuple[str, torch.Tensor]]:
    """The module's floating parameters and buffers, and the optimizers' floating state (Adam's
    moments, for instance), each with the name a message gives it."""
    named = [
        (n, t)
        for n, t in (*module.named_parameters(), *module.named_buffers())
        if not isinstance(t, (torch.nn.parameter.UninitializedParameter, torch.nn.parameter.UninitializedBuffer))
        and t.is_floating_point()
        and t.numel()
    ]
    states = [(p, state) for opt in optimizers for p, state in opt.state.items()]
    if states:
        names = {id(p): n for n, p in module.named_parameters()}
        for param, state in states:
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
                    named.append((f"{OPTIMIZER_STATE}{key} of {names.get(id(param), 'a parameter')}", value))
    return named


def first_non_finite(module: torch.nn.Module, optimizers: Any = ()) -> str | None:
    """Name of the first parameter, buffer or optimizer state (of ``optimizers``) holding
    NaN/inf, or None."""
    return first_non_finite_of(_checked_tensors(module, optimizers))


def first_non_finite_of(named: list[tuple[str, torch.Tensor]]) -> str | None:
    """Name of the first of the named floating tensors that holds NaN/inf, or None.  One fused
    reduction per device and dtype (the largest absolute value, which cannot overflow) and one
    sync."""
    groups: dict[tuple, list[int]] = {}
    for i, (_, t) in enumerate(named):
        groups.setdefault((t.device, t.dtype), []).append(i)
    for idx in groups.values():
        maxima = torch.stack(torch._foreach_norm([named[i][1].detach() for i in idx], float("inf")))
        bad = ~torch.isfinite(maxima)
        if bool(bad.any()):
            return named[idx[int(bad.nonzero()[0, 0])]][0]
    return None


class FiniteLossGuard(L.Callback):
    """Checks the training loss for NaN/inf and stops the fit with a message naming the epoch,
    the step and the likely causes.  The step only keeps a reference to its loss (no device
    sync, no extra work); the losses are checked together every ``check_every_n_steps``
    steps and always before validation and before a checkpoint is written.

    The loss of step k is computed before update k, so no loss sees the last update of an
    epoch: the weights themselves (parameters and buffers) and the optimizer's state are
    checked before validation and before every checkpoint, and a non-finite ``val/loss``
    stops the fit too (before early stopping could end it quietly).  (An infinite Adam
    second moment, from a gradient whose square overflows, leaves the weights finite but
    stops their updates for good.)  No checkpoint on disk ever holds a non-finite value.

    Args:
        check_every_n_steps: how often to check between checkpoints.
    """

    def __init__(self, check_every_n_steps: int = 25) -> None:
        if check_every_n_steps < 1:
            raise ConfigError(f"check_every_n_steps={check_every_n_steps} must be a positive integer")
        self.every = check_every_n_steps
        self._losses: list[torch.Tensor] = []
        self._steps: list[int] = []
        self._lrs: list[float | None] = []  # the rate each recorded step used (a schedule moves it after)
        self._last_lr: float | None = None
        self._steps_before = 0
        self._started = time.time()  # when the fit began: checkpoints older than that are another run's

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.time()

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        # the rate this step uses: Lightning steps the schedules before on_train_batch_end
        self._last_lr = _current_lr(trainer)
        self._steps_before = trainer.global_step  # the updates behind the weights this batch's loss is computed on

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        self._losses.append(loss.detach())
        self._steps.append(self._steps_before)
        self._lrs.append(self._last_lr)
        if len(self._losses) >= self.every:
            self._check(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)
        self._check_weights(trainer, pl_module, "validation")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        if trainer.state.fn != "fit":
            self._refuse_non_finite_score(trainer, pl_module, "val")
            return
        loss = trainer.callback_metrics.get("val/loss")
        if loss is not None and not bool(torch.isfinite(loss).all()):
            self._check_weights(trainer, pl_module, "early stopping and checkpoints saw the validation loss")
            raise NonFiniteLossError(
                f"the validation loss became {float(loss)} at epoch {trainer.current_epoch} (optimizer step "
                f"{trainer.global_step}) although the weights are finite: the model's outputs overflow. "
                f"{self._advice(trainer)}"
            )

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # whatever ended the fit (no validation or checkpoint after its last update, say), its
        # weights are checked before the fit counts as done and anything is tested
        self._check(trainer)
        self._check_weights(trainer, pl_module, "the end of the fit")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._refuse_non_finite_score(trainer, pl_module, "test")

    def _refuse_non_finite_score(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """An evaluation whose loss is NaN or infinite fails: finite but huge weights (a fit that
        diverged between two checks) make every output overflow, and the scores of such a model
        mean nothing."""
        loss = trainer.callback_metrics.get(f"{stage}/loss")
        if loss is None or bool(torch.isfinite(loss).all()):
            return
        bad = first_non_finite(pl_module)
        weights = f"{trainer.ckpt_path}'s weights" if trainer.ckpt_path else "the weights"
        state = (
            f"{weights} hold NaN or infinite values ({bad})"
            if bad
            else f"{weights} are finite, but its outputs overflow"
        )
        _drop_unwritten_rows(trainer, f"{stage}/loss")
        raise NonFiniteLossError(
            f"{stage}/loss is {float(loss)}: the model's outputs on the {_STAGE_DATA[stage]} are NaN or infinite "
            f"({state}), so its scores mean nothing. Likely causes: {overflow_causes(pl_module)}"
        )

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        self._check(trainer)
        self._check_weights(trainer, pl_module, "writing a checkpoint")

    def _check_weights(self, trainer: L.Trainer, pl_module: L.LightningModule, before: str) -> None:
        name = first_non_finite(pl_module, trainer.optimizers if trainer.state.fn == "fit" else ())
        bad = torch.tensor(0.0 if name is None else 1.0, device=trainer.strategy.root_device)
        if trainer.world_size > 1 and trainer.state.fn == "fit":  # any rank's bad weights stop every rank
            bad = trainer.strategy.reduce(bad, reduce_op="max")
        if not bool(bad):
            return
        what = "the weights"
        if name and name.startswith(OPTIMIZER_STATE):
            what, name = "the optimizer's state", name[len(OPTIMIZER_STATE) :]
        raise NonFiniteLossError(
            f"{what} became NaN or infinite ({name or 'on another process'}) by optimizer step "
            f"{trainer.global_step}, epoch {last_trained_epoch(trainer)}; stopped before {before}. "
            f"{self._advice(trainer)}"
        )

    def _advice(self, trainer: L.Trainer, lr: float | None = None) -> str:
        """Likely causes and fixes; ``lr``: the rate of the step that failed (default: of the
        last step taken, which made the weights what they are)."""
        if getattr(trainer.lightning_module, "exact_pass", False):  # solved in closed form: no learning rate
            return (
                "Likely causes: extreme values in the inputs or targets, which the model's design matrix cannot "
                "hold (standardise or rescale them), or a basis too large for the data (a lower degree or fewer "
                "knots). No checkpoint was written after it; the last finite one is kept "
                f"({_last_checkpoint(trainer, self._started)})."
            )
        lr = lr if lr is not None else self._last_lr if self._last_lr is not None else _current_lr(trainer)
        option, value = "--optimizer.lr", lr
        for config in getattr(trainer, "lr_scheduler_configs", None) or []:
            peak = getattr(config.scheduler, "max_lr", None)  # a one-cycle schedule sets the rate itself
            if isinstance(peak, (list, tuple)):
                peak = peak[0] if peak else None
            if isinstance(peak, (int, float)):
                option, value = "--lr_scheduler.max_lr", float(peak)
        said = f"lr={lr:.3g}" if lr is not None else "lr unknown"
        if option != "--optimizer.lr":
            said += f" under a schedule peaking at {value:.3g}"
        fix = f"try 10x lower, e.g. {option} {value / 10:.3g}" if value is not None else f"lower {option}"
        return (
            f"Likely causes: a learning rate too high for this model ({said}; {fix}), or extreme values in "
            "the inputs or targets (standardise them). "
            "No checkpoint was written after it; the last finite one is kept "
            f"({_last_checkpoint(trainer, self._started)})."
        )

    def _check(self, trainer: L.Trainer) -> None:
        if not trainer.training and not trainer.validating and not trainer.sanity_checking:
            return  # checkpoints saved outside fit have no training loss to check
        losses, steps, lrs = self._losses, self._steps, self._lrs
        self._losses, self._steps, self._lrs = [], [], []
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
        lr = lrs[steps.index(int(step))] if int(step) in steps else None  # another rank's step: not known here
        after = f"after optimizer step {int(step)}" if int(step) else "before the first optimizer step"
        raise NonFiniteLossError(
            f"the training loss became NaN or infinite at epoch {last_trained_epoch(trainer)}, {after}. "
            f"{self._advice(trainer, lr)}"
        )


_STAGE_DATA = {"val": "validation data", "test": "test data"}


def overflow_causes(pl_module: Any) -> str:
    """Why a model's outputs are NaN or infinite, for an evaluation or a predict that refuses them."""
    if getattr(pl_module, "exact_pass", False):  # solved in closed form: no learning rate
        return (
            "inputs far outside the range of the data it was fitted on, or values its design matrix cannot "
            "hold (standardise or rescale them)"
        )
    return (
        "a fit that diverged (fit again with a learning rate 10x lower), or inputs far outside the range of "
        "the data it was fitted on"
    )


def _drop_unwritten_rows(trainer: L.Trainer, key: str) -> None:
    """The CSV rows of a refused evaluation (its NaN scores) are not kept: those still held are
    dropped, and those a logger has written already (it writes on a clock) are taken out of
    its metrics.csv, so that the file keeps the run's results, not scores that mean nothing."""
    from econdl.files import write_atomic
    from econdl.loggers import complete_rows, csv_text

    for logger in trainer.loggers:
        writer = getattr(logger, "_experiment", None)
        rows = getattr(writer, "metrics", None)
        if isinstance(rows, list):
            rows[:] = [r for r in rows if not _non_finite(r.get(key))]
        path = Path(str(getattr(writer, "metrics_file_path", "")))
        if trainer.is_global_zero and path.name == "metrics.csv" and path.is_file():
            written = complete_rows(path)
            kept = [r for r in written if not _non_finite(r.get(key))]
            if len(kept) < len(written):
                write_atomic(path, csv_text(list(written[0].keys()), kept))


def _non_finite(value: Any) -> bool:
    try:
        return value not in (None, "") and not math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def last_trained_epoch(trainer: L.Trainer) -> int:
    """The epoch whose steps made the weights what they are: the one running, or, between two
    epochs and after the fit (where Lightning's ``current_epoch`` already counts the next
    one), the one that ended last."""
    progress: Any = trainer.fit_loop.epoch_progress.current  # a processed tracker
    return progress.processed if progress.started > progress.processed else max(progress.processed - 1, 0)


def _current_lr(trainer: L.Trainer) -> float | None:
    """The first optimizer's learning rate now."""
    for opt in trainer.optimizers:
        for group in opt.param_groups:
            return float(group["lr"])
    return None


def _last_checkpoint(trainer: L.Trainer, since: float) -> str:
    """Where the last finite resume point is, for the message: the fit's last.ckpt, or else the
    newest checkpoint on disk that this run wrote: one its ModelCheckpoints record, or one they
    wrote since the fit started (``since``, a ``time.time()``), not another run's in a shared
    folder.  (A ModelCheckpoint records the path of the save this guard refused before it saves,
    so its ``best_model_path`` may name a file that was never written.)"""
    for cb in callbacks_of(trainer):
        path = getattr(cb, "last_path", "")
        if path and Path(path).is_file():
            return str(path)
    recorded: set[Path] = set()
    folders: set[Path] = set()
    for cb in trainer.checkpoint_callbacks:
        recorded |= {Path(p) for p in getattr(cb, "best_k_models", {})}
        recorded |= {Path(p) for k in ("best_model_path", "last_model_path") if (p := getattr(cb, k, ""))}
        if folder := getattr(cb, "dirpath", None):
            folders.add(Path(folder))
    since_ns = int(since * 1e9)
    fresh = {p for folder in folders for p in folder.glob("*.ckpt") if p.is_file() and p.stat().st_mtime_ns >= since_ns}
    written = [p for p in recorded | fresh if p.is_file()]
    return str(max(written, key=lambda p: p.stat().st_mtime_ns)) if written else "none written yet"
