"""GDP-growth forecasting: data layout, no leakage, AR against statsmodels, CLI, errors."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from statsmodels.tsa.ar_model import AutoReg

from helpers import CONFIGS, printed_metric, run_econdl
from econdl.cli import cli_main
from econdl.compare import compare
from econdl.data.gdp import GDPDataModule
from econdl.errors import ConfigError, DataError
from econdl.data.series import lag_matrix

QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


def fred_csv(path: Path, n: int = 40, seed: int = 0, start: str = "1990Q1", unrate: bool = False, **edits: str) -> Path:
    """A FRED-style quarterly level series whose growth follows an AR(1) (and, with ``unrate``,
    an unemployment rate that moves against growth); ``edits`` replace cells."""
    rng = np.random.default_rng(seed)
    growth = np.zeros(n)
    for t in range(1, n):
        growth[t] = 0.8 + 0.4 * growth[t - 1] + 0.5 * rng.standard_normal()
    levels = 10_000 * np.exp(np.cumsum(growth) / 100)
    dates = pd.period_range(start, periods=n, freq="Q").to_timestamp().strftime("%Y-%m-%d")
    frame = pd.DataFrame({"observation_date": dates, "GDPC1": [f"{v:.3f}" for v in levels]})
    if unrate:
        frame["UNRATE"] = [f"{v:.2f}" for v in 6 - 0.5 * np.cumsum(growth - growth.mean()) / 4]
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


def test_csv_source_growth_lags_and_chronological_splits(tmp_path, capsys):
    path = fred_csv(tmp_path / "gdp.csv")
    dm = GDPDataModule(source="csv", path=str(path), lags=4, val_size=5, test_size=7, standardize=False)
    dm.setup()
    # the counts used and the periods their targets cover, said once
    said = capsys.readouterr().out
    assert "gdp: 23 train / 5 val / 7 test samples of GDPC1 (target periods: train 1991Q2 to 1996Q4, " in said
    assert "val 1997Q1 to 1998Q1, test 1998Q2 to 1999Q4)" in said
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
    # at horizon 3 the same periods hold 2 fewer samples each (all 3 targets inside the split):
    # the line says what it counts, and what compare's table scores besides
    ahead = GDPDataModule(source="csv", path=str(path), lags=4, val_size=5, test_size=7, horizon=3)
    ahead.setup()
    said = capsys.readouterr().out
    assert "gdp: 21 train / 3 val / 5 test samples of GDPC1 (target periods: train 1991Q2 to 1996Q4, " in said
    assert "test 1998Q2 to 1999Q4); a sample's 3 targets all lie in its split's periods (econdl compare's " in said
    assert "also scores the forecasts of the 7 test periods from origins before them)" in said
    assert len(ahead.split("test")[0]) == 5 and ahead.layout["n"] - ahead.layout["test_at"] == 7
    # standardised by the training targets' mean and sample standard deviation (ddof 1), nothing later
    ahead_train = growth[4 : 4 + len(ahead.split("train")[0]) + 2]  # 21 samples reach 23 target periods
    assert (ahead.target_loc, ahead.target_scale) == pytest.approx((ahead_train.mean(), ahead_train.std(ddof=1)))


@pytest.mark.parametrize("horizon", [1, 3])
@pytest.mark.parametrize(("row", "split"), [(39, "test"), (30, "val"), (28, "val")])
def test_changing_a_later_value_changes_no_training_statistic(tmp_path, row, split, horizon):
    """Levels row 28 is the first validation target's level (35 samples: 23 train, 5 val, 7 test):
    no validation or test value may move the standardisation or the training tensors."""
    kwargs = {"source": "csv", "val_size": 5, "test_size": 7, "horizon": horizon}
    base = GDPDataModule(path=str(fred_csv(tmp_path / "a.csv")), **kwargs)
    edited = GDPDataModule(path=str(fred_csv(tmp_path / "b.csv", **{f"row{row}": "99999.0"})), **kwargs)
    base.setup(), edited.setup()
    for t_base, t_edit in zip(base.split("train"), edited.split("train"), strict=True):
        assert torch.equal(t_base, t_edit)
    assert (base.target_loc, base.target_scale) == (edited.target_loc, edited.target_scale)
    assert not torch.equal(base.split(split)[1], edited.split(split)[1])  # the edit did reach that split


@pytest.mark.parametrize("source", ["csv", "macrodata"])
def test_ar_coefficients_equal_statsmodels(tmp_path, source):
    extra = csv_args(fred_csv(tmp_path / "gdp.csv")) if source == "csv" else []
    cli = cli_main(["fit", "--config", str(CONFIGS / "gdp/ar.yaml"), *extra, *QUIET], verbose_test=False)
    dm, lags = cli.datamodule, cli.datamodule.lags
    window = dm.series.to_numpy()[: lags + len(dm.split("train")[0])]  # presample + training targets
    oracle = AutoReg(window, lags=lags, trend="c").fit().params
    intercept, phi = cli.model.ar_coefficients()
    np.testing.assert_allclose([intercept, *phi], oracle, atol=1e-6, rtol=0)
    # the OLS intervals' one-step error: residual sum of squares over n - k (statsmodels' OLS scale)
    fitted = AutoReg(window, lags=lags, trend="c").fit()
    scale = (fitted.resid**2).sum() / (len(fitted.resid) - len(fitted.params))
    assert float(cli.model.forecast_std()[0]) == pytest.approx(np.sqrt(scale), rel=1e-6)


def test_iterated_ar_interval_widths_grow_with_the_ma_weights_of_statsmodels(tmp_path):
    """The h-step error variance of an iterated AR(p) is sigma^2 (psi_0^2 + ... + psi_{h-1}^2),
    psi the MA(infinity) weights of the fitted AR polynomial (statsmodels' arma2ma here)."""
    from statsmodels.tsa.arima_process import arma2ma

    path = fred_csv(tmp_path / "gdp.csv", n=60)
    cli = _fit("ar", *csv_args(path), "--data.horizon=4", "--data.val_size=8", "--data.test_size=8")
    _, phi = cli.model.ar_coefficients()
    psi = arma2ma(np.r_[1.0, -np.asarray(phi)], [1.0], lags=4)
    std = cli.model.forecast_std().numpy()
    np.testing.assert_allclose(std, std[0] * np.sqrt(np.cumsum(psi**2)), rtol=1e-6)


def test_fit_test_predict_on_the_csv_source(tmp_path):
    path = fred_csv(tmp_path / "gdp.csv")
    cli = cli_main(["fit", "--config", str(CONFIGS / "gdp/ar.yaml"), *csv_args(path), *QUIET], verbose_test=False)
    rmse = float(cli.trainer.callback_metrics["test/rmse"])
    dm = cli.datamodule
    # oracle on the original scale, from the file alone: growth, AutoReg on the training
    # window (presample + 23 training targets), one-step forecasts of the 7 test quarters
    growth = 400 * np.diff(np.log(pd.read_csv(path)["GDPC1"].to_numpy()))
    params = AutoReg(growth[: 4 + 23], lags=4, trend="c").fit().params
    forecasts = [params[0] + params[1:] @ growth[t - 4 : t][::-1] for t in range(len(growth) - 7, len(growth))]
    oracle = float(np.sqrt(np.mean((np.array(forecasts) - growth[-7:]) ** 2)))
    assert len(dm.split("train")[0]) == 23 and rmse == pytest.approx(oracle, rel=1e-5)
    logged = pd.read_csv(tmp_path / "logs/gdp/ar/version_0/metrics.csv")["test/rmse"].dropna()
    assert float(logged.iloc[-1]) == pytest.approx(oracle, rel=1e-5)
    ckpt = str(next((tmp_path / "logs/gdp/ar/version_0/checkpoints").glob("best-*.ckpt")))
    result = run_econdl("test", "--config", str(CONFIGS / "gdp/ar.yaml"), *csv_args(path), "--ckpt_path", ckpt)
    assert result.returncode == 0, result.stderr
    assert printed_metric(result.stdout, "test/rmse") == pytest.approx(oracle, rel=1e-5)

    # predict on a longer series: the forecast uses the latest 4 values and the checkpoint's scaling
    longer = fred_csv(tmp_path / "longer.csv", n=44)
    pcli = cli_main(
        ["predict", "--config", str(CONFIGS / "gdp/ar.yaml"), *csv_args(longer), "--ckpt_path", ckpt, *QUIET]
    )
    assert (pcli.datamodule.target_loc, pcli.datamodule.target_scale) == (dm.target_loc, dm.target_scale)
    frame = pd.read_csv(next((tmp_path / "logs/gdp/ar").glob("version_*/predictions.csv")))
    assert list(frame["date"]) == ["2001Q1"] and list(frame["last_observation"]) == ["2000Q4"]
    intercept, phi = cli.model.ar_coefficients()
    latest = pcli.datamodule.series.to_numpy()[::-1][:4]
    assert frame["forecast"][0] == pytest.approx(intercept + float(np.dot(phi, latest)), abs=1e-4)
    for level in ("80", "95"):
        assert frame[f"lower_{level}"][0] < frame["forecast"][0] < frame[f"upper_{level}"][0]
    assert frame["upper_95"][0] - frame["lower_95"][0] > frame["upper_80"][0] - frame["lower_80"][0]


def test_naive_benchmarks_fit_and_forecast(tmp_path):
    path = fred_csv(tmp_path / "gdp.csv")
    rw = _fit("random_walk", *csv_args(path))
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
    # every error score has its spread over the seeds, as in the kink table (the RMSE alone had one)
    seeded = pd.read_csv(result.out_dir / "predictions.csv").query("model == 'mlp' and split == 'test'")
    maes = [(f["forecast"] - f["actual"]).abs().mean() for _, f in seeded.groupby("seed")]
    assert table.loc["mlp", "test_mae_std"] == pytest.approx(float(np.std(maes, ddof=1)), rel=1e-6)
    assert {"test_mse_std", "test_max_abs_err_std", "rmse_recession_std"} <= set(table.columns)
    assert table.loc["ar", "rmse_vs_ar"] == 1.0
    assert table.loc["random_walk", "rmse_vs_ar"] == pytest.approx(
        table.loc["random_walk", "test_rmse"] / table.loc["ar", "test_rmse"]
    )
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
        ({"row7": "."}, {}, "missing, non-numeric or infinite values at 1991-10-01 (line 9)"),
        ({}, {"lags": 20}, "with lags=20, horizon=1 and these splits leave too few samples"),
        # the splits too short for the horizon: sizes to raise, not lower (the message said lower them)
        ({}, {"horizon": 4, "val_size": 1, "test_size": 1}, "give val_size 4 or more; the test period has 1 period"),
        # a test period that leaves too little for validation is named too
        ({}, {"test_size": 0.9}, "or a smaller test_size (the test period takes"),
        # a level <= 0 has no growth rate: pct_change (suggested before) divides by a zero too
        (
            {"row3": "-2"},
            {},
            "is <= 0 at 1990Q4; if the file holds growth rates already (e.g. FRED's A191RL1Q225SBEA)"
            ", give --data.transform levels; if it holds levels, correct those values in the file",
        ),
        ({"row3": "0"}, {}, "GDPC1 is <= 0 at 1990Q4; if the file holds growth rates"),  # log(0): no growth
        # levels written as fractions: 0.8% and 0.95% intervals, which cover about nothing
        ({}, {"interval_levels": [0.8, 0.95]}, "for 80%, 95% give --data.interval_levels [80.0, 95.0]"),
        # one fraction beside a percentage is the same slip: a 0.5% interval beside an 80% one
        ({}, {"interval_levels": [0.5, 80]}, "0.5 asks for intervals that cover 0.5% of outcomes; for 50%, 80% give"),
        ({}, {"exog": ["note"], "value_column": "GDPC1"}, "give a column of numbers with --data.exog (the columns"),
        # a zero level divides the next change by zero: named by its date, not as constant or missing targets
        ({"row3": "0"}, {"transform": "pct_change"}, "divides by the previous period's value; GDPC1 is 0 at 1990Q4"),
        ({"row38": "0"}, {"transform": "pct_change"}, "GDPC1 is 0 at 1999Q3; correct those values in the file"),
        # a date and a size for one period: the size was ignored without a word
        (
            {},
            {"test_start": "1997Q1", "test_size": 8},
            "test_start=1997Q1 and test_size=8 both set the test period "
            "(from test_start to the end of the series, its size ignored); give one of them",
        ),
        (
            {},
            {"val_start": "1996Q1", "val_size": 0.3},
            "val_start=1996Q1 and val_size=0.3 both set the val period (from val_start to the test period's start",
        ),
    ],
)
def test_bad_inputs_fail_naming_the_problem(tmp_path, edit, kwargs, message):
    path = fred_csv(tmp_path / "gdp.csv", **edit)
    if "exog" in kwargs:  # a column of text beside the series
        pd.read_csv(path, dtype=str).assign(note="rev").to_csv(path, index=False)
    args = {"source": "csv", "path": str(path), **kwargs}
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        GDPDataModule(**args).setup()
    assert message in str(err.value)


