"""econdl's CSV and TensorBoard loggers write on a clock (``flush_seconds``) instead of after
every logged row, and never later than a ``last.ckpt`` or the end of the run."""

from __future__ import annotations

import csv
import multiprocessing
import os
import multiprocessing.sharedctypes
import random
import time
from pathlib import Path

import lightning as L
import pytest
import torch

from econdl import loggers
from econdl.callbacks import ResumeCheckpoint
from econdl.callbacks.resume import STATE_KEY
from econdl.cli import cli_main
from econdl.errors import ConfigError
from helpers import CONFIGS, tiny_data


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(loggers.time, "monotonic", fake)
    return fake


def rows_on_disk(logger: loggers.CSVLogger) -> list[dict[str, str]]:
    path = Path(logger.log_dir) / "metrics.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def log(logger: L.pytorch.loggers.Logger, step: int) -> None:
    """As Lightning's logger connector does: log a row, then ``save()``."""
    logger.log_metrics({"val/loss": 1.0 / (step + 1)}, step=step)
    logger.save()


def test_csv_rows_reach_the_file_at_most_every_flush_seconds_and_all_at_finalize(tmp_path, clock) -> None:
    logger = loggers.CSVLogger(tmp_path, name="run", flush_seconds=10)
    log(logger, 0)
    assert [r["step"] for r in rows_on_disk(logger)] == ["0"]  # the first row is written at once
    clock.now += 4
    log(logger, 1)
    log(logger, 2)
    assert len(rows_on_disk(logger)) == 1  # held in memory
    clock.now += 6
    log(logger, 3)
    assert [r["step"] for r in rows_on_disk(logger)] == ["0", "1", "2", "3"]
    log(logger, 4)
    assert len(rows_on_disk(logger)) == 4
    logger.finalize("failed")  # an exception or Ctrl+C ends the run: nothing is lost
    assert [r["step"] for r in rows_on_disk(logger)] == ["0", "1", "2", "3", "4"]


def test_flush_seconds_zero_writes_every_row_as_lightnings_logger_does(tmp_path, clock) -> None:
    logger = loggers.CSVLogger(tmp_path, name="run", flush_seconds=0)
    for step in range(3):
        log(logger, step)
        assert len(rows_on_disk(logger)) == step + 1


def test_tensorboard_event_file_is_flushed_on_the_clock_and_at_finalize(tmp_path, clock, monkeypatch) -> None:
    logger = loggers.TensorBoardLogger(tmp_path, name="run", flush_seconds=10)
    flushes = []
    monkeypatch.setattr(logger.experiment, "flush", lambda: flushes.append(clock.now))
    for step in range(5):
        log(logger, step)
        clock.now += 3
    assert flushes == [1000.0, 1012.0]  # the first call, then once 10 s had passed
    logger.flush()
    assert len(flushes) == 3
    monkeypatch.setattr(logger.experiment, "close", lambda: None)
    logger.finalize("success")
    assert len(flushes) > 3


def test_a_worker_process_that_fails_still_writes_its_held_rows(tmp_path, clock) -> None:
    """Lightning's ddp_spawn/ddp_fork workers run the fit without the error handling that
    calls finalize(); the rows they hold are written when the worker exits."""
    import multiprocessing

    logger = loggers.CSVLogger(tmp_path, name="run", version=0, flush_seconds=10)

    def worker() -> None:
        for step in range(3):
            log(logger, step)  # the first is written at once, the others held (the clock stands still)
        assert len(rows_on_disk(logger)) == 1
        raise RuntimeError("the fit failed")

    process = multiprocessing.get_context("fork").Process(target=worker)
    process.start()
    process.join(timeout=60)
    assert process.exitcode == 1
    assert [r["step"] for r in rows_on_disk(logger)] == ["0", "1", "2"]


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "soon"])
def test_a_bad_flush_interval_names_the_value_and_the_fix(tmp_path, bad) -> None:
    with pytest.raises(ConfigError, match=r"flush_seconds=.*0 or more"):
        loggers.CSVLogger(tmp_path, flush_seconds=bad)


