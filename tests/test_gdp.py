"""GDP-growth forecasting: data layout, no leakage, AR against statsmodels, CLI, errors."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from statsmodels.tsa.ar_model import AutoReg

from helpers import CONFIGS, run_econdl
from econdl.cli import cli_main
from econdl.compare import compare
from econdl.data.gdp import GDPDataModule
from econdl.data.series import lag_matrix

QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


def fred_csv(path: Path, n: int = 40, seed: int = 0, **edits: str) -> Path:
    """A FRED-style quarterly level series whose growth follows an AR(1); ``edits`` replace cells."""
    rng = np.random.default_rng(seed)
    growth = np.zeros(n)
    for t in range(1, n):
        growth[t] = 0.8 + 0.4 * growth[t - 1] + 0.5 * rng.standard_normal()
    levels = 10_000 * np.exp(np.cumsum(growth) / 100)
    dates = pd.period_range("1990Q1", periods=n, freq="Q").to_timestamp().strftime("%Y-%m-%d")
    frame = pd.DataFrame({"observation_date": dates, "GDPC1": [f"{v:.3f}" for v in levels]})
    for row, value in edits.items():
        frame.loc[int(row.removeprefix("row")), "GDPC1"] = value
    frame.to_csv(path, index=False)
    return path


def csv_args(path: Path) -> list[str]:
    return ["--data.source=csv", f"--data.path={path}"]


def test_lag_matrix_on_a_hand_made_series():
    x, y = lag_matrix(np.array([1.0, 2, 3, 4, 5, 6]), lags=2)
    np.testing.assert_array_equal(x, [[2, 1], [3, 2], [4, 3], [5, 4]])
    np.testing.assert_array_equal(y, [3, 4, 5, 6])


def test_csv_source_growth_lags_and_chronological_splits(tmp_path):
    path = fred_csv(tmp_path / "gdp.csv")
    dm = GDPDataModule(source="csv", path=str(path), lags=4, val_size=5, test_size=7, standardize=False)
    dm.setup()
    levels = pd.read_csv(path)["GDPC1"].to_numpy()
    growth = 400 * np.diff(np.log(levels))  # annualised quarterly log growth, percent
    np.testing.assert_allclose(dm.series.to_numpy(), growth, rtol=1e-12)
    sizes = {s: len(dm.split(s)[0]) for s in ("train", "val", "test")}
    assert sizes == {"train": 39 - 4 - 12, "val": 5, "test": 7}
    assert dm.dates["train"][-1] < dm.dates["val"][0] and dm.dates["val"][-1] < dm.dates["test"][0]
    # the first validation row reads its lags from the last training targets, no later value
    x_val, y_train = dm.split("val")[0], dm.split("train")[1]
    np.testing.assert_allclose(x_val[0].numpy(), y_train[-4:].flip(0).reshape(-1).numpy(), rtol=1e-6)
    assert str(dm.dates["forecast"][0]) == "2000Q1"  # 40 quarters from 1990Q1 end in 1999Q4


def test_changing_a_test_value_changes_no_training_statistic(tmp_path):
    base = GDPDataModule(source="csv", path=str(fred_csv(tmp_path / "a.csv")))
    edited = GDPDataModule(source="csv", path=str(fred_csv(tmp_path / "b.csv", row39="99999.0")))
    base.setup(), edited.setup()
    for t_base, t_edit in zip(base.split("train"), edited.split("train")):
        assert torch.equal(t_base, t_edit)
    assert (base.target_loc, base.target_scale) == (edited.target_loc, edited.target_scale)
    assert not torch.equal(base.split("test")[1], edited.split("test")[1])  # the edit did reach the data


@pytest.mark.parametrize("source", ["csv", "macrodata"])
def test_ar_coefficients_equal_statsmodels(tmp_path, source):
    extra = csv_args(fred_csv(tmp_path / "gdp.csv")) if source == "csv" else []
    cli = cli_main(["fit", "--config", str(CONFIGS / "gdp/ar.yaml"), *extra, *QUIET], verbose_test=False)
    dm, lags = cli.datamodule, cli.datamodule.lags
    window = dm.series.to_numpy()[: lags + len(dm.split("train")[0])]  # presample + training targets
    oracle = AutoReg(window, lags=lags, trend="c").fit().params
    intercept, phi = cli.model.ar_coefficients()
    np.testing.assert_allclose([intercept, *phi], oracle, atol=1e-6, rtol=0)


def test_fit_test_predict_on_the_csv_source(tmp_path):
    path = fred_csv(tmp_path / "gdp.csv")
    cli = cli_main(["fit", "--config", str(CONFIGS / "gdp/ar.yaml"), *csv_args(path), *QUIET], verbose_test=False)
    rmse = float(cli.trainer.callback_metrics["test/rmse"])
    dm = cli.datamodule
    pred = cli.model.unscale(cli.model(dm.split("test")[0])).detach().reshape(-1)
    assert rmse == pytest.approx(float(((pred - dm.test_targets().reshape(-1)) ** 2).mean().sqrt()), rel=1e-4)
    ckpt = str(next((tmp_path / "logs/gdp/ar/version_0/checkpoints").glob("best-*.ckpt")))
    result = run_econdl("test", "--config", str(CONFIGS / "gdp/ar.yaml"), *csv_args(path), "--ckpt_path", ckpt)
    assert result.returncode == 0, result.stderr
    assert f"{rmse:.5f}"[:6] in result.stdout

    # predict on a longer series: the forecast uses the latest 4 values and the checkpoint's scaling
    longer = fred_csv(tmp_path / "longer.csv", n=44)
    pcli = cli_main(["predict", "--config", str(CONFIGS / "gdp/ar.yaml"), *csv_args(longer), "--ckpt_path", ckpt, *QUIET])
    assert (pcli.datamodule.target_loc, pcli.datamodule.target_scale) == (dm.target_loc, dm.target_scale)
    frame = pd.read_csv(next((tmp_path / "logs/gdp/ar").glob("version_*/predictions.csv")))
    assert list(frame["date"]) == ["2001Q1"] and list(frame["last_observation"]) == ["2000Q4"]
    intercept, phi = cli.model.ar_coefficients()
    latest = pcli.datamodule.series.to_numpy()[::-1][:4]
    assert frame["forecast"][0] == pytest.approx(intercept + float(np.dot(phi, latest)), abs=1e-4)


def test_naive_benchmarks_fit_and_forecast(tmp_path):
    path = fred_csv(tmp_path / "gdp.csv")
    rw = cli_main(["fit", "--config", str(CONFIGS / "gdp/random_walk.yaml"), *csv_args(path), *QUIET], verbose_test=False)
    assert rw.trainer.global_step == 0  # nothing to fit, no optimizer step
    dm = rw.datamodule
    x_test = dm.split("test")[0]
    last = dm.unscale(x_test[:, :1])
    torch.testing.assert_close(rw.model.unscale(rw.model(x_test)), last)
    mean = cli_main(["fit", "--config", str(CONFIGS / "gdp/mean.yaml"), *csv_args(path), *QUIET], verbose_test=False)
    forecast = mean.model.unscale(mean.model(x_test[:1])).item()
    assert forecast == pytest.approx(float(mean.datamodule.unscale(mean.datamodule.split("train")[1]).mean()), abs=1e-4)


def test_compare_with_seeds_relative_rmse_and_expanding_window(tmp_path):
    path = fred_csv(tmp_path / "gdp.csv")
    configs = [str(CONFIGS / f"gdp/{m}.yaml") for m in ("ar", "mlp", "random_walk")]
    result = compare(configs, [*csv_args(path), "--trainer.max_epochs=3"], seeds=2)
    table = result.table
    assert table.loc["mlp", "seeds"] == 2 and table.loc["ar", "seeds"] == 1
    assert table.loc["mlp", "test_rmse_std"] > 0 and table.loc["ar", "test_rmse_std"] == 0
    assert table.loc["ar", "rmse_vs_ar"] == 1.0
    assert table.loc["random_walk", "rmse_vs_ar"] == pytest.approx(
        table.loc["random_walk", "test_rmse"] / table.loc["ar", "test_rmse"])
    assert (result.out_dir / "predictions.png").is_file()

    rolled = compare([configs[0]], [*csv_args(path), "--data.evaluation=expanding"], out="rolled").table
    # oracle: OLS of g_t on (1, g_{t-1..t-4}) over every sample before each test period
    dm = GDPDataModule(source="csv", path=str(path), standardize=False)
    dm.setup()
    x = torch.cat([dm.split(s)[0] for s in ("train", "val", "test")]).double().numpy()
    y = torch.cat([dm.split(s)[1] for s in ("train", "val", "test")]).double().numpy().reshape(-1)
    design = np.column_stack([np.ones(len(x)), x])
    start = len(x) - len(dm.split("test")[0])
    errors = [design[t] @ np.linalg.lstsq(design[:t], y[:t], rcond=None)[0] - y[t] for t in range(start, len(x))]
    assert rolled.loc["ar", "test_rmse"] == pytest.approx(float(np.sqrt(np.mean(np.square(errors)))), rel=1e-5)
    assert rolled.loc["ar", "evaluation"] == "expanding" and "refit_s" in rolled.columns


@pytest.mark.parametrize(
    ("edit", "kwargs", "message"),
    [
        ({}, {"path": "nowhere.csv"}, "does not exist"),
        ({}, {"value_column": "GDP"}, "value_column='GDP' is not a column"),
        ({}, {"date_column": "when"}, "date_column='when' is not a column"),
        ({"row7": "."}, {}, "missing or non-numeric values at 1991-10-01 (line 9)"),
        ({}, {"lags": 20}, "too few for lags=20"),
        ({"row3": "-2"}, {}, "needs positive values"),
    ],
)
def test_bad_inputs_fail_naming_the_problem(tmp_path, edit, kwargs, message):
    path = fred_csv(tmp_path / "gdp.csv", **edit)
    args = {"source": "csv", "path": str(path), **kwargs}
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        GDPDataModule(**args).setup()
    assert message in str(err.value)


def test_dropna_drops_the_bad_rows(tmp_path):
    path = fred_csv(tmp_path / "gdp.csv", row7="")
    dm = GDPDataModule(source="csv", path=str(path), dropna=True)
    dm.setup()
    assert len(dm.series) == 38 and "1991Q4" not in dm.series.index.astype(str)


@pytest.mark.parametrize(("swap", "message"), [("unsorted", "dates are not sorted"), ("duplicated", "duplicated dates")])
def test_unsorted_or_duplicated_dates_fail_through_the_cli(tmp_path, swap, message):
    path = fred_csv(tmp_path / "gdp.csv")
    frame = pd.read_csv(path, dtype=str)
    if swap == "unsorted":
        frame.iloc[[5, 6]] = frame.iloc[[6, 5]].to_numpy()
    else:
        frame.loc[6, "observation_date"] = frame.loc[5, "observation_date"]
    frame.to_csv(path, index=False)
    result = run_econdl("fit", "--config", str(CONFIGS / "gdp/ar.yaml"), *csv_args(path))
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_monthly_csv_is_annualised_by_12(tmp_path):
    path = tmp_path / "monthly.csv"
    dates = pd.period_range("2000-01", periods=30, freq="M").to_timestamp().strftime("%Y-%m-%d")
    levels = 100 * np.exp(np.linspace(0, 0.3, 30))
    pd.DataFrame({"DATE": dates, "INDPRO": levels}).to_csv(path, index=False)
    dm = GDPDataModule(source="csv", path=str(path), lags=2, val_size=4, test_size=4)
    dm.setup()
    np.testing.assert_allclose(dm.series.to_numpy(), 1200 * np.diff(np.log(levels)), rtol=1e-10)
    assert str(dm.dates["forecast"][0]) == "2002-07"
