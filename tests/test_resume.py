"""Resume: a fit SIGKILLed at random moments and resumed with ``--ckpt_path last`` ends exactly
as the uninterrupted fit (weights, best checkpoint, every metrics.csv row, test metrics);
last.ckpt is written atomically, on SIGTERM/SIGINT, and under --trainer.default_root_dir."""

import itertools
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from econdl.checkpointing import AtomicCheckpointIO
from econdl.cli import cli_main
import forked
from helpers import CONFIGS, FAST, REPO, econdl_env
from test_mnist_data import write_idx_set

ECONDL = str(Path(sys.executable).with_name("econdl"))
EVERY_EPOCH = ["--trainer.callbacks+=econdl.callbacks.ResumeCheckpoint", "--trainer.callbacks.every_seconds=0"]
# several learning-rate reductions (patience 0) and early-stopping counters running
KINK = [
    "fit",
    "--config",
    str(CONFIGS / "kink/mlp.yaml"),
    *FAST,
    "--trainer.max_epochs=12",
    "--lr_scheduler.init_args.patience=0",
    *EVERY_EPOCH,
]


def env() -> dict[str, str]:
    return {**econdl_env(), "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}


def econdl(*args: str) -> subprocess.CompletedProcess:
    return forked.run(list(args), env=env())


def mtime(path: Path) -> int:
    return path.stat().st_mtime_ns if path.exists() else 0


def fit_with_kills(
    args: list[str],
    run: Path,
    seed: int,
    kills: int,
    window: float,
    by_path: bool = False,
    writes: int = 1,
    final_epoch: int | None = None,
) -> int:
    """Run ``econdl fit`` and SIGKILL it ``kills`` times, each a seeded random time (up to
    ``window`` seconds) after the process has written last.ckpt a seeded random number of
    times (1 to ``writes``), resuming with --ckpt_path last (``by_path``: the path of the run's
    last.ckpt) after each kill.  Returns how many kills landed with training still to do: before
    the fit ended by itself, and before its final last.ckpt (epoch ``final_epoch``), after
    which a resume trains nothing and would pass whatever it restores."""
    rng, landed, last = random.Random(seed), 0, run / "checkpoints/last.ckpt"
    log = open(run.parent / f"stderr-{seed}.txt", "w")  # noqa: SIM115 (outlives the processes it records)

    def start(*extra: str) -> subprocess.Popen:
        # a session of its own: the kill takes every process of the fit (all DDP ranks) at once
        return subprocess.Popen(
            [ECONDL, *args, *extra], stdout=subprocess.DEVNULL, stderr=log, env=env(), start_new_session=True
        )

    proc = start()
    for _ in range(kills):
        for _ in range(rng.randint(1, writes)):
            before = mtime(last)
            while proc.poll() is None and mtime(last) == before:
                time.sleep(0.005)
        time.sleep(rng.uniform(0, window))
        if proc.poll() is not None:
            break
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        resumed_at = torch.load(last, weights_only=False)["epoch"] if last.is_file() else 0
        landed += final_epoch is None or resumed_at < final_epoch
        proc = start(f"--ckpt_path={last if by_path else 'last'}")
    assert proc.wait(timeout=300) == 0, (run.parent / f"stderr-{seed}.txt").read_text()[-3000:]
    return landed


def assert_same_run(a: Path, b: Path) -> None:
    """Final weights, the best checkpoint's name and weights, and every logged row are equal."""
    pd.testing.assert_frame_equal(pd.read_csv(a / "metrics.csv"), pd.read_csv(b / "metrics.csv"))
    best = {r: sorted(p.name for p in (r / "checkpoints").glob("best-*.ckpt")) for r in (a, b)}
    assert best[a] == best[b] and len(best[a]) == 1
    for name in (best[a][0], "last.ckpt"):
        x, y = (torch.load(r / "checkpoints" / name, weights_only=False)["state_dict"] for r in (a, b))
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), name


def kill_and_compare(
    tmp_path: Path,
    args: list[str],
    seed: int,
    kills: int,
    window: float,
    land: bool = True,
    by_path: bool = False,
    writes: int = 1,
) -> None:
    assert econdl(*args, "--run_name=straight").returncode == 0
    final = torch.load(tmp_path / "logs/straight/version_0/checkpoints/last.ckpt", weights_only=False)["epoch"]
    run = tmp_path / "logs/killed/version_0"
    run.parent.mkdir(parents=True)
    landed = fit_with_kills([*args, "--run_name=killed"], run, seed, kills, window, by_path, writes, final)
    assert landed >= 1 or not land  # really killed at least once with training left to resume
    assert not (tmp_path / "logs/killed/version_1").exists()  # resumed in place
    assert_same_run(tmp_path / "logs/straight/version_0", run)
    assert "test/loss" in pd.read_csv(run / "metrics.csv").columns


@pytest.mark.slow
def test_kink_mlp_killed_at_random_moments_resumes_exactly(tmp_path):
    # each kill at a random moment of one of the first 6 of 12 epochs after a last.ckpt (an epoch,
    # validation and checkpoints included, takes a few hundredths of a second)
    kill_and_compare(tmp_path, KINK, seed=1, kills=3, window=0.05, writes=6)


@pytest.mark.slow
def test_the_command_of_a_run_with_a_random_seed_resumes_it_exactly(tmp_path):
    """`--seed_everything true` draws a seed; the same command with --ckpt_path last drew
    another and was refused as a change of settings.  It goes on with the seed the run drew,
    and ends as the uninterrupted run with that seed does."""
    run = tmp_path / "logs/killed/version_0"
    run.parent.mkdir(parents=True)
    args = [*KINK, "--seed_everything=true", "--run_name=killed"]
    assert fit_with_kills(args, run, seed=4, kills=1, window=0.05, writes=3) == 1
    said = (run.parent / "stderr-4.txt").read_text()
    drawn = yaml.safe_load((run / "config.yaml").read_text())["seed_everything"]
    assert isinstance(drawn, int) and "settings differ" not in said
    assert econdl(*KINK, f"--seed_everything={drawn}", "--run_name=straight").returncode == 0
    assert_same_run(tmp_path / "logs/straight/version_0", run)


