"""Checkpoints that survive a killed process, and finding the one to resume from."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from econdl.files import temp_path


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file beside its target, flushes it to disk, then
    renames it over the target (an atomic step on POSIX file systems).  A process killed
    mid-save leaves the previous good ``last.ckpt`` in place, never a truncated one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        _refuse_non_finite_weights(checkpoint, path)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(target)
        try:
            with open(tmp, "wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()


def _refuse_non_finite_weights(checkpoint: dict[str, Any], path: Any) -> None:
    """No checkpoint on disk holds NaN or infinite weights.  ``FiniteLossGuard`` checks the
    weights before every full checkpoint (with the fit's likely causes); a weights-only one
    (``ModelCheckpoint(save_weights_only=True)``) is saved without the callbacks' hook, so the
    weights are checked here too, as they are written."""
    from econdl.callbacks.guards import NonFiniteLossError, first_non_finite_of

    weights = checkpoint.get("state_dict")
    if not isinstance(weights, dict):
        return
    named = [(k, v) for k, v in weights.items() if isinstance(v, torch.Tensor) and v.is_floating_point() and v.numel()]
    bad = first_non_finite_of(named)
    if bad is not None:
        raise NonFiniteLossError(
            f"the weights became NaN or infinite ({bad}); {path} was not written (no checkpoint holds non-finite "
            "weights). Likely causes: a learning rate too high for this model (lower --optimizer.lr, e.g. 10x), "
            "or extreme values in the inputs or targets (standardise them)"
        )


#: how the trainer defaults' ModelCheckpoint names the best epoch's file (``best-epoch007.ckpt``)
BEST_PREFIX = "best-"


def run_checkpoint(run: Path, which: str = "last") -> Path | None:
    """A run directory's ``last.ckpt`` (``which="last"``) or best checkpoint (``"best"``); None
    when it has none.  Where a run keeps several ``best-*.ckpt`` (``save_top_k`` > 1), the best
    is the one its ModelCheckpoint recorded in ``last.ckpt`` (or, without one, the newest file's
    record), not simply the newest file."""
    folder = run / "checkpoints"
    if which == "last":
        return folder / "last.ckpt" if (folder / "last.ckpt").is_file() else None
    best = sorted((p for p in folder.glob(f"{BEST_PREFIX}*.ckpt") if p.is_file()), key=lambda p: p.stat().st_mtime_ns)
    if len(best) <= 1:
        return best[0] if best else None
    for source in (folder / "last.ckpt", *reversed(best)):
        recorded = _recorded_best(source)
        if recorded is not None and (folder / recorded).is_file():
            return folder / recorded
    return best[-1]


def _recorded_best(ckpt: Path) -> str | None:
    """The file name of the best checkpoint that a checkpoint's ModelCheckpoint state records."""
    from econdl.checkpoint_check import read_checkpoint
    from econdl.errors import CheckpointError

    if not ckpt.is_file():
        return None
    try:
        states = read_checkpoint(ckpt).get("callbacks", {})
    except CheckpointError:
        return None
    for key, state in states.items():
        if str(key).startswith("ModelCheckpoint") and isinstance(state, dict) and state.get("best_model_path"):
            return Path(str(state["best_model_path"])).name
    return None


def run_folders(save_dir: Path, name: str) -> list[Path]:
    """The ``save_dir/name/version_N`` folders, by N."""
    prefix = "version_"
    numbered = [
        (int(p.name[len(prefix) :]), p)
        for p in (save_dir / name).glob(f"{prefix}*")
        if p.is_dir() and p.name[len(prefix) :].isdigit()
    ]
    return [p for _, p in sorted(numbered)]


def latest_run_with(save_dir: Path, name: str, which: str = "last") -> Path | None:
    """``save_dir/name/version_N`` with the highest N that holds the checkpoint ``which``
    (``last`` or ``best``, see :func:`run_checkpoint`)."""
    runs = [p for p in run_folders(save_dir, name) if run_checkpoint(p, which) is not None]
    return runs[-1] if runs else None


#: the loggers that write the run's folder (metrics.csv, TensorBoard events; econdl's or Lightning's)
FILE_LOGGERS = ("CSVLogger", "TensorBoardLogger")

#: the loggers' ``save_dir`` in the shipped trainer defaults; ``--trainer.default_root_dir``
#: moves the loggers that still have it (a save_dir set to anything else is the user's choice)
DEFAULT_SAVE_DIR = "logs"


def follow_default_root_dir(trainer_config: Any) -> None:
    """``--trainer.default_root_dir DIR``: file loggers left at the default save_dir write
    under DIR, so the run (logs and checkpoints) lands in ``DIR/<task>/<model>/version_N``.
    Lightning itself ignores default_root_dir once loggers name their own save_dir."""
    root = trainer_config.get("default_root_dir")
    loggers = trainer_config.get("logger")
    if not root or not isinstance(loggers, list):
        return
    moved = False
    for logger in loggers:
        args = getattr(logger, "init_args", None)
        if args is not None and str(args.get("save_dir")) == DEFAULT_SAVE_DIR:
            args.save_dir, moved = str(root), True
    chosen = {str(lg.init_args.save_dir) for lg in loggers if "save_dir" in getattr(lg, "init_args", {})}
    if not moved and chosen:
        print(f"default_root_dir {root}: the run goes to the loggers' save_dir, {', '.join(sorted(chosen))}")


def one_save_dir(trainer_config: Any) -> None:
    """One run, one folder: when the command line or a config gives one file logger a
    ``save_dir`` (``--trainer.logger.init_args.save_dir DIR`` reaches only the last logger of
    the list), the loggers still at the default ``logs`` write there too, so metrics.csv, the
    checkpoints and the TensorBoard events stay together and ``--ckpt_path last`` finds them."""
    loggers = trainer_config.get("logger")
    if not isinstance(loggers, list):
        return
    files = [
        lg
        for lg in loggers
        if str(getattr(lg, "class_path", "")).endswith(FILE_LOGGERS) and "save_dir" in getattr(lg, "init_args", {})
    ]
    chosen = {str(lg.init_args.save_dir) for lg in files} - {DEFAULT_SAVE_DIR}
    if len(chosen) != 1:
        return  # all at the default, or several folders chosen on purpose
    folder = next(iter(chosen))
    for lg in files:
        if str(lg.init_args.save_dir) == DEFAULT_SAVE_DIR:
            lg.init_args.save_dir = folder
            print(f"{str(lg.class_path).rsplit('.', 1)[-1]} writes to {folder} as well (the run's save_dir)")


#: metrics where higher is better (``--best_by`` maximises them)
MAXIMISED = frozenset({"acc", "accuracy", "r2", "auc", "f1"})


def best_by(trainer_config: Any, metric: str | None) -> None:
    """``--best_by val/acc``: the ModelCheckpoints still watching the default ``val/loss``
    keep the epoch with the best ``metric`` instead, so it is that epoch which ``econdl fit``
    tests.  Accuracy-like metrics are maximised, everything else minimised.

    ``--best_by last`` selects nothing: they keep the latest epoch, and the fit tests its final
    weights.  That suits a schedule that anneals the learning rate to zero (the one-cycle of the
    MNIST configs), whose last epoch is where it is meant to end: choosing among epochs on a
    small validation set mostly picks noise (on 667 validation images the most accurate
    epoch can be a mid-schedule one that tests 1.4 points worse).  EarlyStopping keeps
    watching its own metric."""
    from econdl.errors import ConfigError

    if metric is None:
        return
    if metric != "last" and not metric.startswith("val/"):
        raise ConfigError(
            f"--best_by {metric}: the best checkpoint is chosen on validation data; give a metric "
            "that starts with val/, e.g. val/acc or val/loss, or last (test the final weights)"
        )
    monitor = None if metric == "last" else metric
    mode = "max" if metric.rsplit("/", 1)[-1] in MAXIMISED else "min"
    for callback in trainer_config.get("callbacks") or []:
        args = getattr(callback, "init_args", None)
        is_best = str(getattr(callback, "class_path", "")).endswith(".ModelCheckpoint")
        if is_best and args is not None and args.get("monitor") == "val/loss":
            args.monitor, args.mode = monitor, mode
            if monitor is None:  # the weights at every epoch's end, validated or not (check_val_every_n_epoch,
                args.save_on_train_epoch_end = True  # val_check_interval): the last one a fit ends with


def keep_last_resume_callback(trainer_config: Any) -> None:
    """A ``ResumeCheckpoint`` added on the command line or in a config replaces the default
    one (``--trainer.callbacks+=econdl.callbacks.ResumeCheckpoint
    --trainer.callbacks.every_seconds 0``), rather than writing last.ckpt twice."""
    callbacks = trainer_config.get("callbacks")
    if not isinstance(callbacks, list):
        return
    is_resume = [str(getattr(c, "class_path", "")).endswith(".ResumeCheckpoint") for c in callbacks]
    if sum(is_resume) > 1:
        last = max(i for i, r in enumerate(is_resume) if r)
        trainer_config.callbacks = [c for i, c in enumerate(callbacks) if not is_resume[i] or i == last]
