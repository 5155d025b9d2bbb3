"""``last.ckpt``: the state a killed fit resumes from, exactly.

The checkpoint is taken only at an epoch boundary, after everything that closes an epoch
has run (validation, early stopping, the best checkpoint, the learning-rate scheduler's
epoch step), so a resumed fit reruns the interrupted epoch from its start and makes the
same draws as the uninterrupted one.  Lightning's usual ``last.ckpt`` is written in
``on_train_epoch_end``, before the scheduler's epoch step; a resumed ReduceLROnPlateau then
misses that step and the runs part ways after a few epochs.

Writing costs time (the file is flushed to disk), so it happens on a clock: at the first
epoch boundary ``every_seconds`` after the previous write, at the end of the fit, and when
the process gets SIGTERM or SIGINT (Ctrl+C), where the running epoch is finished first.
A SIGKILL loses at most ``every_seconds`` plus one epoch of work.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, Timer
from lightning.pytorch.callbacks.timer import Interval
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loops.loop import _Loop

from econdl import interrupt
from econdl.attached import datamodule_of
from econdl.rng import collect_rng_state, owned_generators, restore_rng_state, seed_rank
from econdl.callbacks.guards import last_trained_epoch
from econdl.errors import ConfigError
from econdl.files import remove_leftovers, write_atomic
from econdl.loggers import carry_rows, flush_logger

STATE_KEY = "econdl_resume"


def _train_loaders(trainer: L.Trainer) -> list[Any]:
    combined = getattr(trainer.fit_loop, "_combined_loader", None)
    return list(combined.flattened) if combined is not None else []


def _loader_seeds(trainer: L.Trainer) -> list[int | None]:
    """The shuffling seed of each training loader (econdl's batches draw their order from it)."""
    return [getattr(getattr(dl, "sampler", None), "seed", None) for dl in _train_loaders(trainer)]


def follow_moved_run(trainer: L.Trainer, checkpoint: dict) -> None:
    """A run directory moved or copied elsewhere (a renamed folder, another machine, an absolute
    ``default_root_dir`` that changed) and resumed from its own ``last.ckpt``: point the saved
    ModelCheckpoint states at the folder the run is in now.  Lightning would otherwise drop
    their best score on a changed folder, so the resumed fit would take its next epoch for the
    best one and keep the old best file beside it."""
    resumed = Path(str(trainer.ckpt_path or "")).resolve().parent
    saved = checkpoint.get("callbacks", {})
    for callback in trainer.checkpoint_callbacks:
        if not isinstance(callback, ModelCheckpoint) or callback.dirpath is None:
            continue
        state = saved.get(callback.state_key)
        if not state or not state.get("dirpath") or state["dirpath"] == callback.dirpath:
            continue
        if Path(callback.dirpath).resolve() != resumed:
            continue  # not this run's own folder: Lightning's rule (keep only the best path)
        old, new = str(state["dirpath"]), str(callback.dirpath)

        def moved(path: Any, old: str = old, new: str = new) -> Any:
            if isinstance(path, str) and path.startswith(old + os.sep):
                return new + path[len(old) :]
            return path

        state["dirpath"] = new
        for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
            if key in state:
                state[key] = moved(state[key])
        if isinstance(state.get("best_k_models"), dict):
            state["best_k_models"] = {moved(k): v for k, v in state["best_k_models"].items()}


def remove_superseded(trainer: L.Trainer, checkpoint: dict, last: Path) -> None:
    """Checkpoints that the killed process wrote after ``last`` (the run's last.ckpt, when it is
    what the fit resumes from), into that run's own folder, and that no ModelCheckpoint state in
    it refers to: the rerun of those epochs writes them again, and Lightning's version counter
    would otherwise keep the old file beside the new one (``top-epoch=003-v1.ckpt``) in a folder
    that should equal an uninterrupted run's.  (The default best checkpoint, without a version
    counter, is simply overwritten.)  A fit resumed from any other file deletes nothing."""
    resumed = Path(str(trainer.ckpt_path or ""))
    if not resumed.is_file() or not last.is_file() or resumed.resolve() != last.resolve():
        return
    folder, written = resumed.resolve().parent, resumed.stat().st_mtime
    known: set[Path] = set()
    for state in checkpoint.get("callbacks", {}).values():
        if isinstance(state, dict) and "best_k_models" in state:
            paths = [*state.get("best_k_models", {}), *(state.get(k) for k in ("best_model_path", "last_model_path"))]
            known |= {Path(str(path)).resolve() for path in paths if path}
    for callback in trainer.checkpoint_callbacks:
        if not isinstance(callback, ModelCheckpoint) or callback.dirpath is None:
            continue
        if Path(callback.dirpath).resolve() != folder:
            continue  # only the resumed run's own folder
        for path in folder.glob("*.ckpt"):
            if path.resolve() not in known and path.resolve() != resumed.resolve() and path.stat().st_mtime > written:
                path.unlink(missing_ok=True)
        return


class _RunFiles:
    """The files of a run that a resumed fit rewrites before it trains (metrics.csv, to drop
    the rows it logs again, and config.yaml), as they were, with the stamps of the checkpoints
    beside the resume point: while none of them has changed, the run is still what it was."""

    NAMES = ("metrics.csv", "config.yaml")

    def __init__(self, last: Path, files: dict[Path, bytes | None]) -> None:
        self.last, self.files = last, files
        self.stamps = _stamps(last.parent)

    @classmethod
    def read(cls, trainer: L.Trainer, last: Path) -> _RunFiles | None:
        # the first logger's folder, as trainer.log_dir finds it (which broadcasts it: a
        # collective that this process, the only one reading the files, must not enter)
        dirs = [getattr(lg, "log_dir", None) for lg in trainer.loggers[:1]]
        folder = Path(dirs[0]) if dirs and dirs[0] else None
        if folder is None or not last.is_file():
            return None
        files = {folder / n: (folder / n).read_bytes() if (folder / n).is_file() else None for n in cls.NAMES}
        return cls(last, files)

    def checkpoints_unchanged(self) -> bool:
        """Whether the fit has written (or removed) no checkpoint since: no last.ckpt, and no
        best checkpoint, which a resumed fit may write long before its first last.ckpt."""
        return _stamps(self.last.parent) == self.stamps

    def put_back(self, trainer: L.Trainer) -> None:
        from econdl.loggers import TensorBoardLogger

        for logger in trainer.loggers:  # nothing the failed resume logged is written after this
            rows = getattr(getattr(logger, "_experiment", None), "metrics", None)
            if isinstance(logger, CSVLogger) and isinstance(rows, list):
                rows.clear()
            if isinstance(logger, TensorBoardLogger):
                logger._logged = False  # its event file, of this process, goes when the logger closes
        for path, data in self.files.items():
            if data is None:
                path.unlink(missing_ok=True)
            else:
                write_atomic(path, data)


def _stamps(folder: Path) -> dict[str, tuple[int, int]]:
    """Each checkpoint file in ``folder`` with its modification time and size."""
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.glob("*.ckpt") if p.is_file()}