def test_only_a_run_that_goes_on_keeps_its_seed_and_says_it_once(tmp_path):
    """With --seed_everything true, a resume from the run's last.ckpt keeps the run's seed and
    names that one seed (Lightning's line for the seed drawn and dropped is not printed); a fit
    from the run's best checkpoint is a new run, with a seed of its own."""
    args = ["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--trainer.max_epochs=2"]
    first = econdl(*args, "--seed_everything=true")
    assert first.returncode == 0, first.stderr[-2000:]
    run = tmp_path / "logs/kink/mlp/version_0"
    seed = yaml.safe_load((run / "config.yaml").read_text())["seed_everything"]
    on = econdl(*args, "--trainer.max_epochs=3", "--seed_everything=true", "--ckpt_path=last")
    said = on.stdout + on.stderr
    assert on.returncode == 0 and f"keeps the seed it was fitted with, {seed} " in said, said[-2000:]
    assert "Seed set to" not in said and "random seed" not in said
    best = next((run / "checkpoints").glob("best-*.ckpt"))
    new = econdl(*args, "--seed_everything=true", f"--ckpt_path={best}")
    assert new.returncode == 0 and "keeps the seed" not in new.stdout, new.stderr[-2000:]
    own = yaml.safe_load((tmp_path / "logs/kink/mlp/version_1/config.yaml").read_text())["seed_everything"]
    assert f"random seed {own} " in new.stdout and own != seed


@pytest.mark.slow
def test_a_last_ckpt_copied_out_of_its_run_goes_on_with_its_own_shuffling_whatever_the_seed(tmp_path):
    """A checkpoint outside any run folder has no config.yaml to hold a resume to its settings:
    resumed under another seed, its training goes on as the run's would have (the random-number
    states and the loader's shuffling seed come from the checkpoint), in a run of its own."""
    assert econdl(*KINK, "--trainer.max_epochs=3", "--run_name=first").returncode == 0
    copied = tmp_path / "saved.ckpt"
    shutil.copy(tmp_path / "logs/first/version_0/checkpoints/last.ckpt", copied)
    assert econdl(*KINK, "--seed_everything=7", f"--ckpt_path={copied}", "--run_name=other").returncode == 0
    assert econdl(*KINK, "--run_name=straight").returncode == 0
    x, y = (
        torch.load(tmp_path / f"logs/{r}/version_0/checkpoints/last.ckpt", weights_only=False)["state_dict"]
        for r in ("straight", "other")
    )
    assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


@pytest.mark.slow
def test_a_fit_resumed_from_the_path_of_its_last_ckpt_goes_on_in_its_folder_exactly(tmp_path):
    """`--ckpt_path logs/.../version_0/checkpoints/last.ckpt`, as the error messages and a user
    write it, is the same resume as `--ckpt_path last`: the run goes on in its own folder and
    picks its best epoch over all its epochs (in a new folder, Lightning drops the best score)."""
    kill_and_compare(tmp_path, KINK, seed=4, kills=2, window=0.05, by_path=True, writes=6)


@pytest.mark.parametrize("loggers", [[], ["--trainer.logger=false"]])
def test_a_last_ckpt_of_a_run_kept_elsewhere_goes_on_in_that_runs_folder(tmp_path, loggers):
    """``--ckpt_path`` naming the last.ckpt of a run outside the config's runs folder (here under
    another default_root_dir, then moved): the run goes on where it is, nothing is written
    under logs/ (with loggers or without)."""
    kink = [*KINK, *loggers]
    assert econdl(*kink, "--trainer.max_epochs=2", "--trainer.default_root_dir=first").returncode == 0
    run = tmp_path / "elsewhere/my_run"
    run.parent.mkdir()
    (tmp_path / "first/kink/mlp/version_0").rename(run)
    resumed = econdl(*kink, "--trainer.max_epochs=3", f"--ckpt_path={run / 'checkpoints/last.ckpt'}", "--run_name=x")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"the run goes on in {run}" in resumed.stdout
    assert f"note: --run_name x does not move a resumed run: it goes on in {run}" in resumed.stdout
    assert not (tmp_path / "logs").exists() and not list((tmp_path / "first").rglob("*.*"))
    assert torch.load(run / "checkpoints/last.ckpt", weights_only=False)["epoch"] == 3
    if not loggers:
        rows = pd.read_csv(run / "metrics.csv")
        assert rows.dropna(subset=["val/loss"])["epoch"].tolist() == [0, 1, 2]  # the first fit's rows kept