def test_dropna_drops_missing_values_at_the_ends_of_the_series(tmp_path):
    """FRED files often end (or start) with a period not yet published: dropna drops it."""
    path = fred_csv(tmp_path / "gdp.csv", row0="", row39=".")
    dm = GDPDataModule(source="csv", path=str(path), dropna=True)
    dm.setup()
    index = dm.series.index.astype(str)
    # 38 levels kept (1990Q2..1999Q3), 37 growth rates from 1990Q3 on
    assert len(dm.series) == 37 and index[0] == "1990Q3" and index[-1] == "1999Q3"


def test_dropna_refuses_a_missing_value_inside_the_series(tmp_path):
    """Dropping an interior row would turn two quarters of growth into one: refused, naming it."""
    path = fred_csv(tmp_path / "gdp.csv", row7="")
    with pytest.raises(DataError, match=r"inside the series at 1991-10-01 \(line 9\).*across the gap"):
        GDPDataModule(source="csv", path=str(path), dropna=True).setup()


def test_a_series_with_missing_periods_is_refused_naming_them(tmp_path):
    """Rows absent from the file (not just empty cells) would be bridged as well."""
    path = fred_csv(tmp_path / "gdp.csv")
    frame = pd.read_csv(path, dtype=str).drop(index=[7, 8])
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"no row for 1991Q4, 1992Q1 \(frequency Q\)"):
        GDPDataModule(source="csv", path=str(path)).setup()


