"""Trust at scale: data-parallel runs equal to one process, mixed precision."""

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch

import forked
from helpers import CONFIGS, FAST, REPO
from econdl.cli import cli_main


def econdl(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    # tests/ for the probe, then whatever the caller's path holds (a checkout's src), so that
    # every DDP rank, each started as the installed script, imports the code under test
    path = os.pathsep.join(filter(None, [str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]))
    env = {**os.environ, "PYTHONPATH": path, "PYTHONWARNINGS": "ignore"}
    env.pop("ECONDL_DEBUG", None)
    return forked.run(list(args), env=env, timeout=timeout)


def weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]


# Resume, atomic checkpoints and the non-finite guard: tests/test_resume.py, tests/test_guard.py


@pytest.mark.slow
# 129 training points: the second process's shard (64 rows) ends with an empty batch, the
# first's (65 rows) with a batch of one row
@pytest.mark.parametrize("x_size", [1001, 129])
def test_two_cpu_processes_give_the_single_process_closed_form_fit_bit_for_bit(tmp_path, x_size):
    base = [
        "fit",
        "--config",
        str(CONFIGS / "kink/chebyshev.yaml"),
        *FAST,
        f"--data.init_args.x_size={x_size}",
        "--trainer.accelerator=cpu",
    ]
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
def test_a_mistake_in_a_two_process_fit_is_reported_once(tmp_path):
    """Every process checks the same settings and the guard reduces its finding over processes,
    so each printed the same error line."""
    result = econdl(
        "fit",
        "--config",
        str(CONFIGS / "kink/mlp.yaml"),
        *FAST,
        "--trainer.accelerator=cpu",
        "--trainer.devices=2",
        "--trainer.strategy=ddp",
        "--trainer.max_epochs=2",
        "--optimizer.init_args.lr=1e30",  # the weights overflow at once
    )
    assert result.returncode == 1, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("econdl: error: ")]
    assert len(errors) == 1 and "NaN or infinite" in errors[0], result.stderr[-3000:]


@pytest.mark.slow
def test_two_cpu_processes_train_the_mlp_as_one_process_does(tmp_path):
    # The same global batch (2 x 32 = 64 rows, the loader gives rank r rows r, r+2, ... of
    # each shuffled 64) and no BatchNorm (its batch statistics are per rank, and SyncBatchNorm
    # needs a GPU): DDP's averaged gradient is then the single process's gradient, up to the
    # order of float32 sums (the all-reduce adds two 32-row means): measured 1.2e-7 at most
    # after the 32 AdamW steps, float32's rounding, hence atol 1e-6; ranks training alone on
    # their halves end 0.1-1 apart.  in_features=1: a lazy first layer would be initialised
    # after DDP's setup has drawn random numbers, from another state than one process's.
    base = [
        "fit",
        "--config",
        str(CONFIGS / "kink/mlp.yaml"),
        *FAST,
        "--trainer.max_epochs=4",
        "--trainer.accelerator=cpu",
        "--model.init_args.net.init_args.batchnorm=false",
        "--model.init_args.net.init_args.in_features=1",
    ]
    one = econdl(*base, "--run_name=one")
    two_args = [
        *base,
        "--run_name=two",
        "--trainer.devices=2",
        "--trainer.strategy=ddp",
        "--data.init_args.batch_size=32",
        "--trainer.callbacks+=ddp_probe.RankWeights",
        f"--trainer.callbacks.path={tmp_path / 'ranks.json'}",
    ]
    two = econdl(*two_args)
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    probe = json.loads((tmp_path / "ranks.json").read_text())
    # the ranks hold equal weights after every step, and draw their own random numbers
    assert probe == {"steps": 32, "max_rank_diff": 0.0, "ranks_draw_apart": True}
    a, b = (weights(tmp_path / f"logs/{n}/version_0/checkpoints/last.ckpt") for n in ("one", "two"))
    for key in a:
        if a[key].is_floating_point():
            torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-6, msg=key)
    rmse = [
        float(pd.read_csv(tmp_path / f"logs/{n}/version_0/metrics.csv")["test/rmse"].dropna().iloc[-1])
        for n in ("one", "two")
    ]
    assert rmse[1] == pytest.approx(rmse[0], rel=1e-5)
    # resumed on two processes for one more epoch: one line says so, not one per process
    more = econdl(*two_args, "--ckpt_path=last", "--trainer.max_epochs=5")
    assert more.returncode == 0, more.stderr
    assert more.stdout.count("resuming from") == 1, more.stdout