def test_a_resume_of_a_run_still_being_fitted_is_refused_before_it_writes_anything(tmp_path):
    """Two fits in one run folder (a resume started while the run is still being fitted) wrote
    over each other's checkpoints and metrics.csv rows, and both exited 0.  The second is
    refused; once the first has ended, however (here SIGKILL), the run resumes."""
    args = [a for a in KINK if not a.startswith("--trainer.max_epochs")] + ["--run_name=busy"]
    run = tmp_path / "logs/busy/version_0"
    last = run / "checkpoints/last.ckpt"
    running = subprocess.Popen(
        [ECONDL, *args, "--trainer.max_epochs=100000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env(),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not last.is_file():
            assert running.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        config = (run / "config.yaml").read_bytes()
        # a write of the running fit under way (its temporary file), which a resume clears away
        writing = run / f".metrics.csv.{running.pid}.tmp"
        writing.write_text("step,epoch\n")
        second = econdl(*args, "--trainer.max_epochs=100001", "--ckpt_path=last")
        assert running.poll() is None  # still fitting: the refusal is not about a finished run
    finally:
        os.killpg(running.pid, signal.SIGKILL)
        running.wait()
    assert second.returncode == 1, second.stdout[-2000:]
    assert "logs/busy/version_0 is being written by another `econdl fit` that is still running" in second.stderr
    assert "resuming from" not in second.stdout  # refused before its checkpoint was read
    assert (run / "config.yaml").read_bytes() == config  # max_epochs 100001 was never recorded
    assert writing.is_file()  # refused before it touched the folder
    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0"]
    epoch = torch.load(last, weights_only=False)["epoch"]
    resumed = econdl(*args, f"--trainer.max_epochs={epoch + 1}", "--ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert torch.load(last, weights_only=False)["epoch"] == epoch + 1


def test_a_refused_resume_leaves_its_run_folder_free_in_the_same_process(tmp_path):
    """A resume refused after it has taken its run folder (a changed network) must let go of
    it: in a notebook its traceback keeps it alive, and the next, correct resume would be
    refused as if another fit were writing the run."""
    args = ["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--test_after_fit=false"]
    cli_main([*args, "--trainer.max_epochs=2"])
    with pytest.raises(Exception, match="widths|shape|size") as refused:
        cli_main([*args, "--trainer.max_epochs=3", "--ckpt_path=last", "--model.init_args.net.init_args.widths=[7]"])
    assert "being written" not in str(refused.value)
    resumed = cli_main([*args, "--trainer.max_epochs=3", "--ckpt_path=last"])  # refused.value still holds its frames
    assert resumed.trainer.current_epoch == 3


def test_a_resume_removes_the_temporary_files_of_writes_a_kill_cut_short(tmp_path):
    assert econdl(*KINK, "--run_name=run").returncode == 0
    run = tmp_path / "logs/run/version_0"
    left = [run / "checkpoints/.last.ckpt.99999.tmp", run / "checkpoints/.best-epoch003.ckpt.99999.tmp"]
    left.append(run / ".metrics.csv.99999.tmp")
    mine = run / "checkpoints/.notes.tmp"  # not a name econdl writes: kept
    for path in [*left, mine]:
        path.write_bytes(b"cut short")
    resumed = econdl(*KINK, "--run_name=run", "--ckpt_path=last", "--trainer.max_epochs=13")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not any(p.exists() for p in left) and mine.exists()


def test_a_kill_between_a_best_checkpoint_and_last_ckpt_leaves_no_stray_checkpoint(tmp_path):
    """The killed process wrote a best checkpoint after its last.ckpt; the resumed fit
    writes that epoch again and must replace the file, not add a second one beside it."""
    assert econdl(*KINK, "--run_name=straight").returncode == 0
    val = pd.read_csv(tmp_path / "logs/straight/version_0/metrics.csv").dropna(subset=["val/loss"])
    losses = val.set_index("epoch")["val/loss"]
    # the first epoch after the first that improves on every earlier one, with more to come after it
    epoch = next(int(e) for e in losses.index[1:-2] if losses[e] < losses[losses.index < e].min())
    kill = ["--trainer.callbacks+=fault_injection.KillAfterEpochCheckpoints", f"--trainer.callbacks.epoch={epoch}"]
    assert econdl(*KINK, "--run_name=killed", *kill).returncode == -signal.SIGKILL
    run = tmp_path / "logs/killed/version_0"
    assert (run / f"checkpoints/best-epoch{epoch:03d}.ckpt").is_file()  # written by the process that died
    assert econdl(*KINK, "--run_name=killed", "--ckpt_path=last").returncode == 0
    assert_same_run(tmp_path / "logs/straight/version_0", run)


def test_a_fit_limited_by_max_steps_resumes_exactly(tmp_path):
    """With --trainer.max_steps Lightning treats every resume as one inside an epoch, so it took
    a last.ckpt written between two epochs for the end of the earlier one, skipped the next
    epoch's training and validation, and early stopping failed on the missing val/loss."""
    args = [*KINK, "--trainer.max_steps=92"]  # 8 steps an epoch: the limit falls inside epoch 11
    assert econdl(*args, "--run_name=straight").returncode == 0
    kill = ["--trainer.callbacks+=fault_injection.KillAfterEpochCheckpoints", "--trainer.callbacks.epoch=5"]
    assert econdl(*args, "--run_name=killed", *kill).returncode == -signal.SIGKILL
    resumed = econdl(*args, "--run_name=killed", "--ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    run = tmp_path / "logs/killed/version_0"
    assert_same_run(tmp_path / "logs/straight/version_0", run)
    assert torch.load(run / "checkpoints/last.ckpt", weights_only=False)["global_step"] == 92


def test_a_fit_ended_by_max_time_stops_between_epochs_and_resumes_exactly(tmp_path):
    """--trainer.max_time (a wall-clock budget, e.g. a cluster job's) ends the fit at the end of
    an epoch, says so, and --ckpt_path last trains on to the uninterrupted fit's end: it was
    taken for a fit that early stopping had ended (a resume trained nothing, silently), and it
    stopped inside an epoch whose remaining batches a resume skipped."""
    assert econdl(*KINK, "--run_name=straight").returncode == 0
    slow = ["--trainer.callbacks+=fault_injection.SlowSteps", "--trainer.callbacks.seconds=0.04"]  # 8 steps an epoch
    timed = econdl(*KINK, "--run_name=timed", *slow, "--trainer.max_time=00:00:00:01")
    assert timed.returncode == 0, timed.stderr[-2000:]
    run = tmp_path / "logs/timed/version_0"
    last = torch.load(run / "checkpoints/last.ckpt", weights_only=False)
    assert 0 < last["epoch"] < 12 and last["global_step"] == 8 * last["epoch"]  # between two epochs
    # the same limit again (a cluster job resubmitted as it was): spent already, said, nothing changed
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    again = econdl(*KINK, "--run_name=timed", "--ckpt_path=last", "--trainer.max_time=00:00:00:01")
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert "econdl: error: --trainer.max_time 0:00:01 is spent already: the fit so far took " in again.stderr
    assert all(p.read_bytes() == b for p, b in files.items() if p.name != "config.yaml")  # no file changed
    resumed = econdl(*KINK, "--run_name=timed", "--ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "max_time ended" not in resumed.stderr  # it ran to its end
    assert torch.load(run / "checkpoints/last.ckpt", weights_only=False)["global_step"] == 8 * 12
    assert_same_run(tmp_path / "logs/straight/version_0", run)
    assert (
        f"econdl: --trainer.max_time ended the fit after epoch {last['epoch'] - 1}, before it was complete; "
        "resume it with --ckpt_path last" in timed.stderr
    )


def test_a_time_limit_running_out_in_the_last_epoch_ends_a_complete_fit(tmp_path):
    """The limit checked at the end of the fit's last epoch: the fit is complete (no advice to
    resume it), and --ckpt_path last finds nothing more to train."""
    # 4 s an epoch and a limit of 6 s: 2 s of slack either way, for a machine under load
    slow = ["--trainer.callbacks+=fault_injection.SlowSteps", "--trainer.callbacks.seconds=0.5"]
    args = [*KINK, "--trainer.max_epochs=2", "--run_name=timed", *slow]
    timed = econdl(*args, "--trainer.max_time=00:00:00:06")
    assert timed.returncode == 0, timed.stderr[-2000:]
    assert "Time limit reached" in timed.stderr  # it ran out, in the second (last) epoch
    assert "max_time ended the fit" not in timed.stderr
    last = tmp_path / "logs/timed/version_0/checkpoints/last.ckpt"
    assert torch.load(last, weights_only=False)["global_step"] == 16


def test_a_finished_fit_with_a_step_limit_extended_in_epochs_equals_the_longer_fit(tmp_path):
    """A fit that max_epochs ended, with a max_steps it never reached, extended with a larger
    max_epochs: Lightning took its end-of-fit last.ckpt for a restart on the last batch and ran
    one step of the next epoch only."""
    args = [*KINK, "--trainer.max_steps=10000"]
    assert econdl(*args, "--trainer.max_epochs=8", "--run_name=straight").returncode == 0
    assert econdl(*args, "--trainer.max_epochs=5", "--run_name=extended").returncode == 0
    longer = econdl(*args, "--trainer.max_epochs=8", "--run_name=extended", "--ckpt_path=last")
    assert longer.returncode == 0, longer.stderr[-2000:]
    run = tmp_path / "logs/extended/version_0"
    assert torch.load(run / "checkpoints/last.ckpt", weights_only=False)["global_step"] == 8 * 8
    straight_run = tmp_path / "logs/straight/version_0"
    straight = pd.read_csv(straight_run / "metrics.csv").dropna(subset=["val/loss"])
    extended = pd.read_csv(run / "metrics.csv").dropna(subset=["val/loss"])
    pd.testing.assert_frame_equal(straight[["epoch", "step", "val/loss"]], extended[["epoch", "step", "val/loss"]])
    x, y = (torch.load(r / "checkpoints/last.ckpt", weights_only=False)["state_dict"] for r in (straight_run, run))
    assert all(torch.equal(x[k], y[k]) for k in x)


def test_a_checkpoint_callback_of_ones_own_ends_a_resumed_run_with_the_same_files(tmp_path):
    """A ModelCheckpoint a user adds keeps Lightning's version counter: the killed process's
    checkpoint of a later epoch stayed, and the rerun wrote `top-epoch=003-v1.ckpt` beside it."""
    own = [
        "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
        "--trainer.callbacks.monitor=train/loss",
        "--trainer.callbacks.save_top_k=3",
        "--trainer.callbacks.filename=top-{epoch:03d}",
    ]
    args = [*KINK, "--trainer.max_epochs=8", *own]
    assert econdl(*args, "--run_name=straight").returncode == 0
    kill = ["--trainer.callbacks+=fault_injection.KillAfterEpochCheckpoints", "--trainer.callbacks.epoch=3"]
    assert econdl(*args, "--run_name=killed", *kill).returncode == -signal.SIGKILL
    run = tmp_path / "logs/killed/version_0/checkpoints"
    assert any(p.name.startswith("top-epoch=003") for p in run.iterdir())  # written after the last.ckpt
    resumed = econdl(*args, "--run_name=killed", "--ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    names = {
        r: sorted(p.name for p in (tmp_path / f"logs/{r}/version_0/checkpoints").iterdir())
        for r in ("straight", "killed")
    }
    assert names["killed"] == names["straight"]
    assert_same_run(tmp_path / "logs/straight/version_0", tmp_path / "logs/killed/version_0")


def test_a_fit_resumed_from_an_earlier_best_checkpoint_deletes_none_of_the_later_files(tmp_path):
    """Only a resume from the run's own last.ckpt drops files written after it: a fit resumed
    from another checkpoint file (it opens a new version) leaves the old run's files alone, even
    when killed before writing anything of its own."""
    args = [*KINK, "--trainer.max_epochs=4", "--run_name=run"]
    assert econdl(*args).returncode == 0
    folder = tmp_path / "logs/run/version_0/checkpoints"
    best, before = next(folder.glob("best-*.ckpt")), {p.name for p in folder.iterdir()}
    first = int(best.stem.removeprefix("best-epoch")) + 1  # the first epoch the resumed fit runs
    kill = ["--trainer.callbacks+=fault_injection.KillAtEpoch", f"--trainer.callbacks.epoch={first}"]
    resumed = econdl(*args, f"--ckpt_path={best}", "--trainer.max_epochs=6", *kill)
    assert resumed.returncode == -signal.SIGKILL, resumed.stderr[-2000:]
    assert {p.name for p in folder.iterdir()} >= before  # last.ckpt among them


def dropout_augment_cnn(tmp_path: Path, epochs: int = 6) -> list[str]:
    """A small MNIST CNN with dropout and augmentation: both draw random numbers every step.
    ``epochs``: enough that the fit outlasts the kill delays on a fast machine."""
    folder = write_idx_set(tmp_path / "digits", n_train=300, n_test=100)
    return [
        "fit",
        "--config",
        str(CONFIGS / "mnist/cnn.yaml"),
        f"--data.init_args.data_dir={folder}",
        "--data.init_args.augment=true",
        "--data.init_args.batch_size=32",
        f"--trainer.max_epochs={epochs}",
        "--model.init_args.net.init_args.channels=[4, 4]",
        "--model.init_args.net.init_args.widths=[16]",
        "--model.init_args.net.init_args.dropout=0.3",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        *EVERY_EPOCH,
    ]


@pytest.mark.slow
def test_classifier_with_dropout_and_augmentation_killed_resumes_exactly(tmp_path):
    # each kill lands at a random moment of one of the first 4 epochs after a last.ckpt (of
    # about 0.1 s each, 16 in all), so the resumed fits train on with the restored generators
    args = dropout_augment_cnn(tmp_path, epochs=16)
    kill_and_compare(tmp_path, args, seed=2, kills=2, window=0.15, writes=4)


@pytest.mark.slow
def test_two_process_ddp_fit_killed_resumes_exactly(tmp_path):
    """Both ranks killed at once; each rank's own generators (its dropout masks, its
    augmentation) come back from the checkpoint, so the resumed fit ends as the straight one."""
    ddp = ["--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.strategy=ddp"]
    args = [*dropout_augment_cnn(tmp_path, epochs=16), *ddp]
    kill_and_compare(tmp_path, args, seed=4, kills=2, window=0.3, writes=4)


@pytest.mark.slow
def test_closed_form_fit_killed_after_its_last_ckpt_resumes_without_refitting(tmp_path):
    """A one-epoch least-squares fit killed as soon as its last.ckpt is written (during its
    test): the resume says its fit is complete, fits nothing again, and tests the same
    coefficients, ending as the uninterrupted run does."""
    args = ["fit", "--config", str(CONFIGS / "kink/polynomial.yaml"), *FAST, *EVERY_EPOCH]
    assert econdl(*args, "--run_name=straight").returncode == 0
    run = tmp_path / "logs/killed/version_0"
    proc = subprocess.Popen(
        [ECONDL, *args, "--run_name=killed"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env()
    )
    while proc.poll() is None and not (run / "checkpoints/last.ckpt").exists():
        time.sleep(0.002)
    assert proc.poll() is None, "the fit ended before it could be killed"
    proc.kill()
    proc.wait()
    assert "test/loss" not in pd.read_csv(run / "metrics.csv").columns  # killed before its test was written
    again = econdl(*args, "--run_name=killed", "--ckpt_path=last")
    assert again.returncode == 0, again.stderr[-2000:]
    line = next(x for x in again.stdout.splitlines() if x.startswith("resuming from"))
    assert "its fit is complete (its model is fitted in one pass" in line, line
    assert_same_run(tmp_path / "logs/straight/version_0", run)


def test_sigterm_and_sigint_write_last_ckpt_at_the_end_of_the_running_epoch(tmp_path):
    """With no timed write due, an interrupt still leaves a last.ckpt to resume from."""
    args = [
        "fit",
        "--config",
        str(CONFIGS / "kink/mlp.yaml"),
        *FAST,
        "--trainer.max_epochs=100000",
        "--trainer.callbacks+=econdl.callbacks.ResumeCheckpoint",
        "--trainer.callbacks.every_seconds=100000",
    ]
    for sig in (signal.SIGTERM, signal.SIGINT):
        run = tmp_path / f"logs/{sig.name}/version_0"
        proc = subprocess.Popen(
            [ECONDL, *args, f"--run_name={sig.name}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        while proc.poll() is None and not list((run / "checkpoints").glob("best-*.ckpt")):
            time.sleep(0.02)  # training is under way once the first best checkpoint exists
        assert not (run / "checkpoints/last.ckpt").exists()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 1 and f"{sig.name} received" in err, err[-2000:]
        ckpt = torch.load(run / "checkpoints/last.ckpt", weights_only=False)
        assert ckpt["epoch"] >= 1 and "econdl_resume" in ckpt


def test_sigterm_during_econdl_test_ends_it_with_a_non_zero_status(tmp_path):
    """Outside a fit, Lightning turns SIGTERM into SystemExit() (status 0): a scheduler's kill of
    `econdl test` looked like success.  It now ends with 143 (128 + SIGTERM) and a line."""
    poly = ["--config", str(CONFIGS / "kink/polynomial.yaml"), "--trainer.enable_progress_bar=false"]
    assert econdl("fit", *poly).returncode == 0
    proc = subprocess.Popen(
        [ECONDL, "test", *poly, "--ckpt_path=last", "--data.eval_batch_size=1", "--data.test_size=50000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # Lightning logs it to stderr; the test loop starts right after
        seen.append(line)
        if "Loaded model weights" in line:
            break
    time.sleep(1.0)
    assert proc.poll() is None, "".join(seen)[-2000:]  # still testing 50,000 points one at a time
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "stopped by SIGTERM" in err and "Traceback" not in err


def test_default_root_dir_holds_the_run_and_ckpt_path_last_finds_it(tmp_path):
    args = [
        "fit",
        "--config",
        str(CONFIGS / "kink/mlp.yaml"),
        *FAST,
        "--trainer.default_root_dir=out",
        "--test_after_fit=false",
    ]
    assert econdl(*args, "--trainer.max_epochs=2").returncode == 0
    run = tmp_path / "out/kink/mlp/version_0"
    assert (run / "metrics.csv").is_file() and (run / "checkpoints/last.ckpt").is_file()
    assert not (tmp_path / "logs").exists()
    resumed = econdl(*args, "--trainer.max_epochs=3", "--ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming from {Path('out/kink/mlp/version_0/checkpoints/last.ckpt')}" in resumed.stdout
    assert torch.load(run / "checkpoints/last.ckpt", weights_only=False)["epoch"] == 3


def test_without_loggers_each_run_keeps_its_own_folder_and_best_or_last_finds_it(tmp_path):
    """`--trainer.logger false` put every run's checkpoints and config.yaml in one folder
    (`<default_root_dir>/checkpoints`): a second fit replaced the first one's files, and
    `--ckpt_path best|last` looked under logs/ and found nothing."""
    args = ["--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--trainer.logger=false", "--trainer.default_root_dir=R"]
    assert econdl("fit", *args, "--trainer.max_epochs=2").returncode == 0
    first = tmp_path / "R/kink/mlp/version_0"
    kept = {p.name: p.read_bytes() for p in (first / "checkpoints").iterdir()}
    assert "last.ckpt" in kept and any(name.startswith("best-") for name in kept)
    assert econdl("fit", *args, "--trainer.max_epochs=3", "--seed_everything=7").returncode == 0
    assert {p.name: p.read_bytes() for p in (first / "checkpoints").iterdir()} == kept  # untouched
    second = tmp_path / "R/kink/mlp/version_1"
    assert (second / "checkpoints/last.ckpt").is_file() and (second / "config.yaml").is_file()
    assert not (tmp_path / "R/checkpoints").exists() and not (tmp_path / "logs").exists()
    tested = econdl("test", *args, "--ckpt_path=best")
    assert tested.returncode == 0, tested.stderr[-2000:]
    assert f"test: {Path('R/kink/mlp/version_1/checkpoints')}" in tested.stdout
    resumed = econdl("fit", *args, "--trainer.max_epochs=4", "--seed_everything=7", "--ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert torch.load(second / "checkpoints/last.ckpt", weights_only=False)["epoch"] == 4  # went on in place


def test_a_run_moved_to_another_folder_resumes_with_its_best_checkpoint_state(tmp_path):
    """A finished run under an absolute root, moved elsewhere and extended with --ckpt_path last,
    keeps its best score: one best checkpoint, never worse than the one before the move (Lightning
    alone drops the score when the folder changes, takes the next epoch as the best and keeps
    the old best file beside it)."""
    args = ["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--test_after_fit=false"]
    first = cli_main([*args, "--trainer.max_epochs=4", f"--trainer.default_root_dir={tmp_path / 'a'}"])
    best_before = float(first.trainer.checkpoint_callback.best_model_score)
    (tmp_path / "a").rename(tmp_path / "b")
    resumed = cli_main(
        [*args, "--trainer.max_epochs=6", f"--trainer.default_root_dir={tmp_path / 'b'}", "--ckpt_path=last"]
    )
    folder = tmp_path / "b/kink/mlp/version_0/checkpoints"
    assert Path(resumed.trainer.ckpt_path).parent == folder
    bests = sorted(p.name for p in folder.glob("best-*.ckpt"))
    assert len(bests) == 1, bests
    callback = resumed.trainer.checkpoint_callback
    assert Path(callback.best_model_path) == folder / bests[0]
    assert float(callback.best_model_score) <= best_before
    assert float(
        torch.load(folder / bests[0], weights_only=False)["callbacks"][callback.state_key]["best_model_score"]
    ) == float(callback.best_model_score)


def test_a_save_dir_given_on_the_command_line_or_in_a_config_holds_the_whole_run(tmp_path):
    """`--trainer.logger.init_args.save_dir` reaches only the last logger of the list; the run
    still lands in one folder.  A config's own logger without a name gets <task>/<model> from
    the config's path, where `--ckpt_path last` looks."""
    poly = str(CONFIGS / "kink/polynomial.yaml")
    assert econdl("fit", "--config", poly, *FAST, "--trainer.logger.init_args.save_dir=sd").returncode == 0
    run = tmp_path / "sd/kink/polynomial/version_0"
    assert (run / "metrics.csv").is_file() and (run / "checkpoints/last.ckpt").is_file()
    assert list(run.glob("events.out.tfevents.*")) and not (tmp_path / "logs").exists()
    # with a default_root_dir as well, the save_dir still wins for the whole run (it split the
    # run: checkpoints and metrics.csv under the root, TensorBoard under the save_dir)
    both = ["--trainer.default_root_dir=root", "--trainer.logger.init_args.save_dir=sd"]
    assert econdl("fit", "--config", poly, *FAST, *both).returncode == 0
    run = tmp_path / "sd/kink/polynomial/version_1"
    assert (run / "metrics.csv").is_file() and (run / "checkpoints/last.ckpt").is_file()
    assert list(run.glob("events.out.tfevents.*")) and not (tmp_path / "root").exists()

    (tmp_path / "exp").mkdir()
    own = tmp_path / "exp/poly.yaml"
    own.write_text(
        Path(poly).read_text()
        + "\n  logger:\n    - class_path: econdl.loggers.CSVLogger\n      init_args:\n        save_dir: mine\n"
    )
    assert "trainer:\n  max_epochs" in own.read_text()  # the logger lands under the config's trainer key
    assert econdl("fit", "--config", str(own), *FAST).returncode == 0
    assert (tmp_path / "mine/exp/poly/version_0/checkpoints/last.ckpt").is_file()
    again = econdl("fit", "--config", str(own), *FAST, "--ckpt_path=last")
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resuming from {Path('mine/exp/poly/version_0/checkpoints/last.ckpt')}" in again.stdout


def test_an_explicit_logger_version_holds_the_whole_run_and_never_writes_over_another(tmp_path):
    """`--trainer.logger.init_args.version` reaches only the last logger of the list; the run
    still lands in one folder.  A version whose folder holds a run is refused (a new fit would
    write over its checkpoints and rows), unless the fit continues from a checkpoint in it."""
    poly = str(CONFIGS / "kink/polynomial.yaml")
    assert econdl("fit", "--config", poly, *FAST).returncode == 0
    first = tmp_path / "logs/kink/polynomial/version_0"
    before = {p: p.read_bytes() for p in first.rglob("*") if p.is_file()}
    assert (first / "checkpoints/last.ckpt") in before
    taken = econdl("fit", "--config", poly, *FAST, "--trainer.logger.init_args.version=0")
    assert taken.returncode == 1 and "Traceback" not in taken.stderr
    assert "logger version 0:" in taken.stderr and "holds a run already" in taken.stderr
    assert {p: p.read_bytes() for p in first.rglob("*") if p.is_file()} == before  # nothing touched
    assert [p.name for p in first.parent.iterdir()] == ["version_0"]  # and no new folder

    assert econdl("fit", "--config", poly, *FAST, "--trainer.logger.init_args.version=mine").returncode == 0
    mine = tmp_path / "logs/kink/polynomial/mine"
    assert (mine / "metrics.csv").is_file() and (mine / "checkpoints/last.ckpt").is_file()
    assert list(mine.glob("events.out.tfevents.*")) and (mine / "config.yaml").is_file()
    assert sorted(p.name for p in first.parent.iterdir()) == ["mine", "version_0"]

    last = first / "checkpoints/last.ckpt"
    resumed = econdl("fit", "--config", poly, *FAST, "--trainer.logger.init_args.version=0", f"--ckpt_path={last}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert sorted(p.name for p in first.parent.iterdir()) == ["mine", "version_0"]


def test_a_real_fit_writes_checkpoints_through_the_atomic_writer(tmp_path):
    cli = cli_main(
        ["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--trainer.max_epochs=1", "--test_after_fit=false"]
    )
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    assert (tmp_path / "logs/kink/mlp/version_0/checkpoints/last.ckpt").is_file()


def test_atomic_save_keeps_previous_checkpoint_when_a_save_dies(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    target = tmp_path / "last.ckpt"
    io.save_checkpoint({"epoch": 1}, target)

    def dying_save(obj, handle):
        handle.write(b"partial bytes")
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"epoch": 2}, target)
    monkeypatch.undo()
    assert torch.load(target, weights_only=False) == {"epoch": 1}
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def test_resume_without_a_previous_run_says_what_to_do():
    result = econdl(*KINK, "--run_name=nothing_here", "--ckpt_path=last")
    assert result.returncode == 1
    assert "no <save_dir>/nothing_here/version_*/checkpoints/last.ckpt found" in result.stderr
    assert "looks like a bug" not in result.stderr and "Traceback" not in result.stderr


def test_seed_rank_gives_each_data_parallel_process_its_own_stream():
    from econdl.rng import run_seed, seed_rank

    saved = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        draws = {}
        for base in (42, 43):
            for rank in (0, 1, 0):
                torch.manual_seed(base)  # what seed_everything (or torch's default) gives every process
                seed = seed_rank(rank)
                assert run_seed() == base  # shuffling still sees the common seed
                draws.setdefault((base, rank), []).append(
                    (seed, torch.rand(3), float(np.random.rand()), random.random())
                )
        for base in (42, 43):  # rank 0 drew twice from each base: a rank's stream is reproducible
            (seed, t, n, p), (seed2, t2, n2, p2) = draws[(base, 0)]
            assert seed == seed2 and torch.equal(t, t2) and n == n2 and p == p2
        streams = {k: v[0] for k, v in draws.items()}
        for a, b in itertools.combinations(streams, 2):  # no two (seed, rank) pairs share a stream
            (sa, ta, na, pa), (sb, tb, nb, pb) = streams[a], streams[b]
            assert sa != sb and not torch.equal(ta, tb) and na != nb and pa != pb, (a, b)
        torch.manual_seed(7)
        assert run_seed() == 7  # a later reseed is the run's seed again
    finally:
        torch.set_rng_state(saved[0])
        np.random.set_state(saved[1])
        random.setstate(saved[2])


def test_a_loader_built_after_the_ranks_are_split_shuffles_with_the_common_seed():
    """reload_dataloaders_every_n_epochs rebuilds the loader after seed_rank: every process
    must still cut one permutation, so each sample is seen once per epoch across processes."""
    from econdl.data import KinkDataModule
    from econdl.rng import seed_rank

    saved = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        dm = KinkDataModule(x_size=64, val_size=16, test_size=16)
        dm.setup("fit")
        seeds = []
        for rank in (0, 1):
            torch.manual_seed(42)  # every process's state after seed_everything(42)
            before = dm.train_dataloader().sampler.seed
            seed_rank(rank)
            seeds.append((before, dm.train_dataloader().sampler.seed))
        assert seeds[0] == seeds[1] == (42, 42)
    finally:
        torch.set_rng_state(saved[0])
        np.random.set_state(saved[1])
        random.setstate(saved[2])


def test_the_config_of_a_resumed_fit_repeats_the_run_in_a_new_folder_and_leaves_it_alone(tmp_path):
    """A resumed fit's config.yaml records no checkpoint: `econdl fit --config` on it repeats the
    run from the start in a new folder, rather than going on in (and rewriting) the old one."""
    args = ["--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--run_name=rs"]
    cli_main(["fit", *args, "--trainer.max_epochs=2"])
    cli_main(["fit", *args, "--trainer.max_epochs=3", "--ckpt_path=last"])
    run = tmp_path / "logs/rs/version_0"
    saved = run / "config.yaml"
    assert "ckpt_path: null" in saved.read_text()
    before = {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}
    again = cli_main(["fit", "--config", str(saved)])
    assert Path(again.trainer.log_dir).resolve() == tmp_path / "logs/rs/version_1" and again.trainer.current_epoch == 3
    assert {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()} == before


def test_best_from_the_config_of_a_test_run_names_what_it_scored_instead_of_taking_another_run(tmp_path, capsys):
    """`--config <a test run's config.yaml> --ckpt_path best`: that run holds no checkpoint; a
    newer fit's would be another model's, so the command says which checkpoint the run scored."""
    from econdl.main import main

    args = ["--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--run_name=t", "--trainer.max_epochs=2"]
    cli_main(["fit", *args])
    cli_main(["test", *args, "--ckpt_path=best"])  # -> logs/t/version_1, a test run
    scored = next((tmp_path / "logs/t/version_0/checkpoints").glob("best-*.ckpt"))
    cli_main(["fit", *args, "--trainer.max_epochs=3"])  # a newer fit: version_2
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["test", "--config", "logs/t/version_1/config.yaml", "--ckpt_path", "best"])
    err = capsys.readouterr().err
    assert exit_.value.code == 1 and "Traceback" not in err
    assert "logs/t/version_1, the run whose config.yaml this is, holds no best checkpoint" in err
    assert f"pass --ckpt_path logs/t/version_0/checkpoints/{scored.name}" in err


def test_a_resume_with_other_settings_than_its_run_is_refused_and_the_runs_own_config_resumes_it(tmp_path):
    """`--ckpt_path last` without the learning rate the run was fitted with trained on with the
    checkpoint's rate while the run's config.yaml was rewritten with the config's: refused,
    naming the difference, with nothing of the run changed; the run's own config resumes it."""
    args = [*KINK, "--optimizer.lr=0.003", "--run_name=run"]
    assert econdl(*args, "--trainer.max_epochs=2").returncode == 0
    run = tmp_path / "logs/run/version_0"
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    other = econdl(*KINK, "--run_name=run", "--ckpt_path=last", "--trainer.max_epochs=3")
    assert other.returncode == 1 and "Traceback" not in other.stderr
    assert "optimizer.init_args.lr: 0.003 before, 0.01 now" in other.stderr
    assert f"econdl fit --config {Path('logs/run/version_0/config.yaml')} --ckpt_path last" in other.stderr
    assert all(p.read_bytes() == b for p, b in files.items())  # config.yaml included
    own = econdl("fit", "--config", str(run / "config.yaml"), "--ckpt_path=last", "--trainer.max_epochs=3")
    assert own.returncode == 0, own.stderr[-2000:]
    assert torch.load(run / "checkpoints/last.ckpt", weights_only=False)["global_step"] == 3 * 8
    assert "lr: 0.003" in (run / "config.yaml").read_text()


def test_a_fit_killed_before_its_first_last_ckpt_is_named_not_mistaken_for_an_older_run(tmp_path):
    """A fit killed before it wrote last.ckpt (every 300 s by default) leaves a run folder with
    nothing to resume: ``--ckpt_path last`` names that run and says to start again, and where
    an older run of the config has a last.ckpt, the line that resumes it says the newer run is
    not the one resumed, and that the older fit is complete, so only its test runs again."""
    args = ["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), "--data.x_size=2000"]
    args += ["--trainer.enable_progress_bar=false", "--data.batch_size=16"]
    runs = tmp_path / "logs/kink/mlp"

    def killed_fit(version: int) -> None:
        fit = subprocess.Popen([ECONDL, *args, "--trainer.max_epochs=1000"], env=env(), stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not (runs / f"version_{version}/config.yaml").is_file() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(random.Random(os.getpid() + version).uniform(0.3, 1.5))
        fit.kill()
        fit.wait(60)
        assert not (runs / f"version_{version}/checkpoints/last.ckpt").exists()

    killed_fit(0)
    nothing = econdl(*args, "--ckpt_path=last")
    assert nothing.returncode == 1 and "Traceback" not in nothing.stderr, nothing.stderr
    assert "no run of kink/mlp holds a last.ckpt: the newest, logs/kink/mlp/version_0, has none" in nothing.stderr
    assert "run the same command without --ckpt_path" in nothing.stderr

    finished = econdl(*args, "--trainer.max_epochs=2")
    assert finished.returncode == 0, finished.stderr
    rows = len(pd.read_csv(runs / "version_1/metrics.csv"))
    killed_fit(2)
    resumed = econdl(*args, "--trainer.max_epochs=2", "--ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr
    line = next(x for x in resumed.stdout.splitlines() if x.startswith("resuming from"))
    assert "version_1/checkpoints/last.ckpt; run version_2 of" in line and "holds no last.ckpt" in line, line
    assert "its fit is complete (2 of --trainer.max_epochs 2 epochs): nothing is trained" in line, line
    assert len(pd.read_csv(runs / "version_1/metrics.csv")) == rows  # the test row again, nothing trained
    fewer = econdl(*args, "--trainer.max_epochs=1", "--ckpt_path=last")  # Lightning's error came after our line
    assert fewer.returncode == 1 and "Traceback" not in fewer.stderr, fewer.stderr
    assert "has trained 2 epochs already; to go on, give --trainer.max_epochs 3 or more" in fewer.stderr
    assert "resuming from" not in fewer.stdout


@pytest.mark.parametrize("copy_to", ["elsewhere/kink/mlp/version_0", "elsewhere/my_run"])
def test_a_copied_run_resumed_from_its_own_config_goes_on_in_the_copy_exactly(tmp_path, copy_to):
    """``--config COPY/config.yaml --ckpt_path last`` on a run copied out of the config's runs
    folder goes on in the copy, whatever the copy's folder is called, and ends as the same fit
    run straight through would; the original run is left as it was (an earlier resume wrote on
    under the copy's version in the config's save_dir, over the original run's files; a later
    one started a new run that chose its best epoch among the resumed epochs only)."""
    args = ["--trainer.enable_progress_bar=false", "--data.x_size=2000"]
    kink = ["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *args]
    assert econdl(*kink, "--run_name=kink/mlp", "--trainer.max_epochs=3").returncode == 0
    assert econdl(*kink, "--run_name=straight", "--trainer.max_epochs=5").returncode == 0
    original = tmp_path / "logs/kink/mlp/version_0"
    before = {p: p.read_bytes() for p in original.rglob("*") if p.is_file()}
    copy = tmp_path / copy_to
    copy.parent.mkdir(parents=True)
    shutil.copytree(original, copy)
    resumed = econdl("fit", "--config", str(copy / "config.yaml"), "--ckpt_path=last", "--trainer.max_epochs=5")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from {copy}/checkpoints/last.ckpt: the run goes on in {copy}" in resumed.stdout
    assert {p: p.read_bytes() for p in original.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in (tmp_path / "logs/kink/mlp").iterdir()) == ["version_0"]
    assert_same_run(tmp_path / "logs/straight/version_0", copy)


def test_a_run_folder_renamed_in_place_resumes_from_its_own_config(tmp_path):
    """``logs/kink/mlp/best_run`` (a version_N folder renamed by hand) resumed from its own
    config.yaml: the resume line read a version number from the folder's name and crashed."""
    args = ["--trainer.enable_progress_bar=false", "--data.x_size=1000"]
    first = econdl("fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *args, "--trainer.max_epochs=2")
    assert first.returncode == 0, first.stderr
    run = tmp_path / "logs/kink/mlp/best_run"
    (tmp_path / "logs/kink/mlp/version_0").rename(run)
    resumed = econdl("fit", "--config", str(run / "config.yaml"), "--ckpt_path=last", "--trainer.max_epochs=3")
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, resumed.stderr
    assert "resuming from" in resumed.stdout and "best_run/checkpoints/last.ckpt" in resumed.stdout
    rows = pd.read_csv(run / "metrics.csv")
    assert rows.dropna(subset=["val/loss"])["epoch"].tolist() == [0, 1, 2]  # the third epoch, in the renamed run


def test_a_finished_fit_resumed_is_said_to_be_complete_or_stopped_early_as_it_was(tmp_path):
    """A least-squares fit (one pass) resumed from its last.ckpt was said to have "stopped early
    (EarlyStopping)", which it has none of; an early-stopped fit names the epoch it stopped at."""
    poly = ["fit", "--config", str(CONFIGS / "kink/polynomial.yaml"), *FAST]
    assert econdl(*poly).returncode == 0
    again = econdl(*poly, "--ckpt_path=last")
    assert again.returncode == 0, again.stderr[-2000:]
    line = next(x for x in again.stdout.splitlines() if x.startswith("resuming from"))
    assert "its fit is complete (its model is fitted in one pass" in line and "EarlyStopping" not in line, line
    stop = [
        *KINK,
        "--trainer.max_epochs=60",
        "--trainer.callbacks+=econdl.callbacks.EarlyStopping",
        "--trainer.callbacks.monitor=val/loss",
        "--trainer.callbacks.mode=max",  # "improves" only when it grows: stops after 2 epochs
        "--trainer.callbacks.patience=1",
        "--run_name=stopped",
    ]
    assert econdl(*stop).returncode == 0
    metrics = pd.read_csv(tmp_path / "logs/stopped/version_0/metrics.csv")
    epochs = int(metrics.dropna(subset=["val/loss"])["epoch"].max())  # the last epoch validated
    assert epochs < 59  # early stopping ended it
    again = econdl(*stop, "--ckpt_path=last")
    assert again.returncode == 0, again.stderr[-2000:]
    line = next(x for x in again.stdout.splitlines() if x.startswith("resuming from"))
    assert f"its fit had stopped early (EarlyStopping, at epoch {epochs})" in line, (line, epochs)
    after = pd.read_csv(tmp_path / "logs/stopped/version_0/metrics.csv").dropna(subset=["val/loss"])
    assert int(after["epoch"].max()) == epochs and len(after) == len(
        metrics.dropna(subset=["val/loss"])
    )  # none trained


def test_a_fit_stopped_inside_an_epoch_and_extended_says_its_resume_is_not_exact(tmp_path):
    """--trainer.max_steps 2 stops the kink fit inside its first epoch (8 batches): extending it
    continues that epoch as Lightning resumes it, not as a 10-step fit runs, and nothing said
    so.  A fit stopped between two epochs (8 steps) resumes exactly, without the line."""
    inside = econdl(*KINK, "--trainer.max_steps=2", "--run_name=inside")
    assert inside.returncode == 0, inside.stderr[-2000:]
    extended = econdl(*KINK, "--trainer.max_steps=10", "--run_name=inside", "--ckpt_path=last")
    assert extended.returncode == 0, extended.stderr[-2000:]
    assert "econdl: resume is not exact: could not restore the place inside epoch 0 where the checkpoint" in (
        extended.stderr
    )
    assert econdl(*KINK, "--trainer.max_steps=8", "--run_name=between").returncode == 0
    exact = econdl(*KINK, "--trainer.max_steps=10", "--run_name=between", "--ckpt_path=last")
    assert exact.returncode == 0 and "resume is not exact" not in exact.stderr, exact.stderr[-2000:]
    # a best checkpoint (ModelCheckpoint's, written as validation ends) is not one max_steps cut
    best = next((tmp_path / "logs/between/version_0/checkpoints").glob("best-*.ckpt"))
    again = econdl(*KINK, "--trainer.max_epochs=3", "--run_name=from_best", f"--ckpt_path={best}")
    assert again.returncode == 0 and "max_steps" not in again.stderr, again.stderr[-2000:]


def test_the_resume_line_names_only_the_newer_runs_that_hold_no_last_ckpt(tmp_path):
    """Resuming an older run (through its own config.yaml) named every newer run of the name as
    holding no last.ckpt, those that hold one included."""
    from econdl.cli import _resume_note

    runs = tmp_path / "logs/kink/mlp"
    for version, last in ((0, True), (1, True), (2, False), (3, True), (4, False)):
        (runs / f"version_{version}/checkpoints").mkdir(parents=True)
        if last:
            (runs / f"version_{version}/checkpoints/last.ckpt").write_bytes(b"")
    note = _resume_note(runs / "version_0", {}, SimpleNamespace(trainer={"max_epochs": None}))
    assert f"runs version_2, version_4 of {runs}, newer, hold no last.ckpt" in note, note
    assert "version_1" not in note and "version_3" not in note
