"""The non-finite guard: a diverged fit stops with the guard's message and exit status 1,
whatever else would stop it, and no checkpoint on disk ever holds a NaN or infinite value."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import torch

import forked
from helpers import CONFIGS, REPO, econdl_env

EVERY_EPOCH = ["--trainer.callbacks+=econdl.callbacks.ResumeCheckpoint", "--trainer.callbacks.every_seconds=0"]


def econdl(*args: str) -> subprocess.CompletedProcess:
    env = {**econdl_env(), "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}
    return forked.run(list(args), env=env)


def non_finite_tensors(ckpt: Path) -> list[str]:
    """The weights and optimizer states of ``ckpt`` that hold NaN or inf."""
    loaded = torch.load(ckpt, map_location="cpu", weights_only=False)
    tensors = dict(loaded["state_dict"])
    for i, opt in enumerate(loaded.get("optimizer_states", [])):
        tensors |= {f"opt{i}.{p}.{k}": v for p, state in opt["state"].items() for k, v in state.items()}
    return [k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]


def test_an_infinite_optimizer_state_stops_the_fit_before_any_checkpoint_holds_it(tmp_path):
    """A gradient whose square overflows leaves Adam's second moment infinite and the weights
    finite: the fit went on with that parameter frozen, exit status 0, and every later
    checkpoint held the infinite state."""
    result = econdl(
        "fit",
        "--config",
        str(CONFIGS / "gdp/mlp.yaml"),
        "--trainer.max_epochs=4",
        "--trainer.enable_progress_bar=false",
        *EVERY_EPOCH,
        "--trainer.callbacks+=fault_injection.InfOptimizerStateAfterLastStep",
        "--trainer.callbacks.epoch=1",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "the optimizer's state became NaN or infinite (exp_avg_sq of net." in result.stderr
    assert "epoch 1" in result.stderr and "Traceback" not in result.stderr
    ckpts = sorted((tmp_path / "logs/gdp/mlp/version_0/checkpoints").glob("*.ckpt"))
    assert {p.name for p in ckpts} == {"best-epoch000.ckpt", "last.ckpt"}
    assert all(non_finite_tensors(p) == [] for p in ckpts)


def test_a_checkpoint_holding_nan_or_inf_is_refused_before_it_is_scored_or_resumed(tmp_path):
    """A diverged state (a hand-made file, or one written before the guard checked the optimizer)
    was tested as NaN with exit status 0, or resumed with its frozen parameters."""
    config = [
        "--config",
        str(CONFIGS / "gdp/mlp.yaml"),
        "--trainer.max_epochs=2",
        "--trainer.enable_progress_bar=false",
    ]
    assert econdl("fit", *config).returncode == 0
    good = tmp_path / "logs/gdp/mlp/version_0/checkpoints/last.ckpt"
    ckpt = torch.load(good, weights_only=False)
    weight = next(k for k in ckpt["state_dict"] if k.endswith("weight"))
    ckpt["state_dict"][weight][0, 0] = float("nan")
    torch.save(ckpt, tmp_path / "nan.ckpt")
    ckpt = torch.load(good, weights_only=False)
    next(iter(ckpt["optimizer_states"][0]["state"].values()))["exp_avg_sq"].fill_(float("inf"))
    torch.save(ckpt, tmp_path / "inf.ckpt")
    for command, name, what in (("test", "nan.ckpt", weight), ("fit", "inf.ckpt", "the optimizer's exp_avg_sq")):
        result = econdl(command, *config, f"--ckpt_path={tmp_path / name}")
        assert result.returncode == 1, result.stderr[-2000:]
        assert f"{name} holds NaN or infinite values ({what}" in result.stderr, result.stderr[-2000:]
        assert "Traceback" not in result.stderr
    assert econdl("test", *config, f"--ckpt_path={good}").returncode == 0  # the finite one is scored
    # scoring uses the weights only: a file whose optimizer state alone is infinite is tested
    assert econdl("test", *config, f"--ckpt_path={tmp_path / 'inf.ckpt'}").returncode == 0


def test_nan_weights_from_the_last_update_of_an_epoch_stop_the_fit_before_any_checkpoint(tmp_path):
    """The kink MLP's parameters become NaN right after the last optimizer step of epoch 1, an
    update that no training loss sees.  Before, validation ran on them, early stopping ended the
    fit on the NaN val/loss with exit status 0, and best/last checkpoints held NaN weights."""
    result = econdl(
        "fit",
        "--config",
        str(CONFIGS / "kink/mlp.yaml"),
        "--trainer.max_epochs=3",
        "--trainer.limit_train_batches=10",
        "--trainer.enable_progress_bar=false",
        *EVERY_EPOCH,
        "--trainer.callbacks+=fault_injection.NaNAfterLastStep",
        "--trainer.callbacks.epoch=1",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "the weights became NaN or infinite" in result.stderr and "epoch 1" in result.stderr
    assert "stopped before validation" in result.stderr and "Traceback" not in result.stderr
    ckpts = sorted((tmp_path / "logs/kink/mlp/version_0/checkpoints").glob("*.ckpt"))
    assert {p.name for p in ckpts} == {"best-epoch000.ckpt", "last.ckpt"}  # both from epoch 0
    assert all(non_finite_tensors(p) == [] for p in ckpts)
    assert torch.load(ckpts[1], weights_only=False)["epoch"] == 1  # last.ckpt: one epoch done


def test_nan_weights_after_the_last_check_stop_the_fit_at_its_end(tmp_path):
    """No validation and no checkpoint after the final update: nothing checked the weights
    that update made NaN, and the fit exited 0 and printed NaN test metrics."""
    result = econdl(
        "fit",
        "--config",
        str(CONFIGS / "gdp/mlp.yaml"),
        "--trainer.max_epochs=1",
        "--trainer.limit_val_batches=0",
        "--trainer.enable_checkpointing=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.callbacks=[{class_path: econdl.callbacks.FiniteLossGuard}, "
        "{class_path: fault_injection.NaNAfterLastStep, init_args: {epoch: 0}}]",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "the weights became NaN or infinite" in result.stderr, result.stderr[-2000:]
    assert "stopped before the end of the fit" in result.stderr and "Traceback" not in result.stderr
    assert "test/rmse" not in result.stdout  # no NaN scores printed as a result


def test_weights_whose_outputs_overflow_fail_the_test_rather_than_score_nan(tmp_path):
    """Finite but huge weights after the last update (no validation to see them): the fit's
    test printed NaN RMSE with exit status 0, and so did `econdl test` of its last.ckpt.  The
    CSV logger writes every row at once here (flush_seconds 0, as after a long test): the
    refused scores must come out of the file, not only out of the rows held in memory."""
    config = ["--config", str(CONFIGS / "gdp/mlp.yaml"), "--trainer.enable_progress_bar=false"]
    at_once = tmp_path / "at_once.yaml"
    at_once.write_text(
        "trainer:\n  logger:\n    - class_path: econdl.loggers.CSVLogger\n"
        "      init_args: {save_dir: logs, flush_seconds: 0}\n"
    )
    result = econdl(
        "fit",
        *config,
        f"--config={at_once}",
        "--run_name=gdp/mlp",
        "--trainer.max_epochs=2",
        "--trainer.limit_val_batches=0",
        "--trainer.callbacks+=fault_injection.ScaleAfterLastStep",
        "--trainer.callbacks.epoch=1",
    )
    said = "test/loss is nan: the model's outputs on the test data are NaN or infinite"
    assert result.returncode == 1, result.stderr[-2000:]
    assert said in result.stderr and "outputs overflow" in result.stderr, result.stderr[-2000:]
    last = tmp_path / "logs/gdp/mlp/version_0/checkpoints/last.ckpt"
    assert non_finite_tensors(last) == []  # finite weights: written, and refused only where scored
    import pandas as pd

    metrics = pd.read_csv(tmp_path / "logs/gdp/mlp/version_0/metrics.csv", dtype=str, keep_default_na=False)
    assert "train/loss" in metrics and (metrics.filter(like="test/") == "").all().all()  # no refused score kept
    again = econdl("test", *config, f"--ckpt_path={last}")
    assert again.returncode == 1 and said in again.stderr, again.stderr[-2000:]
    assert f"{last}'s weights are finite" in again.stderr and "learning rate 10x lower" in again.stderr
    assert sorted(p.name for p in (tmp_path / "logs/gdp/mlp").iterdir()) == ["version_0"]  # no folder of its own
    ahead = econdl("predict", *config, f"--ckpt_path={last}")  # wrote predictions.csv of inf, exit status 0
    assert ahead.returncode == 1 and "predictions are NaN or infinite" in ahead.stderr, ahead.stderr[-2000:]
    assert not list((tmp_path / "logs/gdp/mlp").glob("version_*/predictions.csv"))


def test_a_closed_form_whose_test_outputs_overflow_is_not_told_to_lower_a_learning_rate(tmp_path):
    """Least squares has no learning rate, and the advice for closed forms says so elsewhere."""
    result = econdl(
        "fit",
        "--model=econdl.tasks.PolynomialLS",
        "--model.degree=10",  # x**10 of x near 1e38 overflows even in float64
        "--data=fault_injection.FarTestInputs",
        "--trainer.enable_progress_bar=false",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "the model's outputs on the test data are NaN or infinite" in result.stderr, result.stderr[-2000:]
    assert "values its design matrix cannot hold" in result.stderr and "learning rate" not in result.stderr


def test_a_resume_the_guard_stops_leaves_the_run_as_it_was(tmp_path):
    """A finished fit resumed for more epochs diverged before its first checkpoint: the run
    lost its test row from metrics.csv and its config.yaml said max_epochs 4, while its
    last.ckpt (the resume point) was still the 2-epoch fit's; the message named the best
    checkpoint as the one kept rather than last.ckpt."""
    import filecmp

    config = ["--config", str(CONFIGS / "kink/mlp.yaml"), "--data.x_size=600", "--trainer.enable_progress_bar=false"]
    assert econdl("fit", *config, "--trainer.max_epochs=2").returncode == 0
    run = tmp_path / "logs/kink/mlp/version_0"
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert "test/rmse" in before["metrics.csv"].decode()
    result = econdl(
        "fit",
        *config,
        "--trainer.max_epochs=4",
        "--ckpt_path=last",
        "--trainer.callbacks+=fault_injection.NaNAfterLastStep",
        "--trainer.callbacks.epoch=2",
    )
    assert result.returncode == 1 and "the weights became NaN or infinite" in result.stderr, result.stderr[-2000:]
    assert f"the last finite one is kept ({Path('logs/kink/mlp/version_0/checkpoints/last.ckpt')})" in result.stderr
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    # the run resumes as it would have before the failed attempt: to the same rows as a straight fit
    assert econdl("fit", *config, "--trainer.max_epochs=4", "--ckpt_path=last").returncode == 0
    assert econdl("fit", *config, "--trainer.max_epochs=4").returncode == 0
    assert filecmp.cmp(run / "metrics.csv", tmp_path / "logs/kink/mlp/version_1/metrics.csv", shallow=False)


def test_a_resume_the_guard_stops_after_a_new_best_checkpoint_keeps_what_it_wrote(tmp_path):
    """The resumed fit wrote a new best checkpoint (and removed the old one) before the guard
    stopped it, with no last.ckpt yet (written every 5 minutes): putting metrics.csv back to
    the 2-epoch run left a best checkpoint with no logged history.  The run's rows stay."""
    import pandas as pd

    config = ["--config", str(CONFIGS / "kink/mlp.yaml"), "--data.x_size=600", "--trainer.enable_progress_bar=false"]
    assert econdl("fit", *config, "--trainer.max_epochs=2").returncode == 0
    run = tmp_path / "logs/kink/mlp/version_0"
    result = econdl(
        "fit",
        *config,
        "--trainer.max_epochs=12",
        "--ckpt_path=last",
        "--trainer.callbacks+=fault_injection.NaNAfterLastStep",
        "--trainer.callbacks.epoch=10",
    )
    assert result.returncode == 1 and "the weights became NaN or infinite" in result.stderr, result.stderr[-2000:]
    best = [p.name for p in (run / "checkpoints").glob("best-*.ckpt")]
    assert best and best != ["best-epoch001.ckpt"], best  # the attempt's own best epoch
    epochs = pd.read_csv(run / "metrics.csv")["epoch"].dropna()
    assert epochs.max() >= int(best[0][len("best-epoch") : -len(".ckpt")])  # the rows behind that checkpoint
    assert "max_epochs: 12" in (run / "config.yaml").read_text()