@pytest.mark.parametrize(
    ("swap", "message"), [("unsorted", "dates are not sorted"), ("duplicated", "duplicated dates")]
)
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
    if swap == "unsorted":  # the first date out of order, after the one before it
        later, earlier = frame.loc[6, "observation_date"], frame.loc[5, "observation_date"]
        assert f"{later} comes after {earlier}; sort the file by date" in result.stderr


def test_quarterly_growth_is_said_to_be_annualised_and_yearly_growth_not(tmp_path):
    quarterly = GDPDataModule(lags=2)
    quarterly.setup()
    assert quarterly.units() == "growth in percent, annualised (log difference x 400)"
    path = tmp_path / "yearly.csv"
    dates = pd.period_range("1970", periods=30, freq="Y").to_timestamp().strftime("%Y-%m-%d")
    pd.DataFrame({"DATE": dates, "GDP": 100 * np.exp(np.linspace(0, 0.6, 30))}).to_csv(path, index=False)
    yearly = GDPDataModule(source="csv", path=str(path), lags=2, val_size=4, test_size=4)
    yearly.setup()
    assert yearly.units() == "growth in percent (log difference x 100)"


@pytest.mark.parametrize("transform", ["log_diff", "pct_change"])
def test_a_file_of_positive_growth_rates_is_said_to_look_like_rates_not_levels(tmp_path, capsys, transform):
    """Growth rates that are all positive pass the log's check; turned into growth rates again
    they are changes of changes, so the data's line says what the file looks like and the fix."""
    levels = pd.read_csv(fred_csv(tmp_path / "levels.csv", n=60))
    rates = tmp_path / "rates.csv"
    growth = 400 * np.diff(np.log(levels["GDPC1"].to_numpy()))
    levels.iloc[1:].assign(GDPC1=growth - growth.min() + 0.5).to_csv(rates, index=False)  # all positive
    said = {}
    for name, path, extra in (
        ("rates", rates, {}),
        ("levels", tmp_path / "levels.csv", {}),
        ("told", rates, {"transform": "levels"}),
    ):
        GDPDataModule(
            source="csv", path=str(path), lags=2, val_size=0.2, test_size=0.2, **{"transform": transform, **extra}
        ).setup()
        said[name] = capsys.readouterr().out
    rho = np.corrcoef(growth[:-1], growth[1:])[0, 1]
    assert (
        f"gdp: note: GDPC1 looks like rates or changes already, not levels: its lag-1 autocorrelation is {rho:.2f}"
    ) in said["rates"]
    assert (
        f"transform={transform!r} turns it into changes of changes. If the file holds growth rates, give "
        "--data.transform levels" in said["rates"]
    )
    assert "looks like rates" not in said["levels"] and "looks like rates" not in said["told"]
    assert "train / " in said["told"]  # the counts line is still said


def test_exog_series_are_standardised_by_their_training_mean_and_sample_sd(tmp_path):
    path = fred_csv(tmp_path / "gdp.csv", unrate=True)
    dm = GDPDataModule(source="csv", path=str(path), value_column="GDPC1", exog=["UNRATE"], lags=4, val_size=5)
    dm.setup()
    # growth drops the first quarter; the training targets are the val_at quarters after the first 4 lags
    unrate = pd.read_csv(path)["UNRATE"].to_numpy()[1:][4 : 4 + dm.layout["val_at"]]
    assert dm.exog_loc == pytest.approx([unrate.mean()])
    assert dm.exog_scale == pytest.approx([unrate.std(ddof=1)])


