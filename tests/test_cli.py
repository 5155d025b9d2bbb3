"""The `econdl` command driven as a user drives it: success and failure paths."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import CONFIGS, FAST, printed_metric, run_econdl
from econdl.cli import cli_main
from econdl.errors import ConfigError


def test_fit_writes_run_directory_and_tests_best_checkpoint(tmp_path):
    cli = cli_main(["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), "--trainer.max_epochs=3", *FAST])
    run = tmp_path / "logs/kink/mlp/version_0"
    assert Path(cli.trainer.log_dir).resolve() == run.resolve()
    assert (run / "config.yaml").is_file() and (run / "metrics.csv").is_file()
    assert list(run.glob("events.out.tfevents.*")), "TensorBoard events missing"
    ckpts = {p.name for p in (run / "checkpoints").iterdir()}
    assert "last.ckpt" in ckpts and any(n.startswith("best-") for n in ckpts)
    metrics = pd.read_csv(run / "metrics.csv")
    assert {"train/loss", "val/loss", "test/rmse", "test/loss"} <= set(metrics.columns)
    assert metrics["test/rmse"].notna().sum() == 1  # fit ended with one test of the best checkpoint
    assert cli.trainer.current_epoch == 3
    # a second run gets its own version directory
    cli_main(["fit", "--config", str(CONFIGS / "kink/chebyshev.yaml"), *FAST])
    cli_main(["fit", "--config", str(CONFIGS / "kink/chebyshev.yaml"), *FAST])
    assert (tmp_path / "logs/kink/chebyshev/version_1/checkpoints").is_dir()


@pytest.mark.parametrize("override, sanity_batches", [([], 0), (["--trainer.num_sanity_val_steps=2"], 1)])
def test_a_default_fit_trains_from_its_first_batch_without_a_sanity_validation(tmp_path, override, sanity_batches):
    """No validation batch runs before the first training batch unless asked for (a sanity
    check's results are thrown away; it costs a default fit one validation pass)."""
    import lightning as L

    events: list[str] = []

    class Order(L.Callback):
        def on_validation_batch_start(self, trainer, *args):
            events.append("sanity" if trainer.sanity_checking else "val")

        def on_train_batch_start(self, trainer, *args):
            events.append("train")

    cli = cli_main(["--config", str(CONFIGS / "kink/mlp.yaml"), "--trainer.max_epochs=1", *FAST, *override], run=False)
    cli.trainer.callbacks.append(Order())
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert events.count("sanity") == sanity_batches  # the kink task's 1 validation batch at FAST sizes
    assert events.index("train") == sanity_batches and "val" in events


def test_saved_config_refits_identically(tmp_path):
    """A run's config.yaml holds every setting, those given on the command line included: fitted
    again, it gives the same coefficients and test scores, as the same run name's next version."""
    given = ["--model.init_args.degree=7", "--data.init_args.split_seed=3", "--data.init_args.noise=0.2"]
    first = cli_main(["fit", "--config", str(CONFIGS / "kink/polynomial.yaml"), *FAST, *given])
    saved = tmp_path / "logs/kink/polynomial/version_0/config.yaml"
    again = cli_main(["fit", "--config", str(saved)])
    assert (tmp_path / "logs/kink/polynomial/version_1/checkpoints/last.ckpt").is_file()  # same run name
    assert (again.datamodule.x_size, again.datamodule.split_seed, again.model.degree) == (512, 3, 7)
    assert torch.equal(again.model.coef, first.model.coef) and first.model.coef.shape == (8, 1)
    scores = [
        {k: float(v) for k, v in c.trainer.callback_metrics.items() if k.startswith("test/")} for c in (first, again)
    ]
    assert scores[0] == scores[1] and "test/rmse" in scores[0]


def test_a_config_file_without_a_model_does_not_name_the_run(tmp_path):
    """`--config configs/kink/polynomial.yaml --config fast.yaml` (trainer settings of one's own)
    was a run named after fast.yaml's folder and file; the config that names the model names it.
    A later file with a model section of its own names the run, as before."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/fast.yaml").write_text("trainer:\n  max_epochs: 1\n")
    (tmp_path / "mine/deg3.yaml").write_text("model:\n  init_args:\n    degree: 3\n")
    base = ["fit", "--config", str(CONFIGS / "kink/polynomial.yaml"), *FAST]
    cli_main([*base, "--config", str(tmp_path / "mine/fast.yaml")])
    cli_main([*base, "--config", str(tmp_path / "mine/deg3.yaml")])
    assert sorted(str(p.relative_to(tmp_path / "logs")) for p in (tmp_path / "logs").glob("*/*/version_*")) == [
        "kink/polynomial/version_0",
        "mine/deg3/version_0",
    ]


def test_a_fit_saves_its_config_validated_once_and_as_a_checked_dump_writes_it(tmp_path, monkeypatch):
    """The run's config.yaml is written without a second validation (it was validated when
    parsed; the check is most of the save's time inside the fit's clock), and the file is
    exactly what the checked dump gives."""
    from jsonargparse import ArgumentParser

    checks = []
    validate = ArgumentParser.validate
    monkeypatch.setattr(ArgumentParser, "validate", lambda self, *a, **k: checks.append(1) or validate(self, *a, **k))
    cli = cli_main(["--config", str(CONFIGS / "kink/mlp.yaml"), "--trainer.max_epochs=1", *FAST], run=False)
    parsed = len(checks)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert len(checks) == parsed, "the fit validated its config again when saving it"
    saved = Path(cli.trainer.log_dir) / "config.yaml"
    assert saved.read_text() == cli.parser.dump(cli.config, skip_none=False)


def test_test_subcommand_in_a_later_process_reproduces_fit_metrics(tmp_path):
    cli = cli_main(["fit", "--config", str(CONFIGS / "kink/relu_basis.yaml"), *FAST])
    fitted = float(cli.trainer.callback_metrics["test/rmse"])
    ckpt = next((tmp_path / "logs/kink/relu_basis/version_0/checkpoints").glob("best-*.ckpt"))
    result = run_econdl("test", "--config", str(CONFIGS / "kink/relu_basis.yaml"), *FAST, "--ckpt_path", str(ckpt))
    assert result.returncode == 0, result.stderr
    assert printed_metric(result.stdout, "test/rmse") == pytest.approx(fitted, rel=1e-6)


def test_test_with_ckpt_path_best_or_last_loads_the_newest_runs_checkpoint(tmp_path):
    """`econdl test --ckpt_path best` in a new process tests what `fit` tested at its end (the
    newest run's best checkpoint); `last` loads that run's last.ckpt."""
    config = str(CONFIGS / "kink/mlp.yaml")
    cli_main(["fit", "--config", config, "--trainer.max_epochs=2", *FAST])  # an older run
    cli = cli_main(["fit", "--config", config, "--trainer.max_epochs=4", "--seed_everything=3", *FAST])
    fitted = float(cli.trainer.callback_metrics["test/rmse"])
    run = tmp_path / "logs/kink/mlp/version_1/checkpoints"
    best = run_econdl("test", "--config", config, *FAST, "--ckpt_path", "best")
    assert best.returncode == 0, best.stderr
    assert f"test: {Path('logs/kink/mlp/version_1/checkpoints') / next(run.glob('best-*.ckpt')).name}" in best.stdout
    assert printed_metric(best.stdout, "test/rmse") == pytest.approx(fitted, rel=1e-6)
    last = run_econdl("test", "--config", config, *FAST, "--ckpt_path", "last")
    assert last.returncode == 0, last.stderr
    assert "test: logs/kink/mlp/version_1/checkpoints/last.ckpt" in last.stdout
    weights = torch.load(run / "last.ckpt", weights_only=False)["state_dict"]
    model = cli.model
    model.load_state_dict(weights)
    dm = cli.datamodule
    x, y = dm.split("test")[:2]
    model.eval()
    with torch.no_grad():
        rmse = float(((model.unscale(model(x)) - dm.unscale(y)) ** 2).mean().sqrt())
    assert printed_metric(last.stdout, "test/rmse") == pytest.approx(rmse, rel=1e-5)
    # a saved run's config.yaml with `best` tests that run, not the newest one
    older = run_econdl("test", "--config", "logs/kink/mlp/version_0/config.yaml", "--ckpt_path", "best")
    assert older.returncode == 0, older.stderr
    assert "test: logs/kink/mlp/version_0/checkpoints/best-epoch" in older.stdout


def test_best_is_the_checkpoint_the_run_recorded_as_best_not_the_newest_file(tmp_path):
    """With save_top_k > 1 a run keeps several best-*.ckpt files; `best` is the one its
    ModelCheckpoint recorded (in last.ckpt, else in the newest best file), whatever the mtimes."""
    import os

    from econdl.checkpointing import run_checkpoint

    folder = tmp_path / "run/checkpoints"
    folder.mkdir(parents=True)

    def write(name: str, recorded: str | None, mtime: int) -> None:
        state = {"ModelCheckpoint{'monitor': 'val/loss'}": {"best_model_path": f"/elsewhere/{recorded}"}}
        torch.save({"state_dict": {}, "callbacks": state if recorded else {}}, folder / name)
        os.utime(folder / name, ns=(mtime, mtime))

    write("best-epoch000.ckpt", "best-epoch000.ckpt", 1)
    write("best-epoch005.ckpt", "best-epoch005.ckpt", 2)
    write("best-epoch009.ckpt", "best-epoch005.ckpt", 3)  # kept as a top-3 file, not the best
    assert run_checkpoint(tmp_path / "run", "best") == folder / "best-epoch005.ckpt"
    write("last.ckpt", "best-epoch000.ckpt", 4)  # last.ckpt's record wins
    assert run_checkpoint(tmp_path / "run", "best") == folder / "best-epoch000.ckpt"
    (folder / "last.ckpt").unlink()
    for name in ("best-epoch000.ckpt", "best-epoch005.ckpt", "best-epoch009.ckpt"):
        write(name, None, {"best-epoch000.ckpt": 1, "best-epoch005.ckpt": 3, "best-epoch009.ckpt": 2}[name])
    assert run_checkpoint(tmp_path / "run", "best") == folder / "best-epoch005.ckpt"  # no record: the newest


def test_one_save_dir_moves_only_file_loggers_left_at_the_default(capsys):
    from jsonargparse import Namespace

    from econdl.checkpointing import one_save_dir

    def logger(cls: str, save_dir: str) -> Namespace:
        return Namespace(class_path=cls, init_args=Namespace(save_dir=save_dir))

    config = Namespace(logger=[logger("econdl.loggers.CSVLogger", "logs"), logger("x.MLFlowLogger", "./mlruns")])
    one_save_dir(config)
    assert [lg.init_args.save_dir for lg in config.logger] == [
        "logs",
        "./mlruns",
    ]  # another kind of logger: not a run folder
    config = Namespace(
        logger=[logger("econdl.loggers.CSVLogger", "logs"), logger("econdl.loggers.TensorBoardLogger", "tb")]
    )
    one_save_dir(config)
    assert [lg.init_args.save_dir for lg in config.logger] == ["tb", "tb"]
    assert "CSVLogger writes to tb as well" in capsys.readouterr().out


def test_ckpt_path_last_finds_version_10_after_version_9_not_version_9_by_its_name(tmp_path):
    from econdl.checkpointing import latest_run_with, run_folders

    for n in (2, 9, 10):
        (tmp_path / f"kink/mlp/version_{n}/checkpoints").mkdir(parents=True)
        (tmp_path / f"kink/mlp/version_{n}/checkpoints/last.ckpt").write_bytes(b"")
    (tmp_path / "kink/mlp/version_x").mkdir()  # not a version folder
    assert [p.name for p in run_folders(tmp_path, "kink/mlp")] == ["version_2", "version_9", "version_10"]
    assert latest_run_with(tmp_path, "kink/mlp") == tmp_path / "kink/mlp/version_10"


def test_a_resume_callback_given_on_the_command_line_replaces_the_default_one():
    from jsonargparse import Namespace

    from econdl.checkpointing import keep_last_resume_callback

    def callback(cls: str, every_seconds: float) -> Namespace:
        return Namespace(class_path=cls, init_args=Namespace(every_seconds=every_seconds))

    config = Namespace(
        callbacks=[
            callback("econdl.callbacks.ResumeCheckpoint", 300.0),  # the trainer defaults'
            callback("lightning.pytorch.callbacks.ModelCheckpoint", 0),
            callback("econdl.callbacks.ResumeCheckpoint", 0.0),  # --trainer.callbacks+=...
        ]
    )
    keep_last_resume_callback(config)
    assert [(c.class_path.rsplit(".", 1)[-1], c.init_args.every_seconds) for c in config.callbacks] == [
        ("ModelCheckpoint", 0),
        ("ResumeCheckpoint", 0.0),
    ]


def test_predict_returns_predictions_in_data_units():
    """GDP targets are standardised for the fit (mean and sd of the training growth rates, not
    0 and 1): predictions come back in percent growth, where the test RMSE is computed."""
    cli = cli_main(["fit", "--config", str(CONFIGS / "gdp/ar.yaml"), "--trainer.enable_progress_bar=false"])
    dm = cli.datamodule
    assert abs(dm.target_scale - 1) > 0.5 and abs(dm.target_loc) > 0.5
    tested = float(cli.trainer.callback_metrics["test/rmse"])
    preds = torch.cat(cli.trainer.predict(cli.model, dataloaders=dm.loader("test"))).double()
    y = dm.test_targets().double()
    assert preds.shape == y.shape
    assert float(((preds - y) ** 2).mean().sqrt()) == pytest.approx(tested, rel=1e-5)


def test_misspelt_key_exits_nonzero_naming_it():
    result = run_econdl("fit", "--config", str(CONFIGS / "kink/mlp.yaml"), "--trainer.max_epochz=3")
    assert result.returncode != 0
    assert "max_epochz" in result.stderr


def test_misspelt_key_in_a_config_file_names_it(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((CONFIGS / "kink/polynomial.yaml").read_text().replace("degree: 10", "degre: 10"))
    result = run_econdl("fit", "--config", str(bad))
    assert result.returncode != 0 and "degre" in result.stderr


def test_bad_value_gives_a_clear_error_without_traceback(tmp_path):
    result = run_econdl(
        "fit",
        "--config",
        str(CONFIGS / "kink/polynomial.yaml"),
        "--model.init_args.degree=40",
        "--data.init_args.x_size=30",
    )
    assert result.returncode == 1
    assert "needs at least 41 training points, got 30" in result.stderr
    assert "Traceback" not in result.stderr


def test_print_config_shows_trainer_defaults_and_experiment():
    result = run_econdl("fit", "--config", str(CONFIGS / "kink/mlp.yaml"), "--print_config")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "econdl.tasks.Regressor" in out and "ModelCheckpoint" in out and "EarlyStopping" in out
    assert "monitor: val/loss" in out and "CSVLogger" in out


def test_passthrough_trainer_flags_reach_the_trainer():
    cli = cli_main(
        [
            "fit",
            "--config",
            str(CONFIGS / "kink/chebyshev.yaml"),
            *FAST,
            "--trainer.accelerator=cpu",
            "--trainer.precision=64-true",
            "--trainer.devices=1",
        ]
    )
    assert cli.trainer.precision == "64-true"
    assert cli.trainer.num_devices == 1


def test_linear_regression_recovers_theta():
    cli = cli_main(
        [
            "fit",
            "--config",
            str(CONFIGS / "linear/sgd.yaml"),
            "--data.init_args.sigma=0",
            "--data.init_args.n=4000",
            "--optimizer.lr=0.05",
            "--trainer.max_epochs=5",
            "--trainer.enable_progress_bar=false",
        ]
    )
    x, y = (t.double().numpy() for t in cli.datamodule.split("train"))
    ols = np.linalg.lstsq(x, y.ravel(), rcond=None)[0]  # without noise: the true theta, to rounding
    weight = cli.model.net.weight.detach().double().numpy().ravel()
    assert np.abs(weight - ols).max() < 1e-3 and np.abs(ols).min() > 0.05  # coefficients away from zero
    reported = cli.datamodule.describe_model(cli.model)["theta_error"]  # the table's column
    assert reported == pytest.approx(float(np.linalg.norm(weight - cli.datamodule.theta.double().numpy())), abs=1e-6)


def test_linear_data_splits_are_consecutive_disjoint_blocks_of_the_shares():
    from econdl.data.linear import LinearDataModule

    dm = LinearDataModule(n=100, m=3, sigma=0.0, proportions=(0.7, 0.2, 0.1))
    parts = [dm.split(s) for s in ("train", "val", "test")]
    assert [len(x) for x, _ in parts] == [70, 20, 10]
    x_all = torch.cat([x for x, _ in parts]).numpy()
    assert len(np.unique(x_all, axis=0)) == 100  # every row in exactly one split
    x, y = (t.double().numpy() for t in parts[2])
    np.testing.assert_allclose(y.ravel(), x @ dm.theta.double().numpy(), atol=1e-5)  # sigma=0: exact


def test_linear_data_noise_has_standard_deviation_sigma_and_x_is_drawn_apart_from_theta():
    from econdl.data.linear import LinearDataModule

    dm = LinearDataModule(n=20_000, m=2, sigma=0.5)
    x, y = (t.double().numpy() for t in dm.split("train"))
    resid = y.ravel() - x @ dm.theta.double().numpy()
    assert 0.48 < np.std(resid, ddof=1) < 0.52
    # the regressors come from their own stream, not theta's: in a small draw (fewer than 16
    # numbers, drawn one by one) the same stream would make the first regressor theta itself
    small = LinearDataModule(n=10, m=1, sigma=0.0)
    assert float(small.split("train")[0][0, 0]) != pytest.approx(float(small.theta[0]))


def test_best_by_picks_the_checkpoint_with_the_best_validation_accuracy_or_the_last(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from helpers import tiny_data

    data = tiny_data("mnist", CONFIGS / "mnist/mlp.yaml", tmp_path)
    args = ["fit", "--config", str(CONFIGS / "mnist/mlp.yaml"), *data, "--trainer.max_epochs=4"]

    def fit(*extra: str) -> tuple[list[ModelCheckpoint], pd.DataFrame, Path]:
        cli = cli_main([*args, *extra, "--trainer.enable_progress_bar=false"])
        best = [cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint)]
        metrics = pd.read_csv(Path(cli.trainer.log_dir) / "metrics.csv")
        return best, metrics.dropna(subset=["val/acc"]).drop_duplicates("epoch", keep="last"), Path(cli.trainer.log_dir)

    # the shipped config's best_by: last, no choice among epochs; the final weights are tested
    best, per_epoch, run = fit()
    assert [cb.monitor for cb in best] == [None]
    assert Path(best[0].best_model_path).name == "best-epoch003.ckpt"
    assert sorted(p.name for p in (run / "checkpoints").glob("best-*.ckpt")) == ["best-epoch003.ckpt"]
    tested, final = (
        torch.load(p, weights_only=False)["state_dict"]
        for p in (best[0].best_model_path, run / "checkpoints/last.ckpt")
    )
    assert all(torch.equal(tested[k], final[k]) for k in final)

    best, per_epoch, run = fit("--best_by=val/acc")
    assert [(cb.monitor, cb.mode) for cb in best] == [("val/acc", "max")]
    chosen = int(per_epoch.loc[per_epoch["val/acc"].idxmax(), "epoch"])  # first epoch of the best accuracy
    assert Path(best[0].best_model_path).name == f"best-epoch{chosen:03d}.ckpt"
    # without best_by, the trainer config's val/loss decides
    best, per_epoch, run = fit("--best_by=null")
    assert [cb.monitor for cb in best] == ["val/loss"]


def test_best_by_refuses_a_test_set_metric():
    result = run_econdl("fit", "--config", str(CONFIGS / "kink/mlp.yaml"), "--best_by", "test/rmse", *FAST)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "--best_by test/rmse" in result.stderr and "val/" in result.stderr


def test_a_fit_without_loggers_runs_and_writes_no_logs(tmp_path):
    """`--trainer.logger false` (no metrics.csv, no TensorBoard) leaves out the learning-rate
    monitor, which Lightning refuses without a logger."""
    cli = cli_main(
        ["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), "--trainer.max_epochs=1", "--trainer.logger=false", *FAST]
    )
    assert cli.trainer.loggers == [] and "test/rmse" in cli.trainer.callback_metrics
    assert not list(tmp_path.rglob("metrics.csv")) and not list(tmp_path.rglob("events.out.tfevents.*"))


def test_a_fit_without_checkpointing_runs_and_tests_its_final_weights(tmp_path):
    """`--trainer.enable_checkpointing false` failed with Lightning's "found ModelCheckpoint in
    callbacks list": the trainer defaults add the checkpoint callbacks, not the user."""
    args = ["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), "--trainer.max_epochs=2", *FAST]
    result = run_econdl(*args, "--trainer.enable_checkpointing=false")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "no checkpoint was kept (--trainer.enable_checkpointing false): testing the final weights" in result.stdout
    assert (tmp_path / "logs/kink/mlp/version_0/metrics.csv").is_file() and not list(tmp_path.rglob("*.ckpt"))
    final = printed_metric(result.stdout, "test/rmse")
    # the same fit with checkpoints, its final weights tested: the same score
    kept = run_econdl(*args, "--best_by=last")
    assert kept.returncode == 0 and printed_metric(kept.stdout, "test/rmse") == final


def test_a_callbacks_list_without_a_best_checkpoint_says_the_final_weights_are_tested(tmp_path, capsys):
    """A config whose trainer.callbacks is only EarlyStopping replaces econdl's whole list, the
    best checkpoint by val/loss with it: Lightning's own checkpoint (no metric) then kept the
    last epoch, and the fit tested it as if it were the best, without a word."""
    only_stopping = tmp_path / "es.yaml"
    only_stopping.write_text(
        "trainer:\n  callbacks:\n    - class_path: econdl.callbacks.EarlyStopping\n"
        "      init_args: {monitor: val/loss, mode: min, patience: 2}\n"
    )
    args = ["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), "--config", str(only_stopping)]
    cli = cli_main([*args, "--trainer.max_epochs=2", *FAST])
    out = capsys.readouterr().out
    assert "no checkpoint watches a validation metric" in out and "testing the final weights" in out
    assert "ModelCheckpoint with monitor: val/loss" in out
    assert cli.trainer.checkpoint_callback.monitor is None
    cli_main([*args, "--trainer.max_epochs=2", "--best_by=last", *FAST])  # the final weights, meant: no note
    assert "no checkpoint watches" not in capsys.readouterr().out
    cli_main(["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), "--trainer.max_epochs=2", *FAST])  # the defaults
    assert "no checkpoint watches" not in capsys.readouterr().out


def test_a_plateau_schedule_steps_after_the_epochs_that_validate(capsys):
    """With validation every 3rd epoch, ReduceLROnPlateau on val/loss (patience 0) halves the
    rate exactly after the validations that did not improve, never on an epoch without one
    (Lightning failed at epoch 0 for want of val/loss, or would step again on a stale value)."""
    cli = cli_main(
        [
            "fit",
            "--config",
            str(CONFIGS / "kink/mlp.yaml"),
            *FAST,
            "--trainer.max_epochs=18",
            "--trainer.check_val_every_n_epoch=3",
            "--lr_scheduler.init_args.patience=0",
        ]
    )
    assert "validation runs every 3 epochs, so ReduceLROnPlateau on val/loss steps" in capsys.readouterr().out
    rows = pd.read_csv(Path(cli.trainer.log_dir) / "metrics.csv")
    val = rows.dropna(subset=["val/loss"]).set_index("epoch")["val/loss"]
    lr = rows.dropna(subset=["lr-AdamW"])["lr-AdamW"].tolist()  # one row per epoch, at its start
    assert list(val.index) == list(range(2, 18, 3)) and len(lr) == 18
    halvings = [sum(1 for e in val.index if e < epoch and not val[e] < best_before(val, e)) for epoch in range(18)]
    assert lr == pytest.approx([lr[0] * 0.5**h for h in halvings])
    assert lr[-1] < lr[0]  # the schedule acted


def best_before(val: pd.Series, epoch: float) -> float:
    """The best validation loss before ``epoch``'s, less ReduceLROnPlateau's threshold (rel 1e-4)."""
    earlier = val[val.index < epoch]
    return earlier.min() * (1 - 1e-4) if len(earlier) else float("inf")


def test_only_a_plateau_on_a_validation_metric_of_an_automatically_optimized_model_follows_validation():
    """A training metric is there every epoch; a model that steps its own schedules (manual
    optimization, e.g. LassoLogit) decides itself when they step."""
    from types import SimpleNamespace

    from econdl.cli import _plateau_after_validation

    def frequency(
        monitor: str, automatic: bool = True, every: int | None = 3, batches: int = 6, limit: float = 1.0
    ) -> int | None:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        out = {"optimizer": opt, "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(opt)}}
        out["lr_scheduler"]["monitor"] = monitor
        module = SimpleNamespace(automatic_optimization=automatic)
        trainer = SimpleNamespace(
            check_val_every_n_epoch=every,
            val_check_interval=16,
            estimated_stepping_batches=100 * batches,
            num_training_batches=batches,
            limit_val_batches=limit,
            lightning_module=module,
            is_global_zero=False,
        )
        _plateau_after_validation(trainer, out)
        return out["lr_scheduler"].get("frequency")

    assert frequency("val/loss") == 3
    assert frequency("val/acc", every=1) is None
    assert frequency("train/loss") is None and frequency("train/loss", every=None) is None
    assert frequency("val/loss", automatic=False) is None
    # no validation at all: refused, whatever the epochs (Lightning failed at the first epoch's end)
    for every in (1, 3):
        with pytest.raises(ConfigError, match="limit_val_batches 0 runs no validation"):
            frequency("val/loss", every=every, limit=0)
    assert frequency("train/loss", every=1, limit=0) is None  # a training metric is there every epoch
    # validation every 16 batches across epochs: an epoch of 6 batches can end without val/loss
    # (Lightning failed there); one of 8 validates at every second epoch's end, one of 16 or 32 at each
    with pytest.raises(ConfigError, match="check_val_every_n_epoch null validates every 16 training batches"):
        frequency("val/loss", every=None)
    assert frequency("val/loss", every=None, batches=8) == 2
    assert (
        frequency("val/loss", every=None, batches=16) is None and frequency("val/loss", every=None, batches=32) is None
    )


@pytest.mark.parametrize(
    "limits",
    [
        ["--trainer.max_epochs=4", "--trainer.check_val_every_n_epoch=3"],  # the last epoch does not validate
        ["--trainer.max_steps=11", "--trainer.val_check_interval=0.5", "--data.batch_size=64"],  # ends mid-epoch
    ],
)
def test_best_by_last_tests_the_final_weights_when_the_fit_ends_without_a_validation(tmp_path, limits):
    """`--best_by last` kept the weights of the last validation, which the fit then tested as its
    'final' weights (and `--ckpt_path best` loaded later)."""
    cli = cli_main(["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--best_by=last", *limits])
    best = [c for c in cli.trainer.callbacks if type(c).__name__ == "ModelCheckpoint"][0].best_model_path
    tested, final = (
        torch.load(p, weights_only=False) for p in (best, Path(cli.trainer.log_dir) / "checkpoints/last.ckpt")
    )
    assert tested["global_step"] == final["global_step"] == cli.trainer.global_step
    assert all(torch.equal(tested["state_dict"][k], v) for k, v in final["state_dict"].items())


def test_a_command_that_fails_before_its_run_starts_leaves_its_config_in_its_run_folder(tmp_path):
    """Bad data fails in Lightning's setup, before Lightning saves the config: the run folder
    (already reserved, so the next run takes the next number) keeps the config that failed."""
    missing = tmp_path / "no-digits-here"
    failed = run_econdl("fit", "--config", str(CONFIGS / "mnist/mlp.yaml"), f"--data.data_dir={missing}")
    assert failed.returncode == 1 and "econdl: error: mnist data not found" in failed.stderr
    saved = tmp_path / "logs/mnist/mlp/version_0/config.yaml"
    assert saved.is_file(), sorted(str(p) for p in (tmp_path / "logs").rglob("*"))
    assert f"data_dir: {missing}" in saved.read_text()
    again = run_econdl("fit", "--config", str(saved))  # fitting it again fails the same way, in a new folder
    assert again.returncode == 1 and "mnist data not found" in again.stderr
    assert (tmp_path / "logs/mnist/mlp/version_1/config.yaml").is_file()


def test_a_step_limit_inside_the_first_epoch_tests_the_final_weights(tmp_path, capsys):
    """`--trainer.max_steps` smaller than an epoch ends the fit before its first validation;
    early stopping has nothing to check then (Lightning's stopped the fit with an error)."""
    cli = cli_main(["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--trainer.max_steps=3"])
    assert cli.trainer.global_step == 3 and cli.trainer.state.status == "finished"
    printed = capsys.readouterr().out
    assert "the fit ended (step 3) before any validation" in printed and "testing the final weights" in printed
    assert cli.trainer.callback_metrics["test/loss"].isfinite()
    stopping = [c for c in cli.trainer.callbacks if type(c).__name__ == "EarlyStopping"]
    assert stopping and stopping[0].wait_count == 0


def test_a_sanity_check_is_no_validation_for_early_stopping(tmp_path):
    """Lightning's sanity check (--trainer.num_sanity_val_steps 2) validates before training, but
    logs nothing to check: a step limit inside the first epoch still ends the fit normally."""
    args = [*FAST, "--trainer.max_steps=3", "--trainer.num_sanity_val_steps=2"]
    cli = cli_main(["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *args])
    assert cli.trainer.global_step == 3 and cli.trainer.state.status == "finished"
    assert cli.trainer.callback_metrics["test/loss"].isfinite()


def test_a_monitor_that_validation_never_logs_is_still_an_error(tmp_path):
    from econdl.callbacks import EarlyStopping

    args = ["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST, "--trainer.max_epochs=2", "--best_by=last"]
    with pytest.raises(RuntimeError, match="val/nothing"):
        cli_main(
            [*args, "--trainer.callbacks+=econdl.callbacks.EarlyStopping", "--trainer.callbacks.monitor=val/nothing"]
        )
    assert EarlyStopping.__qualname__ == "EarlyStopping"  # checkpoints keep its state under Lightning's key


def test_early_stopping_on_a_training_metric_stops_a_fit_that_never_validates(tmp_path):
    """A monitored metric that training logs is there before any validation: it is checked
    at every epoch's end, as in Lightning, although no validation ever runs."""
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    from econdl.callbacks import EarlyStopping

    class Line(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(1, 1)

        def training_step(self, batch, batch_idx):
            loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
            self.log("train/loss", loss, on_epoch=True, on_step=False)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    x = torch.linspace(0, 1, 32).unsqueeze(1)
    stop = EarlyStopping(monitor="train/loss", stopping_threshold=1e9)  # below it at once: stop
    trainer = L.Trainer(
        max_epochs=5,
        limit_val_batches=0,
        callbacks=[stop],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(Line(), DataLoader(TensorDataset(x, 2 * x), batch_size=8))
    assert trainer.current_epoch == 1 and stop.stopped_epoch == 0 and trainer.should_stop


def test_a_trial_run_writes_no_checkpoint_anywhere(tmp_path):
    """`--trainer.fast_dev_run` suppresses Lightning's logging and checkpoints; last.ckpt went to
    ./checkpoints, where the next trial run of another model replaced it."""
    for config in ("kink/mlp.yaml", "kink/polynomial.yaml"):
        cli = cli_main(["fit", "--config", str(CONFIGS / config), *FAST, "--trainer.fast_dev_run=true"])
        assert cli.trainer.state.status == "finished"
    assert not list(tmp_path.rglob("*.ckpt"))


def test_best_of_a_run_that_chose_no_epoch_points_to_last(tmp_path, capsys):
    from econdl.errors import CheckpointNotFound

    config = str(CONFIGS / "gdp/random_walk.yaml")
    cli_main(["fit", "--config", config, "--trainer.enable_progress_bar=false"], verbose_test=False)
    assert "before any validation" not in capsys.readouterr().out  # it validated (nothing to choose)
    with pytest.raises(CheckpointNotFound, match=r"holds last.ckpt but no best-\*.ckpt.*use --ckpt_path last"):
        cli_main(["test", "--config", config, "--ckpt_path=best"])
    tested = cli_main(["test", "--config", config, "--ckpt_path=last", "--trainer.enable_progress_bar=false"])
    assert tested.trainer.ckpt_path.endswith("gdp/random_walk/version_0/checkpoints/last.ckpt")
    assert float(tested.trainer.callback_metrics["test/rmse"]) > 0  # the random walk's forecasts were scored


@pytest.mark.parametrize(
    ("readme", "option"),
    [
        ("econdl fit --data.help KinkDataModule", "--data.x_size"),
        ("econdl fit --model.help econdl.tasks.Regressor", "--model.net"),
        ("econdl fit --config FILE\n--model.init_args.net.help econdl.nets.MLP", "--net.widths"),
        ("econdl fit --optimizer.help AdamW", "--optimizer.lr"),
    ],
)
def test_the_readmes_option_help_commands_list_the_options(readme, option):
    from helpers import REPO

    assert readme in (REPO / "README.md").read_text()
    args = readme.replace("FILE", str(CONFIGS / "kink/mlp.yaml")).split()[1:]
    shown = run_econdl(*args)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert option in shown.stdout


def test_optimizer_and_schedule_settings_beyond_the_weights_dtype_are_refused_naming_the_option():
    """lr 1e300 failed inside torch's update ("value cannot be converted to type float without
    overflow") and was reported as an econdl bug; the schedule's own running state (the
    plateau's infinite `best`) is not a setting and passes."""
    from econdl.cli import _check_settings_fit_the_weights
    from econdl.errors import ConfigError
    from econdl.schedules import OneCycleLR

    weights = [torch.nn.Parameter(torch.zeros(3))]
    opt = torch.optim.SGD(weights, lr=1e300)
    with pytest.raises(ConfigError, match=r"--optimizer\.lr 1e\+300 is beyond the largest number the float32"):
        _check_settings_fit_the_weights(opt, None)
    opt = torch.optim.AdamW(weights, lr=1e-3)
    _check_settings_fit_the_weights(opt, torch.optim.lr_scheduler.ReduceLROnPlateau(opt))
    with pytest.raises(ConfigError, match=r"--lr_scheduler\.max_lr 1e\+300"):
        _check_settings_fit_the_weights(opt, OneCycleLR(opt, max_lr=1e300))
    doubles = [torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))]
    _check_settings_fit_the_weights(torch.optim.SGD(doubles, lr=1e300), None)  # float64 weights hold it


def test_seed_everything_true_draws_a_seed_and_records_it(tmp_path, capsys):
    """`--seed_everything true` promised a random seed, and Lightning seeded every such run with 0."""
    import yaml

    args = ["fit", "--config", str(CONFIGS / "kink/polynomial.yaml"), *FAST, "--seed_everything=true"]
    seeds = []
    for _ in range(2):
        cli = cli_main(args)
        saved = yaml.safe_load((Path(cli.trainer.log_dir) / "config.yaml").read_text())["seed_everything"]
        assert isinstance(saved, int) and not isinstance(saved, bool)
        assert (
            f"--seed_everything true: random seed {saved} (recorded in the run's config.yaml)"
            in capsys.readouterr().out
        )
        seeds.append(saved)
    assert seeds[0] != seeds[1] and 0 not in seeds


def test_validate_or_test_on_a_split_other_than_the_fits_is_refused(tmp_path):
    """`econdl validate ... --data.val_size 1` scored a checkpoint on a validation set carved
    otherwise than its fit's, which can hold the examples it was trained on, without a word."""
    from econdl.errors import CheckpointError

    kink = ["--config", str(CONFIGS / "kink/polynomial.yaml"), *FAST]
    cli_main(["fit", *kink])
    explicit = f"--ckpt_path={tmp_path / 'logs/kink/polynomial/version_0/checkpoints/last.ckpt'}"
    for ckpt in ("--ckpt_path=last", explicit):  # a run's newest checkpoint, or a path
        with pytest.raises(
            CheckpointError, match=r"validation set with other settings .*\(x_size 512 in the fit, 400 now\)"
        ):
            cli_main(["validate", *kink, "--data.init_args.x_size=400", ckpt])
    # a larger x_size draws its validation points after every training point of the fit's: taken
    assert cli_main(["validate", *kink, "--data.init_args.x_size=600", "--ckpt_path=last"]).trainer.callback_metrics
    # kink's test points are a grid of the function, never training points: another size tests
    assert cli_main(["test", *kink, "--data.init_args.test_size=100", "--ckpt_path=last"]).trainer.callback_metrics
    linear = ["--config", str(CONFIGS / "linear/sgd.yaml"), "--data.n=1000", "--trainer.max_epochs=1", *FAST[-2:]]
    cli_main(["fit", *linear])
    words = r"its test set with other settings .*\(proportions \[0.8, 0.1, 0.1\] in the fit, \[0.7, 0.2, 0.1\] now\)"
    with pytest.raises(CheckpointError, match=words + ".*test with the fit's data settings"):
        cli_main(["test", *linear, "--data.proportions=[0.7, 0.2, 0.1]", "--ckpt_path=last"])
    # the same split, in batches of another size: taken
    assert cli_main(["test", *linear, "--data.batch_size=64", "--ckpt_path=last"]).trainer.callback_metrics


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "trainer:\n  max_epochs: 3\n\t\tmin_epochs: 1\n",
            "bad.yaml, line 3, column 1: not valid YAML (found character '\\t' that cannot start any token); "
            "YAML indents with spaces, not tabs",
        ),
        (
            "trainer:\n  max_epochs: 3\n   min_epochs: 1\n",
            "bad.yaml, line 3, column 14: not valid YAML (mapping values are not allowed here); check the "
            "indentation of this line and the line above",
        ),
        (  # plain YAML keeps the last value without a word: the fit ran 4 epochs
            "trainer:\n  max_epochs: 3\n  min_epochs: 1\n  max_epochs: 4\n",
            "bad.yaml, line 4: 'max_epochs' is given twice in one section (first on line 2); keep one of the two lines",
        ),
        (  # two spellings of one key
            "data:\n  1: a\n  1.0: b\n",
            "bad.yaml, line 3: '1.0' is the same key as '1' in one section (first on line 2)",
        ),
        (  # a quote left open runs to the end of the file: the line it was opened on is named
            'trainer:\n  default_root_dir: "runs\n  max_epochs: 3\n',
            "bad.yaml, line 4, column 1: not valid YAML (found unexpected end of stream); close the bracket or "
            "quote opened on line 2 (while scanning a quoted scalar)",
        ),
        (  # a list as a key: PyYAML's own refusal, not a TypeError from the duplicate check
            "model:\n  ? [a, b]\n  : 1\n",
            "bad.yaml, line 2, column 5: not valid YAML (found unhashable key)",
        ),
    ],
)
def test_a_config_that_is_not_yaml_is_named_with_its_line_and_fix(tmp_path, text, words, capsys):
    """A tab or a misindented key gave `error: in "<unicode string>", line 5, column 1`: no file, no fix."""
    from econdl.main import main

    (tmp_path / "bad.yaml").write_text(text)
    for args in (["fit", "--config", "bad.yaml"], ["compare", "bad.yaml"]):
        with pytest.raises(SystemExit) as stop:
            main(args)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and "Traceback" not in err and words in err, err


def test_a_config_may_merge_an_anchored_section_and_override_its_keys(tmp_path):
    """`<<: *anchor` is YAML's way to share settings; a key given after it overrides the merged
    one and is not a key given twice."""
    from econdl.yamlfile import read_yaml

    (tmp_path / "shared.yaml").write_text(
        "base: &base\n  max_epochs: 3\n  min_epochs: 1\ntrainer:\n  <<: *base\n  max_epochs: 5\n"
    )
    assert read_yaml(tmp_path / "shared.yaml")["trainer"] == {"max_epochs": 5, "min_epochs": 1}


def test_a_config_file_given_with_an_equals_sign_in_its_name_is_checked_as_well(tmp_path, capsys):
    """`--config=run=2.yaml`: the file is everything after the first `=`, so its mistake is
    still named with its line and fix."""
    from econdl.main import main

    (tmp_path / "run=2.yaml").write_text("trainer:\n  max_epochs: 3\n  max_epochs: 4\n")
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--config=run=2.yaml"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "run=2.yaml, line 3: 'max_epochs' is given twice" in err, err


def test_a_config_option_without_its_value_is_the_parsers_usage_error(capsys):
    """`econdl fit --config` with nothing after it: the parser's one line, not a traceback."""
    from econdl.main import main

    with pytest.raises(SystemExit) as stop:
        main(["fit", "--config"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err and "--config" in err, err


def test_a_sweep_config_given_to_fit_says_to_run_econdl_sweep():
    """It said "Subcommand 'fit' does not accept option 'search_space.model.init_args...'"."""
    sweep = CONFIGS / "sweeps/kink_mlp.yaml"
    result = run_econdl("fit", "--config", str(sweep))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert (
        f"is a sweep config (search_space, base_config): run it with `econdl sweep --config {sweep}`" in result.stderr
    )


def test_float16_on_the_cpu_is_refused_without_lightnings_contradicting_fallback_line():
    """Lightning said it would use bf16-mixed instead, and econdl then refused the run."""
    result = run_econdl("fit", "--config", str(CONFIGS / "kink/mlp.yaml"), "--trainer.precision", "16-mixed")
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "--trainer.precision 16-mixed needs a CUDA GPU" in result.stderr, output
    assert "AMP with fp16 is not supported" not in output and "Using bfloat16" not in output, output
    assert "GPU available: False" in output  # Lightning's other lines stay


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "bad.yaml holds nothing, where a config holds sections such as model:, data: and trainer:"),
        ("- [1, 2]\n", "bad.yaml holds a list, where a config holds sections"),
        ("trainer:\n  callbacks: [a, b\n  max_epochs: 3\n", "close the bracket or quote opened on line 2"),
    ],
)
def test_an_empty_or_unclosed_config_is_named_with_the_fix(tmp_path, text, words):
    """An empty file said `error: Unexpected config:`; an unclosed bracket was told about indentation."""
    from econdl.errors import ConfigFileInvalid

    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ConfigFileInvalid, match=re.escape(words)):
        cli_main(["fit", "--config", "bad.yaml"])


def test_a_misspelt_data_model_or_optimizer_option_gets_the_one_it_was_meant_to_be(capsys):
    """Only --trainer typos got a suggestion; --data.xsize said just that 'xsize' is not accepted,
    and so did another task's option (--data.root given to the kink task), with no word of what is."""
    from econdl.main import main

    config = ["fit", "--config", str(CONFIGS / "kink/mlp.yaml")]
    for option, meant in (
        (["--data.xsize", "100"], "did you mean --data.x_size?"),
        (["--optimizer.learning_rate", "0.1"], "did you mean --optimizer.lr?"),
        (["--model.net.init_args.widht", "[3]"], "did you mean --model.net.widths?"),
        # another task's option, close to none of this one's: the options it does take
        (["--data.root", "photos"], "KinkDataModule takes x_size, "),
        # options a class passes on to its parent (Lightning's ReduceLROnPlateau to torch's) count
        (["--lr_scheduler.init_args.patiance", "3"], "did you mean --lr_scheduler.patience?"),
        # and what econdl fills in itself (an optimizer's params) is no option to give
        (["--optimizer.init_args.param", "3"], "AdamW takes lr, betas, "),
    ):
        with pytest.raises(SystemExit) as stop:
            main([*config, *option])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and meant in err, err


def test_a_resume_writes_the_runs_config_by_rename_and_goes_on_from_an_emptied_one(tmp_path, monkeypatch):
    """A resume rewrites the run's config.yaml; it was truncated and written in place, so a kill
    amid the write left it empty, and every later resume was refused as 'settings differ' (46 of
    them). It is renamed into place now, and an emptied one is written afresh. Sanity-check
    batches, which learn nothing, may change on resume."""
    import os

    import yaml

    args = ["fit", "--config", str(CONFIGS / "kink/mlp.yaml"), *FAST]
    cli_main([*args, "--trainer.max_epochs=1"])
    saved = tmp_path / "logs/kink/mlp/version_0/config.yaml"
    saved.write_text("")
    renamed: list[str] = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: renamed.append(Path(b).name) or real(a, b))
    cli = cli_main([*args, "--trainer.max_epochs=2", "--trainer.num_sanity_val_steps=2", "--ckpt_path=last"])
    assert cli.trainer.current_epoch == 2 and "config.yaml" in renamed
    assert yaml.safe_load(saved.read_text())["trainer"]["max_epochs"] == 2
    assert not list(saved.parent.glob(".*.tmp"))
    # that resume recorded 2 sanity batches; this one runs none
    assert cli_main([*args, "--trainer.max_epochs=3", "--ckpt_path=last"]).trainer.current_epoch == 3


def test_forecasts_without_actuals_or_with_unbounded_intervals_are_written_but_nan_forecasts_are_not(tmp_path, capsys):
    """A forecast's periods ahead have no actual yet, and its interval bounds may be infinite on
    few data: those are written.  A NaN forecast fails the command and writes nothing."""
    from types import SimpleNamespace

    from econdl.callbacks import CSVPredictionWriter
    from econdl.callbacks.guards import NonFiniteLossError

    inf, nan = float("inf"), float("nan")
    frame = pd.DataFrame({"forecast": [1.0, 2.0], "actual": [0.5, nan], "lower_80": [-inf, 0.0], "upper_80": [inf, 3]})
    dm = SimpleNamespace(prediction_frame=lambda batches: frame.copy())
    trainer = SimpleNamespace(
        log_dir=str(tmp_path), is_global_zero=True, datamodule=dm, ckpt_path=None, lightning_module=None
    )
    CSVPredictionWriter(quiet=True).write_on_epoch_end(trainer, None, [torch.zeros(2)], None)
    assert len(pd.read_csv(tmp_path / "predictions.csv")) == 2 and capsys.readouterr().out == ""
    frame.loc[1, "forecast"] = nan
    with pytest.raises(NonFiniteLossError, match="1 of 2 predictions are NaN or infinite"):
        CSVPredictionWriter(path=str(tmp_path / "bad.csv")).write_on_epoch_end(trainer, None, [torch.zeros(2)], None)
    assert not (tmp_path / "bad.csv").exists()


def test_the_prediction_writer_without_a_data_module_writes_one_column_per_output(tmp_path, capsys):
    """No prediction_frame to ask: one column per output (``prediction`` when there is one), every
    batch's rows in order, the folders made, and the count said in words."""
    from types import SimpleNamespace

    from econdl.callbacks import CSVPredictionWriter

    trainer = SimpleNamespace(log_dir=str(tmp_path / "run"), is_global_zero=True, datamodule=None, ckpt_path=None)
    two = [torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[5.0, 6.0]])]
    path = tmp_path / "out/deep/predictions.csv"
    CSVPredictionWriter(path=str(path)).write_on_epoch_end(trainer, None, two, None)
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["prediction_0", "prediction_1"]
    np.testing.assert_array_equal(frame.to_numpy(), torch.cat(two).numpy())
    assert f"predictions: 3 rows written to {path}" in capsys.readouterr().out
    CSVPredictionWriter().write_on_epoch_end(trainer, None, [torch.tensor([0.5])], None)  # into the run's folder
    assert pd.read_csv(tmp_path / "run/predictions.csv").to_dict("list") == {"prediction": [0.5]}
    assert "predictions: 1 row written to" in capsys.readouterr().out