def _timers(trainer: L.Trainer) -> list[Timer]:
    return [c for c in trainer.callbacks if isinstance(c, Timer)]  # type: ignore[attr-defined]


def _time_is_up(trainer: L.Trainer) -> bool:
    """Whether a time limit (``--trainer.max_time``) has run out."""
    return any((t.time_remaining() or 0.0) <= 0 for t in _timers(trainer) if t._duration is not None)


def _refuse_spent_time_limit(trainer: L.Trainer, checkpoint: dict) -> None:
    """A resume whose time limit the fit so far has used up would train nothing (Lightning's
    Timer counts the whole fit): a one-line error, before the run's files are touched."""
    limits = [t._duration for t in _timers(trainer) if t._duration is not None]
    saved = checkpoint.get("callbacks", {}).get("Timer", {}).get("time_elapsed", {}).get("train")
    if limits and saved is not None and saved >= min(limits):
        raise ConfigError(
            f"--trainer.max_time {timedelta(seconds=round(min(limits)))} is spent already: the fit so far took "
            f"{timedelta(seconds=round(saved))} (the limit counts the whole fit, resumed parts included), so this "
            "resume would train nothing; resume with a larger --trainer.max_time, or none"
        )


def _at_its_end(trainer: L.Trainer) -> bool:
    """Whether the fit ended where it would have ended anyway: its epoch or step limit reached,
    or stopped early by a callback of its own (EarlyStopping)."""
    loop = trainer.fit_loop
    epochs_done = loop.max_epochs is not None and 0 <= loop.max_epochs <= trainer.current_epoch
    steps_done = 0 <= trainer.max_steps <= trainer.global_step
    stopped = any(getattr(c, "stopped_epoch", 0) > 0 for c in trainer.callbacks)  # type: ignore[attr-defined]
    return epochs_done or steps_done or stopped