def test_monthly_csv_is_annualised_by_12(tmp_path):
    path = tmp_path / "monthly.csv"
    dates = pd.period_range("2000-01", periods=30, freq="M").to_timestamp().strftime("%Y-%m-%d")
    levels = 100 * np.exp(np.linspace(0, 0.3, 30))
    pd.DataFrame({"DATE": dates, "INDPRO": levels}).to_csv(path, index=False)
    dm = GDPDataModule(source="csv", path=str(path), lags=2, val_size=4, test_size=4)
    dm.setup()
    np.testing.assert_allclose(dm.series.to_numpy(), 1200 * np.diff(np.log(levels)), rtol=1e-10)
    assert str(dm.dates["forecast"][0]) == "2002-07"
    # tables say what the numbers are measured in, and a monthly period with its dashes reads clearly
    described = dm.describe_model(torch.nn.Linear(2, 1))
    assert described["test_period"] == "2002-03 to 2002-06"
    assert described["units"] == "growth in percent, annualised (log difference x 1200)"
    changes = GDPDataModule(source="csv", path=str(path), lags=2, val_size=4, test_size=4, transform="pct_change")
    changes.setup()
    assert changes.units() == "percent change on the previous month (not annualised)"
    # each change divides by the month before it, not by its own month
    np.testing.assert_allclose(changes.series.to_numpy(), 100 * np.diff(levels) / levels[:-1], rtol=1e-10)
    quarterly = GDPDataModule()
    quarterly.setup()
    assert quarterly.describe_model(torch.nn.Linear(4, 1))["test_period"] == "1999Q4-2009Q3"


def _fit(config: str, *extra: str):  # noqa: ANN202
    return cli_main(["fit", "--config", str(CONFIGS / f"gdp/{config}.yaml"), *extra, *QUIET], verbose_test=False)


def test_iterated_ar_equals_statsmodels_forecasts_and_direct_an_independent_lstsq(tmp_path):
    path = fred_csv(tmp_path / "gdp.csv", n=60)
    args = [*csv_args(path), "--data.horizon=3", "--data.val_size=8", "--data.test_size=10"]
    iterated, direct = _fit("ar", *args), _fit("ar_direct", *args)
    dm = iterated.datamodule
    growth = 400 * np.diff(np.log(pd.read_csv(path)["GDPC1"].to_numpy()))  # 59 quarters
    n_train = len(dm.split("train")[0])  # samples whose 3 targets precede the validation period
    x_test = dm.split("test")[0]
    first = 4 + dm.layout["test_at"]  # growth index of the first test target
    # iterated: AutoReg's own dynamic forecasts from every test origin, parameters from the training window
    model = AutoReg(growth, lags=4, trend="c")
    params = AutoReg(growth[: 4 + n_train], lags=4, trend="c").fit().params
    origins = range(first, first + len(x_test))
    oracle = np.stack([model.predict(params, start=t, end=t + 2, dynamic=True) for t in origins])
    got = iterated.model.unscale(iterated.model(x_test)).detach().double().numpy()
    np.testing.assert_allclose(got, oracle, atol=1e-5)
    # direct: one least-squares fit per horizon on the raw lags, no econdl code
    lags = np.stack([growth[t - 4 : t][::-1] for t in range(4, len(growth))])
    design = np.column_stack([np.ones(len(lags)), lags])
    for h in range(3):
        beta = np.linalg.lstsq(design[:n_train], growth[4 + h : 4 + h + n_train], rcond=None)[0]
        expected = design[dm.layout["test_at"] : dm.layout["test_at"] + len(x_test)] @ beta
        got = direct.model.unscale(direct.model(x_test)).detach().double().numpy()[:, h]
        np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not np.allclose(oracle[:, 2], direct.model.unscale(direct.model(x_test)).detach().numpy()[:, 2], atol=1e-3)