def test_every_row_logged_before_a_last_ckpt_is_on_disk_when_it_is_written(tmp_path) -> None:
    """A fit with the shipped trainer defaults and a clock that never comes due: each
    ``last.ckpt`` write still puts every row logged so far into metrics.csv, and in between
    the rows wait in memory."""
    config = CONFIGS / "kink" / "mlp.yaml"
    cli = cli_main(["--config", str(config), *tiny_data("kink", config, tmp_path), "--trainer.max_epochs=4"], run=False)
    trainer = cli.trainer
    (csv_logger,) = [lg for lg in trainer.loggers if isinstance(lg, loggers.CSVLogger)]
    assert any(isinstance(lg, loggers.TensorBoardLogger) for lg in trainer.loggers)
    for logger in trainer.loggers:
        logger.flush_seconds = 1e9
    (resume,) = [cb for cb in trainer.callbacks if isinstance(cb, ResumeCheckpoint)]
    resume.every_seconds = 0  # last.ckpt at every epoch boundary
    seen: dict[str, list[int]] = {"held": [], "after_last_ckpt": []}

    class Watch(L.Callback):
        def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
            if not trainer.sanity_checking:
                seen["held"].append(len(csv_logger.experiment.metrics))

        def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
            if trainer.current_epoch > 0:  # ResumeCheckpoint (earlier in the list) has just written
                step = torch.load(resume.last_path, weights_only=False)[STATE_KEY]["metrics_step"]
                # held back: only rows of the epoch starting now (the learning-rate monitor's),
                # which a fit resumed from this checkpoint logs again
                seen["after_last_ckpt"].append(sum(int(r["step"]) < step for r in csv_logger.experiment.metrics))
                assert max(int(r["step"]) for r in rows_on_disk(csv_logger)) < step

    trainer.callbacks.append(Watch())
    trainer.fit(cli.model, datamodule=cli.datamodule)
    assert seen["after_last_ckpt"] == [0, 0, 0]  # nothing the checkpoint covers is left in memory
    assert min(seen["held"]) > 0  # between writes, the rows waited
    steps = [int(r["step"]) for r in rows_on_disk(csv_logger)]
    assert len(steps) >= 8 and steps == sorted(steps)  # finalize wrote the rest


def _log_widening_rows(save_dir: str, saved: multiprocessing.sharedctypes.Synchronized) -> None:
    """Every row brings a new column, so every save rewrites the whole file; ``saved`` counts
    the saves that returned."""
    logger = loggers.CSVLogger(save_dir, name="run", version="v", flush_seconds=0)
    for i in range(100_000):
        logger.log_metrics({f"m{i:05d}": float(i)}, step=i)
        logger.save()
        saved.value = i + 1


@pytest.mark.parametrize("seed", range(3))
def test_metrics_csv_keeps_every_saved_row_whenever_a_kill_lands(tmp_path, seed) -> None:
    """SIGKILLs at random moments of a run whose saves all rewrite metrics.csv: the file always
    holds every row whose save had returned (Lightning's writer truncates it, then writes it
    again, so a kill in between loses the whole run's rows)."""
    rng, fork = random.Random(seed), multiprocessing.get_context("fork")
    for kill in range(8):
        save_dir = tmp_path / str(kill)
        saved = fork.Value("i", 0)
        proc = fork.Process(target=_log_widening_rows, args=(str(save_dir), saved), daemon=True)
        proc.start()
        time.sleep(rng.uniform(0.2, 1.2))
        proc.kill()
        proc.join()
        path = save_dir / "run/v/metrics.csv"
        text = path.read_text() if path.exists() else ""
        complete = loggers.complete_rows(path) if text else []
        assert saved.value > 0, "the process saved nothing before the kill: give it longer"
        assert len(complete) >= saved.value, f"kill {kill}: {saved.value} rows saved, {len(complete)} on disk"
        assert [int(r["step"]) for r in complete] == list(range(len(complete)))


def test_a_resumed_run_keeps_the_complete_rows_before_its_checkpoint_and_writes_on(tmp_path, clock) -> None:
    first = loggers.CSVLogger(tmp_path, name="run", version="v", flush_seconds=0)
    for step in range(6):
        first.log_metrics({"train/loss": step / 10, **({"val/loss": 1.0} if step == 5 else {})}, step=step)
        first.save()
    path = Path(first.log_dir) / "metrics.csv"
    with open(path, "a") as handle:
        handle.write("6,0.6,")  # an append the kill cut short (it looks like a whole row)
    (path.parent / ".metrics.csv.99999.tmp").write_text("a rewrite the kill cut short")

    resumed = loggers.CSVLogger(tmp_path, name="run", version="v", flush_seconds=0)
    loggers.carry_rows(resumed)  # as `econdl fit --ckpt_path last` does first
    assert [r["step"] for r in rows_on_disk(resumed)] == ["0", "1", "2", "3", "4", "5"]
    loggers.carry_rows(resumed, before_step=4)  # then ResumeCheckpoint: its checkpoint covers steps 0-3
    assert [r["step"] for r in rows_on_disk(resumed)] == ["0", "1", "2", "3"]
    assert list(rows_on_disk(resumed)[0]) == ["step", "train/loss"]  # val/loss came after the checkpoint
    assert not list(path.parent.glob(".*.tmp"))
    for step in range(4, 6):
        resumed.log_metrics({"train/loss": step / 10}, step=step)
        resumed.save()
    assert [(r["step"], r["train/loss"]) for r in rows_on_disk(resumed)] == [(str(s), str(s / 10)) for s in range(6)]