def fit_recording_dtypes(precision: str, accelerator: str) -> tuple[set[torch.dtype], float]:
    """Fit the kink MLP 8 epochs; the dtypes of its first layer's training outputs, and test RMSE."""
    cli = cli_main(
        [
            "--config",
            str(CONFIGS / "kink/mlp.yaml"),
            *FAST,
            "--trainer.max_epochs=8",
            f"--trainer.precision={precision}",
            f"--trainer.accelerator={accelerator}",
            "--seed_everything=3",
        ],
        run=False,
    )
    seen: set[torch.dtype] = set()
    first = cli.model.net.layers[0]
    first.register_forward_hook(lambda mod, args, out: seen.add(out.dtype) if mod.training else None)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    result = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
    return seen, float(result[0]["test/rmse"])


# Lower precision keeps 2-3 significant digits (bf16: 8-bit mantissa, fp16: 11 bits) in the
# forward pass, which moves the 64 steps' path: measured here, bf16's test RMSE after 8 epochs
# was 11-21% above float32's (0.068 vs 0.082, 0.051 vs 0.056, two seeds).  A fit that failed
# stays near the targets' standard deviation, 0.33, five times float32's RMSE.
LOW_PRECISION_RMSE_REL = 0.35


def test_bf16_mixed_on_cpu_runs_the_forward_in_bf16_near_fp32_and_baselines_in_float64():
    dtypes32, rmse32 = fit_recording_dtypes("32-true", "cpu")
    dtypes16, rmse16 = fit_recording_dtypes("bf16-mixed", "cpu")
    assert dtypes32 == {torch.float32} and dtypes16 == {torch.bfloat16}
    assert rmse16 == pytest.approx(rmse32, rel=LOW_PRECISION_RMSE_REL)
    fits = {}
    for precision in ("32-true", "bf16-mixed"):
        c = cli_main(
            [
                "fit",
                "--config",
                str(CONFIGS / "kink/polynomial.yaml"),
                *FAST,
                f"--trainer.precision={precision}",
                "--trainer.accelerator=cpu",
                f"--run_name=p{precision}",
            ]
        )
        fits[precision] = c.model.coef.detach().clone()
    assert fits["bf16-mixed"].dtype == torch.float64
    assert torch.equal(fits["32-true"], fits["bf16-mixed"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="16-mixed precision needs a CUDA GPU")
def test_16_mixed_on_gpu_runs_the_forward_in_fp16_near_fp32():
    dtypes32, rmse32 = fit_recording_dtypes("32-true", "gpu")
    dtypes16, rmse16 = fit_recording_dtypes("16-mixed", "gpu")
    assert dtypes32 == {torch.float32} and dtypes16 == {torch.float16}
    assert rmse16 == pytest.approx(rmse32, rel=LOW_PRECISION_RMSE_REL)


@pytest.mark.slow
def test_two_cpu_processes_give_the_single_process_per_class_table(tmp_path):
    from test_mnist_data import write_idx_set

    folder = write_idx_set(tmp_path / "digits", n_train=300, n_test=101)
    base = [
        "fit",
        "--config",
        str(CONFIGS / "mnist/naive_bayes.yaml"),
        f"--data.init_args.data_dir={folder}",
        "--data.init_args.val_size=50",
        "--data.init_args.batch_size=32",
        "--trainer.accelerator=cpu",
        "--trainer.enable_progress_bar=false",
    ]
    one = econdl(*base, "--run_name=one")
    two = econdl(*base, "--run_name=two", "--trainer.devices=2", "--trainer.strategy=ddp")
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("Test Set") == one.stdout.count("Test Set") == 1  # printed once, by rank 0
    tables = [pd.read_csv(tmp_path / f"logs/{n}/version_0/class_accuracy.csv", index_col=0) for n in ("one", "two")]
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)
    coef = [weights(next((tmp_path / f"logs/{n}/version_0/checkpoints").glob("best-*.ckpt"))) for n in ("one", "two")]
    assert all(torch.equal(coef[0][k], coef[1][k]) for k in coef[0])


@pytest.mark.parametrize("config", ["mnist/mlp.yaml", "mnist/cnn.yaml", "gender/cnn.yaml"])
def test_64_true_trains_an_image_model_in_float64(config, tmp_path, monkeypatch):
    """Images stay uint8 until they reach the device and become floating after Lightning's own
    input conversion; they must still meet the weights in float64."""
    from econdl.cli import cli_main
    from helpers import TINY_DATA

    monkeypatch.chdir(tmp_path)
    task = config.split("/")[0]
    args = ["fit", "--config", str(CONFIGS / config), *TINY_DATA[task](tmp_path), "--trainer.max_epochs=1"]
    cli = cli_main([*args, "--trainer.precision=64-true", "--trainer.enable_progress_bar=false"], verbose_test=False)
    assert {p.dtype for p in cli.model.parameters()} == {torch.float64}
    assert "test/acc" in cli.trainer.callback_metrics  # the test after the fit ran to its end
    x = cli.datamodule.on_after_batch_transfer(next(iter(cli.datamodule.train_dataloader())), 0)[0]
    assert x.dtype == torch.float64