def test_compare_by_horizon_can_be_recomputed_from_predictions_csv(tmp_path):
    from statsmodels.tsa.stattools import diebold_mariano_test

    from econdl.forecast import clark_west

    path = fred_csv(tmp_path / "gdp.csv", n=80)  # test period 2006Q2-2009Q4 holds the 2008-09 recession
    configs = [str(CONFIGS / f"gdp/{m}.yaml") for m in ("ar", "ar_direct", "random_walk", "mean")]
    result = compare(configs, [*csv_args(path), "--data.horizon=2", "--data.val_size=20"], out="cmp")
    table = result.table
    assert list(table.index) == [m for m in ("ar", "ar_direct", "random_walk", "mean") for _ in (1, 2)]
    assert list(table["horizon"]) == [1, 2] * 4 and set(table["n_test"]) == {15}  # same target quarters
    assert table["rmse_recession"].notna().all() and table["rmse_expansion"].notna().all()
    assert table.loc["ar", "dm_pvalue"].isna().all() and table.loc["ar_direct", "cw_pvalue"].isna().all()
    assert table.loc["mean", "cw_pvalue"].notna().all() and table.loc["random_walk", "cw_pvalue"].notna().all()
    frame = pd.read_csv(result.out_dir / "predictions.csv")
    test = frame[frame["split"] == "test"]
    for name in ("ar_direct", "random_walk", "mean"):
        for h in (1, 2):
            own = test.query("model == @name and horizon == @h").set_index("date")
            ref = test.query("model == 'ar' and horizon == @h").set_index("date").loc[own.index]
            dm = diebold_mariano_test(own["actual"], own["forecast"], ref["forecast"], harvey_adj=True, horizon=h)
            row = table.loc[name].set_index("horizon").loc[h]
            if name == "ar_direct" and h == 1:  # the same one-step equation as ar: no test to run
                assert np.isnan(row["dm_stat"]) and np.allclose(own["forecast"], ref["forecast"])
            else:
                assert row["dm_stat"] == pytest.approx(dm.statistic) and row["dm_pvalue"] == pytest.approx(dm.pvalue)
            if name != "ar_direct":  # the mean and the random walk are restricted AR models
                cw = clark_west(own["actual"], own["forecast"], ref["forecast"], h)
                assert (row["cw_stat"], row["cw_pvalue"]) == pytest.approx(cw)
                assert cw != pytest.approx(clark_west(own["actual"], ref["forecast"], own["forecast"], h))
            inside = (own["lower_80"] <= own["actual"]) & (own["actual"] <= own["upper_80"])
            assert row["coverage_80"] == pytest.approx(inside.mean())
            assert row["test_rmse"] == pytest.approx(np.sqrt(((own["forecast"] - own["actual"]) ** 2).mean()))
            # the NBER's 2007Q4 peak and 2009Q2 trough: 2008Q1-2009Q2 are the recession quarters
            quarter = pd.PeriodIndex([pd.Period(d).asfreq("Q") for d in own.index])
            slump = (quarter >= pd.Period("2008Q1")) & (quarter <= pd.Period("2009Q2"))
            sq = (own["forecast"] - own["actual"]) ** 2
            assert slump.sum() == 6 and (~slump).sum() == 9
            assert row["rmse_recession"] == pytest.approx(np.sqrt(sq[slump].mean()))
            assert row["rmse_expansion"] == pytest.approx(np.sqrt(sq[~slump].mean()))
    # conformal bounds: the validation errors' quantile, the same at every origin of a horizon
    val = frame.query("model == 'ar' and horizon == 2 and split == 'val'")
    q = np.sort((val["actual"] - val["forecast"]).abs())[int(np.ceil(0.8 * (len(val) + 1))) - 1]
    assert np.allclose(val["upper_80"] - val["forecast"], q)
    ols = table.loc["ar"].set_index("horizon")
    assert ols.loc[2, "width_ols_95"] > ols.loc[1, "width_ols_95"] > ols.loc[1, "width_ols_80"]
    assert (result.out_dir / "fan_chart.png").is_file()


