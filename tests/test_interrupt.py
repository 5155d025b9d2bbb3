"""Ctrl+C and SIGTERM at random moments of a fit and of a comparison: one line, a non-zero
status, last.ckpt kept, no worker process left behind, and no signal handler left in place."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from econdl.cli import cli_main
from helpers import CONFIGS, FAST, econdl_env

ECONDL = str(Path(sys.executable).with_name("econdl"))
TINY_KINK = ["--data.x_size=256", "--data.val_size=64", "--data.test_size=65", "--data.batch_size=64"]


def small_kink_fit(epochs: int, **popen: Any) -> subprocess.Popen:
    """``econdl fit`` of the small kink MLP in a process of its own, its output piped."""
    return subprocess.Popen(
        [ECONDL, "fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, f"--trainer.max_epochs={epochs}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**econdl_env(), "PYTHONWARNINGS": "ignore"},
        **popen,
    )


def processes_of(marker: str) -> list[str]:
    """Processes whose command line holds ``marker`` (a run folder unique to the test)."""
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    return [pid for pid in found if int(pid) != os.getpid()]


def test_a_fit_gives_back_the_signal_handlers_it_found(tmp_path):
    """After a fit, SIGTERM and SIGINT do what they did before it.  (Lightning's own SIGTERM
    handler, given back by the trainer at its end, was put back again afterwards, so a later
    SIGTERM was swallowed: `econdl compare --workers 1` ran on, and idle workers ignored it.)"""
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    cli_main(["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--trainer.max_epochs=2"])
    cli_main(["fit", "--config", str(CONFIGS / "kink/polynomial.yaml"), *FAST])
    assert {s: signal.getsignal(s) for s in before} == before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_in_the_last_epoch_stops_the_fit_before_its_test(tmp_path, signum):
    """The fit is complete when the last epoch ends, but the user asked to stop: last.ckpt is
    written, the test (which can take long) is not run, and the status says it stopped."""
    env = {**econdl_env(), "PYTHONWARNINGS": "ignore"}
    fit = subprocess.Popen(
        [ECONDL, "fit", "--config", str(CONFIGS / "kink/mlp.yaml"), "--data.x_size=60000", "--data.batch_size=16"]
        + ["--trainer.max_epochs=1", "--trainer.enable_progress_bar=false"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    run = tmp_path / "logs/kink/mlp/version_0"
    while not (run / "config.yaml").is_file() and fit.poll() is None:
        time.sleep(0.02)
    time.sleep(random.Random(os.getpid()).uniform(0.3, 1.5))  # inside the one (last) epoch of ~4 s
    fit.send_signal(signum)
    out = fit.communicate(timeout=120)[0]
    assert fit.returncode == 1, out
    name = signal.Signals(signum).name
    assert f"econdl: stopped by {name}; the fit is complete; the test after it was not run" in out
    assert (run / "checkpoints/last.ckpt").is_file()
    assert "test/rmse" not in pd.read_csv(run / "metrics.csv").columns


@pytest.mark.parametrize(
    ("how", "workers"),
    [
        ("SIGTERM", "2"),
        ("SIGTERM to the group", "2"),
        ("thrice SIGTERM to the group", "2"),
        ("SIGINT to the group", "2"),
        ("twice SIGINT to the group", "2"),
        ("SIGKILL", "2"),
        ("SIGTERM", "1"),
    ],
)
def test_a_comparison_stopped_at_a_random_moment_says_so_and_leaves_no_process(tmp_path, how, workers):
    """A comparison stopped while its MLP fits: one line says what is kept and how to go on,
    the status is 1, and no worker outlives it (SIGKILL included: the workers end with it),
    so nothing waits forever holding memory.  The MLP's worker ends its epoch and writes
    last.ckpt however many signals reach it: a SIGTERM to the whole process group (timeout,
    Slurm, systemd) and the main process's own, or the one its parent's death sends and a
    second from the process that adopts it, must not cut the write short."""
    root = tmp_path / f"runs-{os.getpid()}"
    args = [ECONDL, "compare", str(CONFIGS / "kink"), f"--workers={workers}", *TINY_KINK]
    args += ["--trainer.max_epochs=3000", "--trainer.min_epochs=3000", f"--trainer.default_root_dir={root}"]
    env = {**econdl_env(), "PYTHONWARNINGS": "ignore"}
    compare = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )
    mlp = root / "kink/mlp/version_0"
    deadline = time.monotonic() + 120
    # the MLP is training (its first best checkpoint is written), so a stop can end its epoch
    while not list(mlp.glob("checkpoints/best-*.ckpt")) and compare.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(random.Random(os.getpid()).uniform(0.2, 1.5))
    if how.endswith("SIGINT to the group"):  # Ctrl+C in a terminal (twice: impatiently)
        os.killpg(compare.pid, signal.SIGINT)
        if how.startswith("twice"):
            time.sleep(random.Random(os.getpid()).uniform(0.05, 0.5))
            os.killpg(compare.pid, signal.SIGINT)
    elif how.endswith("SIGTERM to the group"):  # timeout, Slurm, systemd; thrice: sent again and again
        for _ in range(3 if how.startswith("thrice") else 1):
            os.killpg(compare.pid, signal.SIGTERM)
            time.sleep(0.1)
    else:
        compare.send_signal(getattr(signal, how))
    out = compare.communicate(timeout=120)[0]
    deadline = time.monotonic() + 30  # a worker finishing its epoch on a busy machine may take a while
    while processes_of(str(root)) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = processes_of(str(root))
    for pid in left:
        os.kill(int(pid), signal.SIGKILL)
    assert not left, f"processes left behind: {left}\n{out}"
    if how == "SIGKILL":
        assert compare.returncode == -signal.SIGKILL
        deadline = time.monotonic() + 30
        while not (mlp / "checkpoints/last.ckpt").is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (mlp / "checkpoints/last.ckpt").is_file(), sorted(p.name for p in mlp.glob("checkpoints/*"))
        assert not list(mlp.glob("checkpoints/.*.tmp")), sorted(p.name for p in mlp.glob("checkpoints/*"))
        return
    name = "SIGINT" if "SIGINT" in how else "SIGTERM"
    assert compare.returncode == 1, out
    assert f"econdl compare: stopped by {name} before the comparison was complete; no table was written" in out
    assert "Traceback" not in out and "resume with --ckpt_path last" not in out, out
    assert not (root / "kink/compare").exists()
    assert (mlp / "checkpoints/last.ckpt").is_file(), sorted(p.name for p in mlp.glob("checkpoints/*"))
    assert not list(mlp.glob("checkpoints/.*.tmp")), sorted(p.name for p in mlp.glob("checkpoints/*"))


def test_ctrl_c_at_a_random_moment_of_a_fits_start_gives_one_line_and_status_1(tmp_path):
    """Ctrl+C while econdl starts (imports, config, data) or fits: no traceback, one line that
    says it stopped, status 1."""
    env = {**econdl_env(), "PYTHONWARNINGS": "ignore"}
    rng = random.Random(os.getpid())
    for delay in sorted(rng.uniform(1.0, 3.0) for _ in range(3)):  # past the interpreter's own start
        fit = subprocess.Popen(
            [ECONDL, "fit", "--config", str(CONFIGS / "kink/mlp.yaml"), "--trainer.enable_progress_bar=false"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        time.sleep(delay)
        fit.send_signal(signal.SIGINT)
        out = fit.communicate(timeout=120)[0]
        assert fit.returncode == 1, (delay, out)
        assert "Traceback" not in out, (delay, out)
        assert "econdl: stopped by" in out, (delay, out)


def test_sigterm_as_a_fit_starts_its_test_says_so_with_status_143(tmp_path):
    """Between the end of the fit and the test's own signal handling (while the best checkpoint
    is restored) a SIGTERM met the default handler: the process vanished with no word."""
    fit = small_kink_fit(epochs=3)
    lines = []
    assert fit.stdout is not None
    for line in fit.stdout:
        lines.append(line)
        if "Restoring states from the checkpoint" in line:
            fit.send_signal(signal.SIGTERM)
            break
    lines.append(fit.communicate(timeout=120)[0])
    out = "".join(lines)
    assert fit.returncode == 128 + signal.SIGTERM, out
    assert "econdl: stopped by SIGTERM; what this command was computing is incomplete" in out
    assert "Traceback" not in out


def test_ctrl_c_as_a_comparison_starts_says_to_run_it_again(tmp_path):
    """A comparison is not resumed from a fit's last.ckpt: its stop line says to run it again."""
    env = {**econdl_env(), "PYTHONWARNINGS": "ignore"}
    compare = subprocess.Popen(
        [ECONDL, "compare", str(CONFIGS / "kink"), "--workers=1", *TINY_KINK],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    time.sleep(random.Random(os.getpid()).uniform(0.5, 1.5))
    compare.send_signal(signal.SIGINT)
    out = compare.communicate(timeout=120)[0]
    assert compare.returncode == 1, out
    assert "Traceback" not in out and "--ckpt_path last" not in out, out
    assert "run the same command again" in out, out


def test_a_new_fit_in_the_same_process_forgets_an_earlier_stop(tmp_path, capsys):
    """In a notebook, a fit stopped by Ctrl+C must not mute the next fit's stop line, nor make
    its ordinary end read as a stop."""
    from econdl import interrupt

    interrupt.request("SIGINT")
    interrupt.tell("econdl: stopped by SIGINT; an earlier fit", show=False)
    cli_main(["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--trainer.max_epochs=1"])
    assert not interrupt.told() and interrupt.requested() is None
    assert interrupt.stop_reason(SystemExit(1)) is None


def test_a_fit_started_with_ctrl_c_ignored_is_not_stopped_by_it(tmp_path):
    """A shell starts a background job with SIGINT ignored, so that Ctrl+C in the terminal does
    not stop it (Python keeps that too); the fit's own handler replaced it and stopped the job."""
    fit = small_kink_fit(epochs=60, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    run = tmp_path / "logs/kink/mlp/version_0"
    while not list(run.glob("checkpoints/best-*.ckpt")) and fit.poll() is None:  # training, its handlers set
        time.sleep(0.02)
    time.sleep(random.Random(os.getpid()).uniform(0.0, 0.2))
    assert fit.poll() is None
    fit.send_signal(signal.SIGINT)
    out = fit.communicate(timeout=300)[0]
    assert fit.returncode == 0, out
    assert "stopped by" not in out and "test/rmse" in out


def test_a_callback_that_stopped_a_fit_does_not_stop_its_next_one(tmp_path):
    """A notebook fits again with the same callbacks: the signal that had stopped the earlier
    fit was kept, and the next fit stopped at its first epoch boundary."""
    from econdl.callbacks import ResumeCheckpoint

    args = ["--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--trainer.max_epochs=3"]
    cli = cli_main([*args, "--trainer.enable_progress_bar=false"], run=False)
    resume = next(c for c in cli.trainer.callbacks if isinstance(c, ResumeCheckpoint))
    resume._stop_signal = "SIGINT"  # what a Ctrl+C in this callback's earlier fit left
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.current_epoch == 3 and not cli.trainer.interrupted


@pytest.fixture
def fresh_interrupt_state():
    from econdl import interrupt

    saved = dict(interrupt._state)
    interrupt.reset()
    yield interrupt
    interrupt._state.update(saved)


def test_the_stop_line_is_said_once_even_when_another_process_said_it(fresh_interrupt_state, capsys):
    """Under DDP only rank 0 prints the line; every process then takes it as said, so a later
    line (the command's own) is left out too."""
    interrupt = fresh_interrupt_state
    interrupt.tell("econdl: stopped by SIGTERM; resume with --ckpt_path last", show=False)
    interrupt.tell("econdl compare: stopped by SIGTERM")
    assert interrupt.told() and capsys.readouterr().err == ""


def test_a_command_of_fits_starts_unstopped_and_gives_back_the_driver_it_found(fresh_interrupt_state):
    interrupt = fresh_interrupt_state
    interrupt.request("SIGINT")
    interrupt.tell("an earlier stop", show=False)
    with interrupt.driving("compare", quiet=True):
        assert interrupt.requested() is None and not interrupt.told()  # an earlier stop is forgotten
        with interrupt.driving("sweep"):
            assert (interrupt.driver(), interrupt.quiet()) == ("sweep", False)
        assert (interrupt.driver(), interrupt.quiet()) == ("compare", True)
    assert (interrupt.driver(), interrupt.quiet()) == (None, False)


def test_a_fit_that_a_signal_ended_with_exit_1_is_told_as_that_signal(fresh_interrupt_state):
    """Lightning ends a fit stopped by a signal with exit(1): the command says which signal."""
    interrupt = fresh_interrupt_state
    assert interrupt.stop_reason(SystemExit(1)) is None  # an ordinary exit is no stop
    assert interrupt.stop_reason(KeyboardInterrupt()) == "SIGINT"
    assert interrupt.stop_reason(interrupt.Stopped("SIGTERM")) == "SIGTERM"
    interrupt.request("SIGTERM")
    assert interrupt.stop_reason(SystemExit(1)) == "SIGTERM"
    assert interrupt.stop_reason(KeyboardInterrupt()) == "SIGTERM"
    assert interrupt.stop_reason(ValueError("a bug")) is None
    assert (interrupt.exit_status("SIGTERM"), interrupt.exit_status("SIGINT")) == (143, 130)


def test_sigterm_inside_a_command_raises_stopped_and_the_handler_is_given_back(fresh_interrupt_state):
    interrupt = fresh_interrupt_state
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(interrupt.Stopped), interrupt.stop_on_sigterm():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the handler runs before the sleep ends
    assert interrupt.requested() == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is before