class ResumeCheckpoint(L.Callback):
    """Writes ``checkpoints/last.ckpt`` at epoch boundaries, every ``every_seconds`` at most,
    at the end of the fit and on SIGTERM/SIGINT, holding every process's random-number state;
    restores that state when a fit resumes from it.  A time limit (``--trainer.max_time``) is
    checked at the end of each epoch, so that it too stops the fit where last.ckpt resumes
    exactly, and a fit it ended is resumed (it is not taken for one that early stopping ended).
    Under DDP, each process's stream is seeded apart when training starts
    (``econdl.rng.seed_rank``), so ranks draw their own dropout masks and augmentation.

    Args:
        every_seconds: least time between two writes during a fit (0: every epoch).
        filename: the checkpoint's file name, next to the best checkpoint.
    """

    def __init__(self, every_seconds: float = 300.0, filename: str = "last.ckpt") -> None:
        if every_seconds < 0:
            raise ConfigError(f"every_seconds={every_seconds} must be 0 (every epoch) or more")
        self.every_seconds, self.filename = every_seconds, filename
        self.last_path = ""
        self._last_write = 0.0
        self._boundary = False
        self._writing = False  # inside this callback's own save (a best checkpoint is ModelCheckpoint's)
        self._finished = False
        self._timed_out = False  # --trainer.max_time ended the fit
        self._stop_signal: str | None = None
        self._previous_handlers: dict[int, Any] = {}
        self._set_handlers: dict[int, Any] = {}  # what this callback installed, to give back only that
        self._pending: dict[str, Any] | None = None
        self._before_resume: _RunFiles | None = None

    # --- when to write ----------------------------------------------------------------
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.world_size > 1 and self._pending is None:  # a resumed fit restores its states instead
            seed_rank(trainer.global_rank)
        for timer in _timers(trainer):  # --trainer.max_time: stop between epochs, where last.ckpt resumes exactly
            timer._interval = Interval.epoch
        self._last_write = time.monotonic()
        self._stop_signal = None  # this callback's earlier fit (a notebook's) may have been stopped
        if interrupt.driver() is None:  # a fit of its own (a notebook's next one, say): no earlier stop
            interrupt.reset()
        self._install_handlers()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._pending is not None:  # the first epoch of a resumed fit: where the saved state was taken
            self._restore(trainer, pl_module)
            return
        if trainer.current_epoch == 0:
            return
        due = time.monotonic() - self._last_write >= self.every_seconds
        flags = torch.tensor([float(due), float(self._stop_signal is not None)], device=pl_module.device)
        if trainer.world_size > 1:  # every rank must take the same decision (the save is collective)
            flags = trainer.strategy.reduce(flags, reduce_op="max")
        if bool(flags.any()):
            self._save(trainer, boundary=True)
        if bool(flags[1]):
            self._stop(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._finished = True
        self._timed_out = _time_is_up(trainer) and not _at_its_end(trainer)
        # between epochs too, unless --trainer.max_steps ended the fit inside its last epoch
        self._save(trainer, boundary=trainer.fit_loop.epoch_loop.batch_progress.is_last_batch)
        # a signal in the last epoch stops too: the fit is complete, the test after it is not run
        stop = torch.tensor([float(self._stop_signal is not None)], device=pl_module.device)
        if trainer.world_size > 1:
            stop = trainer.strategy.reduce(stop, reduce_op="max")
        if bool(stop):
            self._stop(trainer)
        if self._timed_out and trainer.is_global_zero and interrupt.driver() is None:
            print(
                f"econdl: --trainer.max_time ended the fit after epoch {trainer.current_epoch - 1}, before it was "
                "complete; resume it with --ckpt_path last and a larger --trainer.max_time (the limit counts the "
                f"time of the fit so far) or none ({self.last_path})",
                file=sys.stderr,
                flush=True,
            )

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # give back the handlers found at the start, unless something has replaced ours since
        # (Lightning's own, given back when the trainer tore down, must not come back after it)
        for signum, handler in self._previous_handlers.items():
            if signal.getsignal(signum) == self._set_handlers.get(signum):
                signal.signal(signum, handler)
        self._previous_handlers, self._set_handlers = {}, {}

    # --- signals: finish the epoch, write, stop ------------------------------------------
    def _install_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            if signal.getsignal(signum) == signal.SIG_IGN:
                # ignored on purpose: a job a shell started in the background ignores Ctrl+C, and a
                # worker of econdl compare leaves Ctrl+C to its main process, which stops it
                continue
            self._previous_handlers[signum] = signal.getsignal(signum)
            signal.signal(signum, self._on_signal)
            self._set_handlers[signum] = self._on_signal

    def _on_signal(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        self._stop_signal = self._stop_signal or name
        interrupt.request(self._stop_signal)
        if interrupt.quiet():
            # A worker process of a command (compare): its main process stops it, with SIGKILL
            # after a grace period.  More signals than one reach it without anyone sending one
            # "again" (a process group's SIGTERM and the main process's own; the one its parent's
            # death sends and one from the process that adopts it), and none may cut the epoch or
            # the write of last.ckpt short: this handler stays.
            return
        # a second signal stops at once (Ctrl+C raises KeyboardInterrupt, SIGTERM terminates)
        again = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
        signal.signal(signum, again)
        self._set_handlers[signum] = again
        # a comparison's or a sweep's fit is run anew, not resumed: its last.ckpt is not the point
        then = "stopping" if interrupt.driver() else f"writing {self.filename} and stopping"
        print(
            f"econdl: {name} received: finishing this epoch, then {then} "
            f"(send {name} again to stop at once and lose the epoch)",
            file=sys.stderr,
            flush=True,
        )

    def _stop(self, trainer: L.Trainer) -> None:
        if interrupt.driver() is None:  # compare and sweep say how to go on
            how = (
                "the fit is complete; the test after it was not run (--ckpt_path last runs it)"
                if self._finished
                else "resume with --ckpt_path last"
            )
            line = f"econdl: stopped by {self._stop_signal or 'a signal'}; {how} ({self.last_path})"
            interrupt.tell(line, show=trainer.is_global_zero)
        raise KeyboardInterrupt(f"stopped by {self._stop_signal}")

    # --- writing ----------------------------------------------------------------------
    def dirpath(self, trainer: L.Trainer) -> Path:
        """The best checkpoint's folder, or ``<log dir>/checkpoints`` as Lightning would choose."""
        best = trainer.checkpoint_callback
        folder = getattr(best, "dirpath", None)  # a ModelCheckpoint's; the Checkpoint base has none
        if folder:
            return Path(folder)
        if trainer.loggers:
            logger = trainer.loggers[0]
            version = logger.version if isinstance(logger.version, str) else f"version_{logger.version}"
            return Path(logger.save_dir or trainer.default_root_dir) / str(logger.name) / version / "checkpoints"
        return Path(trainer.default_root_dir) / "checkpoints"

    def _save(self, trainer: L.Trainer, boundary: bool) -> None:
        if getattr(trainer, "fast_dev_run", False):  # a trial run writes no checkpoint (as Lightning's ModelCheckpoint)
            return
        path = self.dirpath(trainer) / self.filename
        for logger in trainer.loggers:  # rows logged up to here must be on disk with the checkpoint
            flush_logger(logger)
        self._boundary, self._writing = boundary, True
        try:
            trainer.save_checkpoint(path, weights_only=False)  # the full state: resume needs all of it
        finally:
            self._boundary, self._writing = False, False
        self._last_write = time.monotonic()
        self.last_path = str(path)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        """Every checkpoint gets each process's random-number state; ``last.ckpt`` also gets
        the loop counters of a finished epoch (Lightning has already counted the next one as
        ready when ``on_train_epoch_start`` runs)."""
        rng = collect_rng_state(owned_generators(datamodule_of(trainer), pl_module))
        states: list[dict[str, Any] | None] = [rng]  # None: slots all_gather_object fills
        if trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            states = [None] * trainer.world_size
            torch.distributed.all_gather_object(states, rng)
        checkpoint[STATE_KEY] = {
            "rng": states,
            "loader_seeds": _loader_seeds(trainer),
            "metrics_step": trainer.fit_loop.epoch_loop._batches_that_stepped,
            # stopped early (not by max_epochs or max_time, which a resume may raise): do not train on
            "fit_done": self._finished and trainer.should_stop and not self._timed_out,
            "boundary": self._boundary,  # between two epochs: nothing of the next one has run
            "trained_epoch": last_trained_epoch(trainer),  # the epoch of the last step taken
            # this callback's own write inside an epoch: at the end of a fit that max_steps stopped there
            "inside_epoch": self._writing and not self._boundary,
        }
        if self._boundary:
            progress = checkpoint["loops"]["fit_loop"]["epoch_progress"]
            for part in ("total", "current"):
                progress[part]["ready"] = progress[part]["started"]

    # --- resuming ---------------------------------------------------------------------
    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        state = checkpoint.get(STATE_KEY)
        if state is None or trainer.state.fn != "fit":
            return
        _refuse_spent_time_limit(trainer, checkpoint)  # before anything of the run is touched
        if state["fit_done"]:
            trainer.should_stop = True  # the fit had ended (early stopping included): do not train on
        self._pending = state
        follow_moved_run(trainer, checkpoint)
        last = self.dirpath(trainer) / self.filename
        if last.is_file() and Path(str(trainer.ckpt_path or "")).resolve() == last.resolve():
            self.last_path = str(last)  # the resume point, until this fit writes a newer one
        if trainer.is_global_zero:
            remove_leftovers(self.dirpath(trainer))  # checkpoint writes a kill cut short
            remove_superseded(trainer, checkpoint, last)
            self._before_resume = _RunFiles.read(trainer, last)
            for logger in trainer.loggers:
                if isinstance(logger, CSVLogger):
                    carry_rows(logger, before_step=state["metrics_step"])  # the fit logs the later ones again

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        """A resumed fit that fails before it writes a checkpoint of its own (the guard stops it,
        say) leaves its run as it found it: the rows it dropped from metrics.csv, to log them
        again, and the config.yaml it wrote are put back, since the run still resumes from
        the same last.ckpt."""
        before, self._before_resume = self._before_resume, None
        if before is not None and before.checkpoints_unchanged():
            before.put_back(trainer)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._before_resume = None  # the resumed fit ended well: its files are the run's now

    def _restore(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        state, self._pending = self._pending, None
        assert state is not None
        if state.get("boundary"):
            # A fit limited by --trainer.max_steps is always "restarting" for Lightning (its
            # checkpoints may fall inside an epoch), which would take this checkpoint, written
            # after the previous epoch ended, for that epoch's end again and skip the new one.
            # Nothing of this epoch has run: resume it as a fit limited by epochs does.
            _Loop.restarting.fset(trainer.fit_loop, False)  # type: ignore[attr-defined]
        self._last_write = time.monotonic()
        not_restored: list[str] = []
        states = state["rng"]
        if len(states) == trainer.world_size:
            generators = owned_generators(datamodule_of(trainer), pl_module)
            not_restored += restore_rng_state(states[trainer.global_rank], generators)
        else:
            not_restored.append(
                f"random-number state (saved by {len(states)} processes, resumed on {trainer.world_size})"
            )
            if trainer.world_size > 1:  # at least keep the processes' streams apart
                seed_rank(trainer.global_rank)
        if state.get("inside_epoch") and not state.get("fit_done"):
            not_restored.append(
                f"the place inside epoch {state['trained_epoch']} where the checkpoint was written "
                "(--trainer.max_steps "
                "ended the fit there, not between two epochs); the rest of that epoch is trained as Lightning "
                "resumes it, not as the longer fit would have"
            )
        for loader, seed in zip(_train_loaders(trainer), state["loader_seeds"], strict=False):
            if seed is not None and hasattr(getattr(loader, "sampler", None), "seed"):
                loader.sampler.seed = seed
        if not_restored and trainer.is_global_zero:
            print(f"econdl: resume is not exact: could not restore {'; '.join(not_restored)}", file=sys.stderr)