def test_exog_changes_the_inputs_of_ar_and_mlp_and_predict_reuses_its_scaling(tmp_path):
    path = fred_csv(tmp_path / "gdp.csv", unrate=True)
    args = [*csv_args(path), "--data.value_column=GDPC1", "--data.horizon=2"]
    ar = _fit("ar_direct", *args, "--data.exog=[UNRATE]")
    assert ar.model.coef.shape == (1 + 8, 2)  # intercept, 4 growth lags, 4 unemployment lags; 2 horizons
    x = ar.datamodule.split("train")[0]
    assert x.shape[1] == 8 and abs(float(x[:, 4:].mean())) < 0.2  # the unemployment lags, standardised
    mlp = _fit("mlp", *args, "--data.exog=[UNRATE]", "--trainer.max_epochs=2")
    first = next(m for m in mlp.model.net.modules() if isinstance(m, torch.nn.Linear))
    last = [m for m in mlp.model.net.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert (first.in_features, last.out_features) == (8, 2)
    ckpt = str(next((tmp_path / "logs/gdp/mlp/version_0/checkpoints").glob("best-*.ckpt")))
    predict = ["predict", "--config", str(CONFIGS / "gdp/mlp.yaml"), *args, "--data.exog=[UNRATE]"]
    pcli = cli_main([*predict, "--ckpt_path", ckpt, *QUIET])
    assert pcli.datamodule.exog_loc == mlp.datamodule.exog_loc
    frame = pd.read_csv(next(p for p in (tmp_path / "logs/gdp/mlp").glob("version_*/predictions.csv")))
    assert list(frame["horizon"]) == [1, 2] and list(frame["date"]) == ["2000Q1", "2000Q2"]
    listed = r"exog=\['unemployment'\] not found.*available columns: \['GDPC1', 'UNRATE'\]"
    with pytest.raises(ValueError, match=listed):
        GDPDataModule(source="csv", path=str(path), value_column="GDPC1", exog=["unemployment"]).setup()
    # iterated ARX: a VAR(p) of growth and unemployment; its first step is the direct ARX's first equation
    var = _fit("ar", *args, "--data.exog=[UNRATE]")
    x_test = var.datamodule.split("test")[0]
    iterated, direct = var.model(x_test).detach(), ar.model(x_test).detach()
    torch.testing.assert_close(iterated[:, 0], direct[:, 0], atol=1e-5, rtol=0)
    assert var.model.exog_coef.shape == (9, 1) and not torch.allclose(iterated[:, 1], direct[:, 1], atol=1e-3)
    # its second step feeds the first step's growth and unemployment forecasts back as lags
    unemployment = (var.model._design(x_test) @ var.model.exog_coef).float()
    step = torch.cat([iterated[:, :1], x_test[:, :3], unemployment, x_test[:, 4:7]], 1)
    torch.testing.assert_close(iterated[:, 1], var.model(step).detach()[:, 0], atol=1e-5, rtol=0)


def test_macrodata_exog_and_horizon_layout():
    dm = GDPDataModule(exog=["unemp", "tbilrate"], horizon=4)
    dm.setup()
    x, y = dm.split("train")
    assert x.shape[1] == 12 and y.shape[1] == 4
    # a row's targets are the next four quarters of the same series: the next row's first targets
    torch.testing.assert_close(y[1:, :3], y[:-1, 1:])
    assert dm.dates["test"][0] == pd.Period("1999Q4") and str(dm.dates["forecast"][-1]) == "2010Q3"


@pytest.mark.parametrize("refit", [[], ["--data.refit_epochs=0"]])  # a closed form refits in one pass anyway
def test_expanding_window_with_horizons_refits_on_what_each_origin_knew(tmp_path, refit):
    path = fred_csv(tmp_path / "gdp.csv", n=50)
    args = [*csv_args(path), "--data.horizon=2", "--data.evaluation=expanding", *refit]
    table = compare([str(CONFIGS / "gdp/ar_direct.yaml")], args, out="rolled").table
    growth = 400 * np.diff(np.log(pd.read_csv(path)["GDPC1"].to_numpy()))
    origins = np.stack([growth[i : i + 4][::-1] for i in range(len(growth) - 3)])  # row i: origin 3 + i
    lags = np.column_stack([np.ones(len(origins)), origins])
    n = len(growth) - 4  # samples by first target; sample k's targets: growth[4 + k], growth[5 + k]
    test_at = n - int(round(0.2 * n))
    for h in (1, 2):
        errors = []
        for j in range(test_at, n):  # target growth[4 + j] from origin row i = j - h + 1
            i = j - h + 1
            known = i - 1  # samples whose two targets precede this origin's first forecast
            beta = np.linalg.lstsq(lags[:known], growth[4 + h - 1 : 4 + h - 1 + known], rcond=None)[0]
            errors.append(lags[i] @ beta - growth[4 + j])
        row = table.set_index("horizon").loc[h]
        assert row["test_rmse"] == pytest.approx(float(np.sqrt(np.mean(np.square(errors)))), rel=1e-5)


def test_expanding_window_keeps_the_fitted_model_for_origins_that_only_reach_validation(tmp_path):
    """Origins whose forecasts all fall in the validation period (they calibrate the intervals)
    are forecast by the model fitted on the training samples, not refitted: an OLS on those."""
    path = fred_csv(tmp_path / "gdp.csv", n=40)
    args = [
        *csv_args(path),
        "--data.horizon=2",
        "--data.val_size=8",
        "--data.test_size=8",
        "--data.evaluation=expanding",
    ]
    result = compare([str(CONFIGS / "gdp/ar_direct.yaml")], args, out="rolled")
    growth = 400 * np.diff(np.log(pd.read_csv(path)["GDPC1"].to_numpy()))  # growth[t] is period 1990Q2 + t
    lags = np.column_stack([np.ones(len(growth) - 3), [growth[i : i + 4][::-1] for i in range(len(growth) - 3)]])
    n = len(growth) - 4  # 35 samples; sample k's targets: growth[4 + k], growth[5 + k]
    val_at, test_at = n - 16, n - 8
    known = val_at - 1  # the training samples: both their targets precede the validation period
    frame = pd.read_csv(result.out_dir / "predictions.csv")
    val_only = frame.groupby("origin")["split"].transform(lambda s: (s == "val").all())
    checked = frame[val_only]
    # origin of sample val_at - 1: its second forecast only; samples val_at .. test_at - 2: both
    assert len(checked) == 1 + 2 * (test_at - 1 - val_at)
    for _, row in checked.iterrows():
        h = int(row["horizon"])
        j = (pd.Period(row["date"], freq="Q") - pd.Period("1990Q2", freq="Q")).n - 4  # the target's sample
        beta = np.linalg.lstsq(lags[:known], growth[4 + h - 1 : 4 + h - 1 + known], rcond=None)[0]
        assert row["forecast"] == pytest.approx(lags[j - h + 1] @ beta, rel=1e-5, abs=1e-5)


def test_split_sizes_from_the_command_line_are_counts_or_fractions(tmp_path, monkeypatch):
    """`--data.test_size 1` is one sample and `20` twenty (counts), `0.25` a quarter of the
    samples; a size that leaves no earlier split is refused naming it."""
    monkeypatch.chdir(tmp_path)
    path = fred_csv(tmp_path / "gdp.csv", n=60)
    for value, count in (("1", 1), ("20", 20), ("0.25", 14)):  # 60 levels: 59 growth rates, 55 samples
        cli = cli_main(
            ["--config", str(CONFIGS / "gdp/ar.yaml"), *csv_args(path), f"--data.test_size={value}"], run=False
        )
        cli.datamodule.setup("fit")
        assert len(cli.datamodule.split("test")[0]) == count, value
    with pytest.raises(
        ValueError, match=r"val_size=45 \(45 samples\) leaves nothing of the 45 samples before the test"
    ):
        GDPDataModule(source="csv", path=str(path), val_size=45, test_size=10).setup()


def test_a_checkpoint_of_quarterly_data_is_refused_on_a_monthly_series(tmp_path):
    """A model trained on quarterly GDP predicted 'monthly' values from a monthly series: its
    lags and annualised growth rates mean other things there."""
    quarterly = GDPDataModule()
    quarterly.setup()
    state = quarterly.state_dict()
    assert state["frequency"] == "Q"
    months = pd.date_range("1990-01-01", periods=240, freq="MS")
    levels = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0.002, 0.01, len(months))))
    path = tmp_path / "monthly.csv"
    pd.DataFrame({"DATE": months.strftime("%Y-%m-%d"), "INDPRO": levels}).to_csv(path, index=False)
    monthly = GDPDataModule(source="csv", path=str(path))
    monthly.setup()
    with pytest.raises(ValueError, match="trained on quarterly data, and this run's series is monthly"):
        monthly.load_state_dict(state)
    again = GDPDataModule(source="csv", path=str(path))
    again.setup()
    again.load_state_dict(monthly.state_dict())  # the same frequency: taken
    assert again.target_loc == monthly.target_loc
    early = GDPDataModule(source="csv", path=str(path))
    early.load_state_dict(state)  # before the series is read, as a checkpoint may restore it
    assert early.state_dict()["frequency"] == "Q"
    with pytest.raises(ValueError, match="trained on quarterly data, and this run's series is monthly"):
        early.setup()


