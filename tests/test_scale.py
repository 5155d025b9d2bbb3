"""Trust at scale: exact resume after a kill, atomic checkpoints, non-finite guard,
data-parallel runs equal to one process, mixed precision."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from helpers import CONFIGS, FAST, REPO
from econdl.checkpointing import AtomicCheckpointIO
from econdl.cli import cli_main

ECONDL = str(Path(sys.executable).with_name("econdl"))


def econdl(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests"), "PYTHONWARNINGS": "ignore"}
    env.pop("ECONDL_DEBUG", None)
    return subprocess.run([ECONDL, *args], capture_output=True, text=True, timeout=timeout, env=env)


def weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]


MLP_RUN = ["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--trainer.max_epochs=5",
           "--trainer.min_epochs=5", "--trainer.deterministic=true", "--test_after_fit=false"]


@pytest.mark.slow
def test_fit_killed_after_epoch_two_and_resumed_ends_with_identical_weights(tmp_path):
    straight = econdl(*MLP_RUN, "--run_name=straight")
    assert straight.returncode == 0, straight.stderr
    killed = econdl(*MLP_RUN, "--run_name=resumed",
                    "--trainer.callbacks+=fault_injection.KillAtEpoch", "--trainer.callbacks.epoch=2")
    assert killed.returncode == -9  # really killed, not a clean exit
    run = tmp_path / "logs/resumed/version_0"
    assert torch.load(run / "checkpoints/last.ckpt", weights_only=False)["epoch"] == 1
    resumed = econdl(*MLP_RUN, "--run_name=resumed", "--ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr
    assert not (tmp_path / "logs/resumed/version_1").exists()  # resumed in place
    a = weights(tmp_path / "logs/straight/version_0/checkpoints/last.ckpt")
    b = weights(run / "checkpoints/last.ckpt")
    assert a.keys() == b.keys()
    assert max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel()) == 0.0
    epochs = pd.read_csv(run / "metrics.csv")["epoch"].dropna().astype(int)
    assert set(epochs) == {0, 1, 2, 3, 4}  # the rows logged before the kill are kept


def test_resume_without_a_previous_run_says_what_to_do():
    result = econdl(*MLP_RUN, "--run_name=nothing_here", "--ckpt_path=last")
    assert result.returncode == 1
    assert "no <save_dir>/nothing_here/version_*/checkpoints/last.ckpt found" in result.stderr


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


def test_non_finite_loss_stops_naming_the_step_and_keeps_last_finite_checkpoint(tmp_path):
    result = econdl("fit", "--config", str(CONFIGS / "linear/sgd.yaml"), "--trainer.max_epochs=6",
                    "--data.init_args.n=2000", "--trainer.enable_progress_bar=false",
                    "--trainer.callbacks+=fault_injection.BlowUpAtEpoch", "--trainer.callbacks.epoch=2")
    assert result.returncode == 1
    assert "became NaN or infinite at epoch 2" in result.stderr
    assert "learning rate" in result.stderr and "Traceback" not in result.stderr
    last = tmp_path / "logs/linear/sgd/version_0/checkpoints/last.ckpt"
    ckpt = torch.load(last, weights_only=False)
    assert ckpt["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in ckpt["state_dict"].values() if t.is_floating_point())


@pytest.mark.slow
def test_two_cpu_processes_give_the_single_process_closed_form_fit_bit_for_bit(tmp_path):
    base = ["fit", "--config", str(CONFIGS / "kink/chebyshev.yaml"), *FAST, "--data.init_args.x_size=1001",
            "--trainer.accelerator=cpu"]
    one = econdl(*base, "--run_name=one")
    two = econdl(*base, "--run_name=two", "--trainer.devices=2", "--trainer.strategy=ddp")
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    runs = {n: tmp_path / f"logs/{n}/version_0" for n in ("one", "two")}
    coef = {n: weights(next((r / "checkpoints").glob("best-*.ckpt")))["coef"] for n, r in runs.items()}
    assert torch.equal(coef["one"], coef["two"])
    metrics = {n: pd.read_csv(r / "metrics.csv") for n, r in runs.items()}
    for key in ("test/rmse", "test/mae", "test/loss", "test/max_abs_err"):
        a, b = (float(m[key].dropna().iloc[-1]) for m in metrics.values())
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15)
    assert not (tmp_path / "logs/two/version_1").exists()  # both ranks wrote into one run directory


@pytest.mark.slow
def test_two_cpu_processes_train_the_mlp_to_a_comparable_fit(tmp_path):
    base = ["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--trainer.max_epochs=4",
            "--trainer.accelerator=cpu"]
    # same global batch (2 x 32 = 64) and so the same number of steps per epoch
    one, two = econdl(*base, "--run_name=one"), econdl(*base, "--run_name=two", "--trainer.devices=2",
                                                        "--trainer.strategy=ddp", "--data.init_args.batch_size=32")
    assert one.returncode == 0 and two.returncode == 0, two.stderr
    rmse = [float(pd.read_csv(tmp_path / f"logs/{n}/version_0/metrics.csv")["test/rmse"].dropna().iloc[-1])
            for n in ("one", "two")]
    assert rmse[1] == pytest.approx(rmse[0], rel=0.5)  # other batches per step: close, not equal


def test_bf16_mixed_on_cpu_trains_and_baselines_still_solve_in_float64():
    cli = cli_main(["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--trainer.max_epochs=2",
                    "--trainer.precision=bf16-mixed", "--trainer.accelerator=cpu", "--run_name=bf16"])
    assert cli.trainer.precision == "bf16-mixed"
    assert torch.isfinite(cli.trainer.callback_metrics["test/rmse"])
    fits = {}
    for precision in ("32-true", "bf16-mixed"):
        c = cli_main(["fit", "--config", str(CONFIGS / "kink/polynomial.yaml"), *FAST,
                      f"--trainer.precision={precision}", "--trainer.accelerator=cpu", f"--run_name=p{precision}"])
        fits[precision] = c.model.coef.detach().clone()
    assert fits["bf16-mixed"].dtype == torch.float64
    assert torch.equal(fits["32-true"], fits["bf16-mixed"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="16-mixed precision needs a CUDA GPU")
def test_16_mixed_on_gpu():
    cli = cli_main(["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--trainer.max_epochs=2",
                    "--trainer.precision=16-mixed", "--trainer.accelerator=gpu", "--run_name=fp16"])
    assert torch.isfinite(cli.trainer.callback_metrics["test/rmse"])


@pytest.mark.slow
def test_two_cpu_processes_give_the_single_process_per_class_table(tmp_path):
    from test_mnist_data import write_idx_set

    folder = write_idx_set(tmp_path / "digits", n_train=300, n_test=101)
    base = ["fit", "--config", str(CONFIGS / "mnist/naive_bayes.yaml"), f"--data.init_args.data_dir={folder}",
            "--data.init_args.val_size=50", "--data.init_args.batch_size=32", "--trainer.accelerator=cpu",
            "--trainer.enable_progress_bar=false"]
    one = econdl(*base, "--run_name=one")
    two = econdl(*base, "--run_name=two", "--trainer.devices=2", "--trainer.strategy=ddp")
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("Test Set") == one.stdout.count("Test Set") == 1  # printed once, by rank 0
    tables = [pd.read_csv(tmp_path / f"logs/{n}/version_0/class_accuracy.csv", index_col=0) for n in ("one", "two")]
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)
    coef = [weights(next((tmp_path / f"logs/{n}/version_0/checkpoints").glob("best-*.ckpt"))) for n in ("one", "two")]
    assert all(torch.equal(coef[0][k], coef[1][k]) for k in coef[0])
