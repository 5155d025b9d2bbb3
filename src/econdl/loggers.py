"""CSV and TensorBoard loggers that write to disk on a clock instead of after every call.

Lightning calls a logger's ``save()`` after every ``log_metrics``: for the CSV logger an
open, append and close of ``metrics.csv``, for TensorBoard a flush of the event file, each
several times an epoch.  For the small models here an epoch takes a few milliseconds, and
those writes were a good part of it.  These loggers keep the rows in memory and write them:

- with the first row logged ``flush_seconds`` or more after the previous write (the first
  call writes at once);
- before every ``last.ckpt`` (``econdl.callbacks.ResumeCheckpoint`` calls ``flush``), so a
  checkpoint never holds a step whose rows the files lack;
- when the run ends, fails or is interrupted (Lightning's ``finalize``), Ctrl+C and one
  SIGTERM included, and when a worker process of ``ddp_spawn``/``ddp_fork`` exits.

The clock is checked when a row is logged: held rows go out with the first row logged
``flush_seconds`` or more after the previous write.  What kills the process without
Python's clean-up (SIGKILL, a second SIGTERM, a closed terminal's SIGHUP, a power cut)
loses the rows held since the last write; a fit resumed from ``last.ckpt`` logs them
again.  ``flush_seconds: 0`` writes after every call, as Lightning's own loggers do.

``metrics.csv`` is never torn: rows are appended, and every rewrite of the whole file (a new
column, a resumed run keeping the rows its checkpoint covers) goes to a temporary file that
is renamed over it, so a kill at any moment leaves every row written before it.
"""

from __future__ import annotations

import csv
import io
import math
import multiprocessing
import multiprocessing.util
import os
import time
from pathlib import Path
from typing import Any

from fsspec.implementations.local import LocalFileSystem  # type: ignore[import-untyped]
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger as _LightningCSVLogger
from lightning.pytorch.loggers import TensorBoardLogger as _LightningTensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.utilities.rank_zero import rank_zero_warn

from econdl.errors import ConfigError
from econdl.files import remove_leftovers, write_atomic

__all__ = ["CSVLogger", "TensorBoardLogger", "carry_rows", "flush_logger"]


class _WritesOnAClock:
    """``save()`` writes when it is called ``flush_seconds`` or more after the last write;
    ``flush()`` and ``finalize()`` always write."""

    flush_seconds: float
    _last_write: float
    _forced: bool
    _exit_hook: bool

    def _clock(self, flush_seconds: float) -> None:
        if not (isinstance(flush_seconds, (int, float)) and flush_seconds >= 0 and math.isfinite(flush_seconds)):
            raise ConfigError(
                f"flush_seconds={flush_seconds!r}: give the least number of seconds between two writes of the "
                "log files, 0 or more (0: after every logged row, as Lightning's loggers do)"
            )
        self.flush_seconds = float(flush_seconds)
        self._last_write = -math.inf
        self._forced = False
        self._exit_hook = False

    def save(self) -> None:
        if not self._exit_hook and multiprocessing.parent_process() is not None:
            # A worker process of Lightning's ddp_spawn/ddp_fork runs the fit without the
            # error handling that calls finalize(): write what is held when the worker exits.
            multiprocessing.util.Finalize(self, self.flush, exitpriority=10)
            self._exit_hook = True
        if self._forced or time.monotonic() - self._last_write >= self.flush_seconds:
            super().save()  # type: ignore[misc]
            self._last_write = time.monotonic()

    def flush(self) -> None:
        """Write everything logged so far, now."""
        self._forced = True
        try:
            self.save()
        finally:
            self._forced = False

    def finalize(self, status: str) -> None:
        self._forced = True
        try:
            super().finalize(status)  # type: ignore[misc]
        finally:
            self._forced = False


def complete_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a metrics.csv, without a last line that a kill cut short."""
    text = Path(path).read_text(encoding="utf-8")
    if not text.endswith("\n"):  # the last append was interrupted
        text = text[: text.rfind("\n") + 1]
    return [r for r in csv.DictReader(io.StringIO(text, newline="")) if None not in r.values()]


def csv_text(keys: list[str], rows: list[dict[str, Any]]) -> str:
    """A whole metrics.csv, header included, as Lightning's CSV writer formats it."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


class _MetricsWriter(ExperimentWriter):
    """Lightning's metrics.csv writer, except that no write can lose rows already on disk:
    a metrics.csv already in the run directory stays until the run's first rows replace it
    (Lightning deletes it when the writer opens), and a new column rewrites the file
    atomically (Lightning truncates it, then writes it again)."""

    def _check_log_dir_exists(self) -> None:
        self.stale = self._fs.isfile(self.metrics_file_path)  # another run's rows, or a resumed run's

    def save(self) -> None:
        if not isinstance(self._fs, LocalFileSystem):  # a remote save_dir: Lightning's writes
            self.stale = False
            super().save()
            return
        if not self.metrics:
            return
        new_keys = self._record_new_keys()
        if not os.path.isfile(self.metrics_file_path) or new_keys or self.stale:
            if self.stale:
                rank_zero_warn(
                    f"{self.metrics_file_path} held the rows of an earlier run; this run replaces them "
                    "(to continue that run instead, fit it again with --ckpt_path last)"
                )
                kept = []
            else:
                kept = complete_rows(self.metrics_file_path) if os.path.isfile(self.metrics_file_path) else []
            write_atomic(self.metrics_file_path, csv_text(self.metrics_keys, kept + self.metrics))
            self.stale = False
        else:
            with open(self.metrics_file_path, "a", newline="") as handle:
                csv.DictWriter(handle, fieldnames=self.metrics_keys).writerows(self.metrics)
        self.metrics = []