def test_a_test_of_a_checkpoint_on_periods_its_fit_saw_is_refused(tmp_path):
    """A checkpoint fitted on a short series was tested on a longer one (or another series)
    whose test period began inside its training and validation quarters, and printed an
    "out-of-sample" RMSE of quarters it was fitted on, without a word.  A refused test leaves
    no run folder of its own beside the fitted run.  The validation period of a predict,
    whose forecast errors calibrate the interval bounds, may not start inside the fit's
    training quarters either (predict calibrated on in-sample errors without a word); a test
    computes no bounds, so the test period's own check is all it needs (the fix its message
    gives, --data.test_start alone, works)."""
    from econdl.errors import CheckpointError

    short = fred_csv(tmp_path / "short.csv", n=40, start="2000Q1")  # test period: 2008Q2-2009Q4
    longer = fred_csv(tmp_path / "longer.csv", n=80, start="1990Q1")  # test period: 2006Q2-2009Q4
    config = ["--config", str(CONFIGS / "gdp/ar.yaml"), *QUIET]
    fit = cli_main(["fit", *config, *csv_args(short), "--test_after_fit=false"])
    ckpt = f"--ckpt_path={Path(fit.trainer.log_dir) / 'checkpoints/last.ckpt'}"
    words = (
        r"the checkpoint was fitted on GDPC1 \(.*short.csv\) up to 2008Q1, and this run's test period on GDPC1 "
        r"\(.*longer.csv\) starts at 2006Q2, inside it: .* Test it on the data and splits it was fitted on, or test "
        r"on periods after its fit \(--data.test_start 2008Q2 or later\)"
    )
    with pytest.raises(CheckpointError, match=words):
        cli_main(["test", *config, *csv_args(longer), ckpt])
    with pytest.raises(CheckpointError, match=r"Give the fit's test_size \(or test_start\), or test on"):
        cli_main(["test", *config, *csv_args(short), "--data.test_size=0.4", ckpt])  # its own file, wider
    run = Path(fit.trainer.log_dir)
    assert [p.name for p in run.parent.iterdir()] == [run.name]  # the refusals leave no folder of their own
    fit_val = str(fit.datamodule.dates["val"][0])
    later = [*csv_args(longer), f"--data.val_start={fit_val}", "--data.test_start=2008Q2"]  # the fit's periods
    advised = [*csv_args(longer), "--data.test_start=2008Q2"]  # what the refusal above says to give
    wider_val = [*csv_args(short), "--data.val_size=0.5"]  # the fit's test period: still out of sample
    for args in (later, advised, csv_args(short), wider_val):  # after its fit; its own
        assert float(cli_main(["test", *config, *args, ckpt]).trainer.callback_metrics["test/rmse"]) > 0
    # predict's interval bounds are calibrated on the validation period's errors: it may not start
    # inside the fit's training period (the default splits of the longer file put it there)
    words = (
        rf"trained on GDPC1 \(.*short.csv\) up to {pd.Period(fit_val, freq='Q') - 1}, and this run's validation "
        r"period on GDPC1 \(.*longer.csv\), on whose forecast errors the interval bounds are calibrated, starts at "
        rf"\d{{4}}Q\d, inside it: the bounds would rest on in-sample errors\. Give the series it was fitted on"
    )
    with pytest.raises(CheckpointError, match=words):
        cli_main(["predict", *config, *csv_args(longer), ckpt])
    with pytest.raises(CheckpointError, match=rf"Give the fit's val_size and test_size .*--data.val_start {fit_val}"):
        cli_main(["predict", *config, *csv_args(short), "--data.val_size=0.5", ckpt])
    for args in (csv_args(short), later):
        cli_main(["predict", *config, *args, ckpt])  # its own splits; the fit's periods on a longer file


def test_predict_says_why_a_bound_is_infinite_and_how_to_get_a_finite_one(tmp_path, capsys):
    """A short validation period has too few forecast errors for a 95% split-conformal
    interval: predict wrote -inf/inf bounds without a word (compare's table explains its ∞)."""
    short = fred_csv(tmp_path / "short.csv", n=40)
    config = ["--config", str(CONFIGS / "gdp/ar.yaml"), *QUIET, *csv_args(short)]
    fit = cli_main(["fit", *config, "--test_after_fit=false", "--data.interval_levels=[80, 95, 97.5]"])
    n_val = len(fit.datamodule.dates["val"])
    assert 4 <= n_val < 19  # finite at 80% (4 errors), infinite at 95% (19) and 97.5% (39)
    capsys.readouterr()
    ckpt = Path(fit.trainer.log_dir) / "checkpoints/last.ckpt"
    cli_main(["predict", *config, f"--ckpt_path={ckpt}", "--data.interval_levels=[80, 95, 97.5]"])
    out = capsys.readouterr().out
    for level, need in (("95", 19), ("97.5", 39)):
        assert (
            f"predict: lower_{level}/upper_{level} are -inf/inf: too few validation forecasts for a {level}% "
            f"split-conformal interval (it needs at least {need}); fit again with a larger --data.val_size"
        ) in out
    assert "lower_80/upper_80" not in out
    written = pd.read_csv(re.search(r"predictions: \d+ rows? written to (\S+)", out).group(1))
    assert np.isinf(written["upper_95"]).all() and np.isfinite(written["upper_80"]).all()


def test_day_first_dates_are_read_day_first_only_where_that_gives_regular_periods(tmp_path, capsys):
    from econdl.data.series import read_csv_series

    iso = fred_csv(tmp_path / "iso.csv")
    frame = pd.read_csv(iso, dtype=str)
    stamps = pd.to_datetime(frame["observation_date"])
    frame["observation_date"] = stamps.dt.strftime("%d/%m/%Y")  # 01/04/1990: 1 April, quarterly
    frame.to_csv(tmp_path / "dmy.csv", index=False)
    expected = read_csv_series(iso)
    got = read_csv_series(tmp_path / "dmy.csv")
    pd.testing.assert_series_equal(got, expected)
    assert "dates such as 01/04/1990 read day first (1 April 1990): only that reading gives regular periods" in (
        capsys.readouterr().out
    )
    # a monthly series written month first, 01/02/1990 = 2 January in the day-first reading: left as pandas reads it
    monthly = pd.DataFrame({"DATE": pd.date_range("1990-01-01", periods=30, freq="MS").strftime("%m/%d/%Y")})
    monthly["VALUE"] = [f"{100 + i}" for i in range(30)]
    monthly.to_csv(tmp_path / "mdy.csv", index=False)
    series = read_csv_series(tmp_path / "mdy.csv")
    assert str(series.index[1]) == "1990-02" and "read day first" not in capsys.readouterr().out