def test_non_finite_loss_stops_naming_the_step_and_keeps_last_finite_checkpoint(tmp_path):
    result = econdl(
        "fit",
        "--config",
        str(CONFIGS / "linear/sgd.yaml"),
        "--trainer.max_epochs=6",
        "--data.init_args.n=2000",
        "--trainer.enable_progress_bar=false",
        *EVERY_EPOCH,
        "--trainer.callbacks+=fault_injection.BlowUpAtEpoch",
        "--trainer.callbacks.epoch=2",
    )
    assert result.returncode == 1
    assert "became NaN or infinite at epoch 2" in result.stderr
    assert "learning rate" in result.stderr and "Traceback" not in result.stderr
    last = tmp_path / "logs/linear/sgd/version_0/checkpoints/last.ckpt"
    assert torch.load(last, weights_only=False)["epoch"] == 2  # written when epoch 2 started
    for ckpt in last.parent.glob("*.ckpt"):
        assert non_finite_tensors(ckpt) == []


def test_a_nan_loss_is_dated_by_the_update_that_made_its_weights(tmp_path):
    """Weights made NaN by step 3: the next batch's loss is the first NaN one, and the message
    said "optimizer step 4", the update that followed it, not the one that broke the weights.
    Eight batches an epoch: five NaN losses wait for the epoch-end check, and the first names it."""
    result = econdl(
        "fit",
        "--config",
        str(CONFIGS / "kink/mlp.yaml"),
        "--data.x_size=2000",
        "--trainer.max_epochs=2",
        "--trainer.enable_progress_bar=false",
        "--trainer.callbacks+=fault_injection.NaNAfterStep",
        "--trainer.callbacks.step=3",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "the training loss became NaN or infinite at epoch 0, after optimizer step 3." in result.stderr


def test_a_validation_loss_that_overflows_during_a_fit_stops_it_before_any_checkpoint(tmp_path):
    """Weights scaled by 1e20 after epoch 1's last update stay finite, so no weight check
    stops them, but the validation outputs overflow: the fit stops there with the guard's
    message, and neither the best checkpoint nor last.ckpt moves past epoch 0."""
    result = econdl(
        "fit",
        "--config",
        str(CONFIGS / "gdp/mlp.yaml"),
        "--trainer.max_epochs=3",
        "--trainer.enable_progress_bar=false",
        *EVERY_EPOCH,
        "--trainer.callbacks+=fault_injection.ScaleAfterLastStep",
        "--trainer.callbacks.epoch=1",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "the validation loss became nan at epoch 1" in result.stderr, result.stderr[-2000:]
    assert "although the weights are finite: the model's outputs overflow" in result.stderr
    assert "test/rmse" not in result.stdout
    folder = tmp_path / "logs/gdp/mlp/version_0/checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["best-epoch000.ckpt", "last.ckpt"]
    for ckpt in folder.iterdir():  # 4 updates an epoch: nothing of epoch 1 is in either
        assert torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"] == 4, ckpt.name


def test_the_divergence_message_gives_the_rate_of_the_failing_step_and_the_option_that_sets_it(tmp_path):
    """A rate multiplied by 30 each epoch blows the kink MLP up within a few epochs.  The message
    names the rate the failing step used (the one logged for its epoch, not the next epoch's,
    which the schedule has already set) and a tenth of it under --optimizer.lr."""
    import re

    import pandas as pd

    result = econdl(
        "fit",
        "--config",
        str(CONFIGS / "kink/mlp.yaml"),
        "--data.x_size=2000",
        "--model.net.init_args.batchnorm=false",
        "--lr_scheduler=torch.optim.lr_scheduler.StepLR",
        "--lr_scheduler.init_args.step_size=1",
        "--lr_scheduler.init_args.gamma=30",
        "--trainer.enable_progress_bar=false",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    found = re.search(
        r"at epoch (\d+), after optimizer step \d+\..*"
        r"\(lr=([0-9.e+-]+); try 10x lower, e\.g\. --optimizer\.lr ([0-9.e+-]+)\)",
        result.stderr,
    )
    assert found, result.stderr[-2000:]
    epoch, said, tenth = int(found[1]), float(found[2]), float(found[3])
    rates = pd.read_csv(tmp_path / "logs/kink/mlp/version_0/metrics.csv")["lr-AdamW"].dropna().tolist()
    assert said == pytest.approx(rates[epoch], rel=1e-2) and tenth == pytest.approx(said / 10, rel=1e-2)


def test_weights_that_break_in_the_last_epoch_are_reported_in_that_epoch(tmp_path):
    """No validation after the final epoch: the check before the fit's last checkpoint finds the
    NaN weights.  Lightning's current_epoch already counts one more there (it said epoch 3)."""
    result = econdl(
        "fit",
        "--config",
        str(CONFIGS / "kink/mlp.yaml"),
        "--data.init_args.x_size=600",
        "--trainer.max_epochs=3",
        "--trainer.check_val_every_n_epoch=2",
        "--trainer.enable_progress_bar=false",
        "--trainer.callbacks+=fault_injection.NaNAfterLastStep",
        "--trainer.callbacks.epoch=2",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "epoch 2; stopped before writing a checkpoint" in result.stderr, result.stderr[-2000:]


@pytest.mark.parametrize("weights_only", [True, False])
def test_checkpoints_saved_every_step_never_hold_nan_and_the_message_names_one_on_disk(tmp_path, weights_only):
    """A ModelCheckpoint of one's own that saves after every step: a weights-only one is saved
    without the callbacks' hook where the guard checks the weights, and wrote NaN files that
    the message called the last finite one; a full one made the message name the file of the
    refused save, which was never written."""
    extra = tmp_path / "every_step.yaml"
    extra.write_text(
        "trainer:\n"
        "  callbacks:\n"
        "    - class_path: lightning.pytorch.callbacks.ModelCheckpoint\n"
        "      init_args: {filename: 'step{step:04d}', every_n_train_steps: 1, save_top_k: -1, "
        f"save_weights_only: {str(weights_only).lower()}}}\n"
        "    - class_path: econdl.callbacks.FiniteLossGuard\n"
    )
    result = econdl(
        "fit",
        "--config",
        str(CONFIGS / "kink/mlp.yaml"),
        "--config",
        str(extra),
        "--data.x_size=2000",
        "--optimizer.lr=1e6",
        "--trainer.max_epochs=3",
        "--trainer.enable_progress_bar=false",
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "NaN or infinite" in result.stderr
    written = list(tmp_path.glob("logs/**/checkpoints/*.ckpt"))
    assert written, result.stderr  # the steps before the divergence were saved
    for ckpt in written:
        loaded = torch.load(ckpt, map_location="cpu", weights_only=False)
        assert all(bool(torch.isfinite(t).all()) for t in loaded["state_dict"].values() if t.is_floating_point())
    run = tmp_path / "logs/kink/mlp/version_0/checkpoints"  # the config with the model names the run
    if weights_only:  # refused by the weights-only save itself, which names the file it did not write
        refused = re.search(r"; (\S+\.ckpt) was not written \(no checkpoint holds non-finite weights\)", result.stderr)
        assert refused and Path(refused.group(1)).parent == run.relative_to(tmp_path), result.stderr
        assert not (tmp_path / refused.group(1)).exists()
    else:  # the guard's message names the last finite checkpoint, which is on disk
        kept = re.search(r"the last finite one is kept \((\S+\.ckpt)\)", result.stderr)
        assert kept and (tmp_path / kept.group(1)).is_file(), result.stderr
        assert Path(kept.group(1)).parent == run.relative_to(tmp_path)


def test_a_closed_form_fit_whose_coefficients_overflow_is_named_with_advice_for_closed_forms(tmp_path):
    """A polynomial of inputs near 1e38: the least-squares coefficients came out NaN, and the
    message said the weights were finite and advised a lower learning rate, which the
    closed-form fit does not have."""
    result = econdl(
        "fit",
        "--model",
        "econdl.tasks.PolynomialLS",
        "--model.degree=10",
        "--data",
        "fault_injection.ExtremeInputs",
        "--trainer.enable_progress_bar=false",
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "the weights became NaN or infinite (coef)" in result.stderr, result.stderr
    assert "design matrix" in result.stderr and "--optimizer.lr" not in result.stderr
    assert "although the weights are finite" not in result.stderr
    for ckpt in tmp_path.glob("logs/**/*.ckpt"):
        assert non_finite_tensors(ckpt) == []


def test_the_kept_checkpoint_named_is_this_runs_not_another_runs_in_a_shared_folder(tmp_path):
    """Two runs saving into one folder: the second diverges before writing anything, and the
    message named the first run's newest file as the last finite one it kept."""
    shared = [
        "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
        f"--trainer.callbacks.dirpath={tmp_path / 'shared'}",
    ]
    shared += ["--trainer.callbacks.every_n_train_steps=1", "--trainer.callbacks.save_top_k=-1"]
    base = [
        "fit",
        "--config",
        str(CONFIGS / "kink/mlp.yaml"),
        "--data.x_size=2000",
        "--trainer.enable_progress_bar=false",
    ]
    first = econdl(*base, *shared, "--trainer.max_epochs=1")
    assert first.returncode == 0 and list((tmp_path / "shared").glob("*.ckpt")), first.stderr
    shared[-2] = "--trainer.callbacks.every_n_train_steps=1000"  # the second run writes nothing before it diverges
    second = econdl(*base, *shared, "--optimizer.lr=1e6", "--trainer.max_epochs=3")
    assert second.returncode == 1 and "Traceback" not in second.stderr, second.stderr
    assert "the last finite one is kept (none written yet)" in second.stderr, second.stderr


def test_every_floating_prediction_column_is_checked_but_actuals_and_interval_bounds():
    """Photo predictions are p_female/p_male, which the check did not read: NaN probabilities
    were written with exit status 0.  A forecast's missing actuals and infinite bounds are
    what they should be and pass."""
    from types import SimpleNamespace

    import pandas as pd

    from econdl.callbacks.guards import NonFiniteLossError
    from econdl.callbacks.predictions import _refuse_non_finite

    trainer = SimpleNamespace(ckpt_path="run/last.ckpt", lightning_module=None)
    nan, inf = float("nan"), float("inf")
    photos = pd.DataFrame({"path": ["a.jpg", "b.jpg"], "predicted": ["Female", "Male"], "p_female": [0.3, nan]})
    with pytest.raises(NonFiniteLossError, match="1 of 2 predictions are NaN or infinite"):
        _refuse_non_finite(photos, trainer, Path("predictions.csv"))
    forecasts = pd.DataFrame(
        {
            "origin": ["2009Q3"] * 2,
            "forecast": [1.0, 2.0],
            "actual": [nan, nan],
            "lower_99": [-inf, 0.0],
            "upper_99": [inf, 3.0],
        }
    )
    _refuse_non_finite(forecasts, trainer, Path("predictions.csv"))  # accepted
    with pytest.raises(NonFiniteLossError, match="2 of 2 predictions"):
        _refuse_non_finite(forecasts.assign(forecast=[inf, nan]), trainer, Path("predictions.csv"))