def carry_rows(logger: _LightningCSVLogger, before_step: int | None = None) -> None:
    """A resumed fit writes on into the metrics.csv of the run it resumes: keep the complete
    rows on disk, those logged before ``before_step`` when given (the step of the checkpoint
    resumed from: the fit logs the later ones again), and write them back atomically.

    With econdl's CSVLogger the file is never missing or torn, wherever a kill lands.
    Lightning's own CSVLogger deletes the file when its writer opens, so with it a kill
    between that moment and the write-back loses the rows."""
    path = Path(logger.log_dir) / "metrics.csv"
    remove_leftovers(path.parent)
    if not path.is_file():
        return
    rows = complete_rows(path)
    if before_step is not None:
        rows = [r for r in rows if r.get("step") and int(float(r["step"])) < before_step]
    writer = logger.experiment
    writer.metrics_keys = sorted({k for r in rows for k, v in r.items() if v != ""})
    if rows:
        write_atomic(path, csv_text(writer.metrics_keys, rows))
    elif path.is_file():  # every row is one the fit logs again
        path.unlink()
    writer.stale = False


class CSVLogger(_WritesOnAClock, _LightningCSVLogger):
    """Lightning's ``CSVLogger`` (``metrics.csv``, ``hparams.yaml``), written on a clock.

    Args:
        save_dir, version, prefix, flush_logs_every_n_steps: as Lightning's.
        name: the run's folder under ``save_dir``; None (default): ``<task>/<model>`` from the
            config under the ``econdl`` command (none outside it).
        flush_seconds: least time between two writes of ``metrics.csv`` during a run
            (0: after every logged row); everything is written at the end of the run,
            before every ``last.ckpt`` and when it fails or is interrupted.
    """

    def __init__(
        self,
        save_dir: str | Path,
        name: str | None = None,
        version: int | str | None = None,
        prefix: str = "",
        flush_logs_every_n_steps: int = 100,
        flush_seconds: float = 10.0,
    ) -> None:
        self._clock(flush_seconds)
        super().__init__(
            save_dir=save_dir,
            name=name,
            version=version,
            prefix=prefix,
            flush_logs_every_n_steps=flush_logs_every_n_steps,
        )

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        """The metrics.csv writer (see ``_MetricsWriter``)."""
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _MetricsWriter(log_dir=self.log_dir)
        return self._experiment


class TensorBoardLogger(_WritesOnAClock, _LightningTensorBoardLogger):
    """Lightning's ``TensorBoardLogger``, its event file flushed on a clock.

    Args:
        save_dir, version, log_graph, default_hp_metric, prefix, sub_dir, kwargs:
            as Lightning's (``kwargs`` go to TensorBoard's ``SummaryWriter``).
        name: as ``CSVLogger``'s.
        flush_seconds: least time between two flushes of the event file during a run
            (0: after every logged row); it is flushed and closed at the end of the run,
            before every ``last.ckpt`` and when it fails or is interrupted.
    """

    def __init__(
        self,
        save_dir: str | Path,
        name: str | None = None,
        version: int | str | None = None,
        log_graph: bool = False,
        default_hp_metric: bool = True,
        prefix: str = "",
        sub_dir: str | Path | None = None,
        flush_seconds: float = 10.0,
        **kwargs: Any,
    ) -> None:
        self._clock(flush_seconds)
        super().__init__(
            save_dir=save_dir,
            name=name,
            version=version,
            log_graph=log_graph,
            default_hp_metric=default_hp_metric,
            prefix=prefix,
            sub_dir=sub_dir,
            **kwargs,
        )
        self._logged = False

    def log_metrics(self, metrics: Any, step: int | None = None) -> None:
        self._logged = True
        super().log_metrics(metrics, step)

    def finalize(self, status: str) -> None:
        """A command that failed before logging anything (a resume refused as its checkpoint is
        restored, bad data) removes the empty event file it opened: a run's folder keeps only
        the files of the commands that ran in it."""
        writer = getattr(getattr(self._experiment, "file_writer", None), "event_writer", None)
        opened = getattr(writer, "_file_name", None)
        super().finalize(status)
        if status == "failed" and not self._logged and opened:
            Path(opened).unlink(missing_ok=True)


def flush_logger(logger: Any) -> None:
    """Write what ``logger`` holds now: ``flush()`` for econdl's loggers, ``save()`` for others."""
    if isinstance(logger, _WritesOnAClock):
        logger.flush()
    else:
        logger.save()