def test_an_exog_series_starting_later_is_refused_naming_the_periods_every_exog_covers(tmp_path):
    """UNRATE published from 1990Q4 on (its first cells missing): --data.dropna drops periods
    of the forecast series only, so the message names the periods to cut the file to."""
    path = fred_csv(tmp_path / "gdp.csv", unrate=True)
    frame = pd.read_csv(path, dtype=str)
    frame.loc[:2, "UNRATE"] = "."
    frame.to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        GDPDataModule(source="csv", path=str(path), value_column="GDPC1", exog=["UNRATE"], dropna=True).setup()
    assert "exog=['UNRATE'] have no value at 1990Q2, 1990Q3" in str(err.value)
    assert "cut the file to the periods every exog has (1990Q4 to 1999Q4)" in str(err.value)
    frame.iloc[3:].to_csv(path, index=False)  # the cut the message asks for fits
    dm = GDPDataModule(source="csv", path=str(path), value_column="GDPC1", exog=["UNRATE"])
    dm.setup()
    assert str(dm.series.index[0]) == "1991Q1"


def test_a_long_file_of_several_countries_is_refused_naming_the_column_that_tells_them_apart(tmp_path):
    """An OECD-style long export (LOCATION, TIME, Value): every date repeats once per country."""
    one = pd.read_csv(fred_csv(tmp_path / "gdp.csv"), dtype=str)
    countries = ["AUS", "AUT", "BEL", "CAN", "CHE", "DEU", "USA"]
    long = pd.concat([one.assign(LOCATION=c, FREQUENCY="Q") for c in countries])[
        ["LOCATION", "FREQUENCY", "observation_date", "GDPC1"]
    ]
    path = tmp_path / "oecd.csv"
    long.to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        GDPDataModule(source="csv", path=str(path), value_column="GDPC1").setup()
    assert "duplicated dates 1990-01-01" in str(err.value)
    assert (
        "the file holds several series, told apart by column 'LOCATION' (AUS, AUT, BEL, CAN, CHE, ... (7 in all)): "
        "save the rows of one (LOCATION = AUS, say) as a file of their own"
    ) in str(err.value)
    long[long["LOCATION"] == "USA"].to_csv(path, index=False)  # what the message asks for reads
    dm = GDPDataModule(source="csv", path=str(path), value_column="GDPC1")
    dm.setup()
    assert len(dm.series) == 39


def test_the_warm_started_refits_of_an_expanding_window_draw_no_few_steps_note(tmp_path, monkeypatch, capfd):
    """Each origin's refit trains a fitted network ``refit_epochs`` more epochs (a few steps by
    design); the note for a fresh network with too few steps, and its --trainer.max_epochs
    advice, which does not reach the refits, belong to the fit itself only."""
    monkeypatch.chdir(tmp_path)
    path = fred_csv(tmp_path / "gdp.csv", n=60)
    args = [*csv_args(path), "--data.evaluation=expanding", "--trainer.max_epochs=2", "--data.refit_epochs=2"]
    table = compare([str(CONFIGS / "gdp/mlp.yaml")], args, out="rolled").table
    assert table.loc["mlp", "evaluation"] == "expanding"
    out = capfd.readouterr().out
    assert out.count("note: this fit takes") == 1, out  # the 2-epoch fit's own, once
    assert "in all (2 epochs of " in out


def test_an_exog_series_named_twice_is_refused_before_the_data_is_read(tmp_path):
    """--data.exog [UNRATE,UNRATE] read one column into a two-column layout: a ValueError
    traceback from zip() at setup, not a message."""
    path = fred_csv(tmp_path / "gdp.csv", unrate=True)
    with pytest.raises(
        ConfigError,
        match=r"names 'UNRATE' more than once; list each series once, e.g. "
        r"--data.exog \['UNRATE'\]",
    ):
        GDPDataModule(source="csv", path=str(path), value_column="GDPC1", exog=["UNRATE", "UNRATE"])


def test_a_level_of_1_beside_percentages_is_1_percent_not_a_fraction_whose_fix_is_100():
    """[1, 80] was refused as a fraction, with the advice --data.interval_levels [100, 80],
    which the (0, 100) check refuses in turn; a fraction below 1 beside it is still said."""
    assert GDPDataModule(interval_levels=[1, 80]).interval_levels == [1.0, 80.0]
    with pytest.raises(ConfigError, match=r"0\.5 asks for .*give --data.interval_levels \[50\.0, 1, 80\]"):
        GDPDataModule(interval_levels=[0.5, 1, 80])


def test_an_empty_list_of_interval_levels_says_so():
    """interval_levels=[] passed the percentage check (all() of nothing) and printed
    'cover  of outcomes; for  give --data.interval_levels []'."""
    with pytest.raises(ConfigError, match=r"interval_levels=\[\] gives no level; .* e.g. \[80, 95\]"):
        GDPDataModule(interval_levels=[])


def test_a_negative_refit_epochs_is_refused_when_the_data_module_is_built():
    """It was refused only in the rolling loop, after econdl compare had fitted every model."""
    with pytest.raises(ConfigError, match=r"refit_epochs=-1 must be a whole number >= 0"):
        GDPDataModule(evaluation="expanding", refit_epochs=-1)


def test_a_frequency_finer_than_the_dates_names_the_frequency_not_a_gap(tmp_path):
    """--data.frequency M on a quarterly file said the series 'has no row for' 2/3 of all months
    and asked to add them to the file."""
    path = fred_csv(tmp_path / "gdp.csv")
    with pytest.raises(
        ConfigError,
        match=r"frequency='M' does not match .*dates are quarterly .*"
        r"give --data.frequency Q or leave it out",
    ):
        GDPDataModule(source="csv", path=str(path), frequency="M").setup()