def test_a_resume_from_before_the_first_logged_step_logs_every_row_once(tmp_path, clock) -> None:
    """A checkpoint that covers no logged step: every row on disk is one the fit logs again."""
    first = loggers.CSVLogger(tmp_path, name="run", version="v", flush_seconds=0)
    for step in range(3):
        first.log_metrics({"train/loss": step / 10}, step=step)
        first.save()
    resumed = loggers.CSVLogger(tmp_path, name="run", version="v", flush_seconds=0)
    loggers.carry_rows(resumed, before_step=0)
    assert rows_on_disk(resumed) == []
    for step in range(3):
        resumed.log_metrics({"train/loss": step / 10}, step=step)
        resumed.save()
    assert [r["step"] for r in rows_on_disk(resumed)] == ["0", "1", "2"]


def test_a_new_run_in_a_used_directory_replaces_its_rows_only_when_it_writes_its_own(tmp_path, clock) -> None:
    old = loggers.CSVLogger(tmp_path, name="run", version="v", flush_seconds=0)
    log(old, 0)
    log(old, 1)
    new = loggers.CSVLogger(tmp_path, name="run", version="v", flush_seconds=0)
    new.log_hyperparams({"lr": 0.1})  # opens the writer
    assert len(rows_on_disk(new)) == 2  # a kill now loses nothing (Lightning's writer deleted the file here)
    new.log_metrics({"train/loss": 0.5}, step=0)
    with pytest.warns(UserWarning, match="held the rows of an earlier run.*--ckpt_path last"):
        new.save()
    assert rows_on_disk(new) == [{"step": "0", "train/loss": "0.5"}]


# --- write_atomic (every rewrite of metrics.csv) and the event file of a failed command ----------
def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch) -> None:
    from econdl import files

    target = tmp_path / "metrics.csv"
    target.write_text("step,val/loss\n0,1.0\n", encoding="utf-8")

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(files.os, "replace", refuse)  # the rename fails after the new text is written
        with pytest.raises(OSError, match="No space left"):
            files.write_atomic(target, "step,val/loss\n0,1.0\n1,0.5\n")
    assert target.read_text(encoding="utf-8") == "step,val/loss\n0,1.0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"]

    # the write itself fails half-way (text UTF-8 cannot encode): the same
    with pytest.raises(UnicodeEncodeError):
        files.write_atomic(target, "step\n" + "\ud800")
    assert target.read_text(encoding="utf-8") == "step,val/loss\n0,1.0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"]

    files.write_atomic(target, b"step\n1\n")  # and a write that succeeds replaces it, leaving nothing else
    assert target.read_bytes() == b"step\n1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"]


def event_files(logger: loggers.TensorBoardLogger) -> list[Path]:
    return sorted(Path(logger.log_dir).glob("events.out.tfevents*"))


def test_a_resume_removes_the_temporary_files_killed_writes_left_and_nothing_else(tmp_path) -> None:
    """A write killed before its rename leaves `.<name>.<pid>.tmp` (one name per process, so
    processes writing one file at once never share one); a resume deletes those, and only those."""
    from econdl.files import remove_leftovers, temp_path

    mine = temp_path(tmp_path / "metrics.csv")
    assert mine.parent == tmp_path and str(os.getpid()) in mine.name
    other = tmp_path / ".last.ckpt.4242.tmp"  # another, killed, process's
    users = [tmp_path / ".notes.tmp", tmp_path / "draft.tmp", tmp_path / ".metrics.csv.tmp"]
    for path in (mine, other, *users):
        path.write_text("x")
    remove_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in users)


def test_a_run_folder_is_held_by_one_process_at_a_time(tmp_path) -> None:
    """Taking a held folder again keeps it; another process is refused until it is released."""
    import subprocess
    import sys

    from econdl.files import FolderLock

    lock = FolderLock()
    lock.take(tmp_path, "held")
    lock.take(tmp_path, "held")
    probe = (
        "import sys; from econdl.files import FolderLock; from econdl.errors import ConfigError\n"
        "try:\n    FolderLock().take(sys.argv[1], 'busy')\nexcept ConfigError as err:\n    print(err)\n"
        "else:\n    print('taken')"
    )
    run = lambda: subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True)  # noqa: E731
    assert run().stdout.strip() == "busy"
    lock.release()
    assert run().stdout.strip() == "taken"


def test_a_command_that_fails_before_logging_leaves_no_empty_event_file(tmp_path) -> None:
    """TensorBoardLogger.finalize's documented behaviour: a failed command that logged
    nothing removes the event file it opened; one that logged, or that succeeded, keeps it."""
    failed = loggers.TensorBoardLogger(tmp_path, name="run", version=0)
    failed.experiment  # noqa: B018 (opens the event file, as a fit's first log would)
    assert len(event_files(failed)) == 1
    failed.finalize("failed")
    assert event_files(failed) == []

    logged = loggers.TensorBoardLogger(tmp_path, name="run", version=1, flush_seconds=0)
    logged.log_metrics({"val/loss": 1.0}, step=0)
    logged.finalize("failed")
    assert len(event_files(logged)) == 1  # its rows are kept

    ok = loggers.TensorBoardLogger(tmp_path, name="run", version=2)
    ok.experiment  # noqa: B018
    ok.finalize("success")
    assert len(event_files(ok)) == 1
