"""Forecast evaluation pieces on hand-made numbers: Clark-West, DM, Mincer-Zarnowitz,
conformal half-widths and the NBER business-cycle states."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from statsmodels.tsa.stattools import diebold_mariano_test

from econdl.forecast import (
    clark_west,
    conformal_halfwidth,
    diebold_mariano,
    gaussian_halfwidth,
    mincer_zarnowitz,
    recession_mask,
)
from econdl.forecast.evaluate import horizon_scores, level_tag, long_frame
from econdl.forecast.intervals import conformal_minimum


def test_clark_west_equals_a_hand_computation():
    y = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
    small = np.array([1.5, 1.5, 1.5, 1.5, 1.5])  # e.g. the training mean
    large = np.array([1.2, 1.8, 0.9, 2.5, 1.4])
    # f_t = (y - small)^2 - [(y - large)^2 - (small - large)^2], by hand:
    f = [0.25 - (0.04 - 0.09), 0.25 - (0.04 - 0.09), 1.0 - (0.16 - 0.36), 2.25 - (0.25 - 1.0), 0.0 - (0.01 - 0.01)]
    t = np.mean(f) / (np.std(f, ddof=1) / math.sqrt(5))
    stat, p = clark_west(y, small, large, horizon=1)
    assert stat == pytest.approx(t, rel=1e-10)
    assert p == pytest.approx(1 - stats.norm.cdf(t), rel=1e-10)  # one-sided: the larger model is better
    assert all(math.isnan(v) for v in clark_west(y, large, large))  # one model twice: undefined, not 0


def test_clark_west_at_longer_horizons_uses_newey_west():
    rng = np.random.default_rng(0)
    y, small, large = rng.standard_normal((3, 60))
    f = (y - small) ** 2 - ((y - large) ** 2 - (small - large) ** 2)
    d, n, lags = f - f.mean(), len(f), 3
    var = d @ d / n + 2 * sum((1 - k / (lags + 1)) * (d[k:] @ d[:-k]) / n for k in range(1, lags + 1))
    assert clark_west(y, small, large, horizon=4)[0] == pytest.approx(f.mean() / math.sqrt(var / n), rel=1e-8)


def test_diebold_mariano_is_statsmodels_with_the_harvey_correction():
    rng = np.random.default_rng(1)
    y = rng.standard_normal(40)
    a, b = y + rng.standard_normal(40), y + 0.5 * rng.standard_normal(40)
    expected = diebold_mariano_test(y, a, b, criterion="mse", harvey_adj=True, horizon=2)
    assert diebold_mariano(y, a, b, horizon=2) == (pytest.approx(expected.statistic), pytest.approx(expected.pvalue))
    assert diebold_mariano(y, a, b)[0] > 0  # a has the larger errors
    assert all(math.isnan(v) for v in diebold_mariano(y, a, a))  # identical forecasts: undefined


def test_mincer_zarnowitz_tells_a_rational_forecast_from_a_biased_one():
    rng = np.random.default_rng(2)
    signal = rng.standard_normal(80)
    y = signal + 0.3 * rng.standard_normal(80)
    assert mincer_zarnowitz(y, signal) > 0.05
    assert mincer_zarnowitz(y, 2 * signal + 1) < 1e-6
    assert math.isnan(mincer_zarnowitz(y, np.full(80, y.mean())))  # a constant forecast has no slope


def test_mincer_zarnowitz_is_a_newey_west_wald_test_computed_by_hand():
    """The rational/biased test above passes with plain OLS standard errors too; at horizon 3
    the errors overlap (MA(2)), and the p-value must be the Wald test of a = 0, b = 1 under
    Newey-West's covariance with h - 1 = 2 Bartlett lags, computed here without statsmodels."""
    rng = np.random.default_rng(5)
    n, h = 120, 3
    signal = rng.standard_normal(n)
    y = 0.2 + 0.9 * signal + 0.5 * np.convolve(rng.standard_normal(n + h - 1), np.ones(h), "valid")
    x = np.column_stack([np.ones(n), signal])
    beta = np.linalg.solve(x.T @ x, x.T @ y)
    scores = x * (y - x @ beta)[:, None]
    meat = scores.T @ scores
    for lag in range(1, h):
        cross = scores[lag:].T @ scores[:-lag]
        meat += (1 - lag / h) * (cross + cross.T)
    bread = np.linalg.inv(x.T @ x)
    gap = beta - np.array([0.0, 1.0])
    wald = gap @ np.linalg.solve(bread @ meat @ bread, gap)
    expected = stats.chi2.sf(wald, 2)
    assert mincer_zarnowitz(y, signal, horizon=h) == pytest.approx(expected, rel=1e-9)
    plain = stats.chi2.sf(gap @ np.linalg.solve(bread * float(((y - x @ beta) ** 2).sum()) / (n - 2), gap), 2)
    assert abs(plain - expected) > 10 * expected / 100  # the covariance matters here: plain OLS is far off


def test_conformal_and_gaussian_halfwidths():
    errors = np.arange(1.0, 10.0)  # 9 calibration errors
    assert conformal_halfwidth(errors, 80) == 8.0  # the ceil(10 x 0.8) = 8th smallest
    assert conformal_halfwidth(errors, 50) == 5.0
    assert conformal_halfwidth(errors, 95) == math.inf  # 9 errors cannot bound 95 %
    assert gaussian_halfwidth(2.0, 95) == pytest.approx(1.959964 * 2.0, rel=1e-6)
    # a missing error is no calibration error: 9 finite errors still give the 8th smallest
    assert conformal_halfwidth(np.append(errors, np.nan), 80) == 8.0


@pytest.mark.parametrize("level", [50, 80, 90, 95, 97.5, 99, 99.9])
def test_conformal_minimum_is_the_fewest_errors_that_bound_the_level(level):
    need = conformal_minimum(level)
    assert math.isfinite(conformal_halfwidth(np.arange(1.0, need + 1), level))
    assert conformal_halfwidth(np.arange(1.0, need), level) == math.inf


def test_no_number_of_errors_bounds_a_level_of_100_and_column_names_keep_the_levels_digits():
    assert conformal_minimum(100) is None  # it looped for ever
    assert conformal_halfwidth(np.arange(1.0, 10_001), 100) == math.inf
    assert conformal_minimum(99.99999) >= 9_999_999  # at once, not by counting
    assert [level_tag(v) for v in (95.0, 97.5, 99.99999)] == ["95", "97.5", "99.99999"]  # not "100"


def test_nber_states_follow_peak_exclusive_trough_inclusive():
    quarters = pd.PeriodIndex(["1959Q4", "2007Q4", "2008Q1", "2009Q2", "2009Q3", "2020Q2", "2021Q1"], freq="Q")
    np.testing.assert_array_equal(recession_mask(quarters), [np.nan, 0, 1, 1, 0, 1, 0])
    # the first listed peak (1960Q2) is itself an expansion quarter; the quarter before it has no state
    first = pd.PeriodIndex(["1960Q1", "1960Q2", "1960Q3"], freq="Q")
    np.testing.assert_array_equal(recession_mask(first), [np.nan, 0, 1])
    months = pd.PeriodIndex(["2001-03", "2001-04", "2001-12", "2002-01"], freq="M")
    np.testing.assert_array_equal(recession_mask(months), [0, 1, 1, 0])
    assert np.isnan(recession_mask(pd.PeriodIndex(["2008"], freq="Y"))).all()


def _tiny_layout() -> SimpleNamespace:
    """A data module's layout by hand: 2 lags, 12 samples (val from the 7th, test from the 10th),
    horizon 2, so the origins from sample 5 on reach the validation period."""
    rng = np.random.default_rng(3)
    index = pd.period_range("2000Q1", periods=14, freq="Q")
    return SimpleNamespace(
        layout={"val_at": 6, "test_at": 9, "n": 12, "eval_from": 5},
        lags=2,
        series=pd.Series(rng.standard_normal(14), index=index),
        interval_levels=[50.0],
        horizon=2,
    )


def test_long_frame_calibrates_on_every_validation_target():
    """Each horizon's val rows are the targets of the whole validation period (samples 6-8),
    and the conformal bound is the ceil(0.5 (m + 1))-th smallest of their absolute errors."""
    dm = _tiny_layout()
    g = dm.series.to_numpy()
    pred = np.random.default_rng(4).standard_normal((8, 2))  # origins 5..12: the last one is the latest
    frame = long_frame(dm, torch.tensor(pred))
    for h in (1, 2):
        val = frame[(frame["split"] == "val") & (frame["horizon"] == h)]
        assert list(val["date"]) == [str(d) for d in dm.series.index[2 + 6 : 2 + 9]]
        # target sample j is forecast from origin j - h + 1, row j - h + 1 - 5 of pred
        errors = np.sort([abs(pred[j - h + 1 - 5, h - 1] - g[2 + j]) for j in (6, 7, 8)])
        q = errors[math.ceil(0.5 * 4) - 1]
        part = frame[frame["horizon"] == h]
        np.testing.assert_allclose(part["upper_50"] - part["forecast"], q)


def test_horizon_scores_are_the_errors_coverage_and_width_of_the_test_rows():
    forecast = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
    actual = np.array([1.4, 1.0, 0.5, 5.0, 1.0])
    lower, upper = forecast - np.array([0.5, 0.5, 1.0, 1.0, 0.2]), forecast + np.array([0.3, 0.9, 1.0, 1.5, 0.2])
    test = pd.DataFrame(
        {
            "date": ["2015Q1", "2015Q2", "2015Q3", "2015Q4", "2016Q1"],
            "horizon": 1,
            "split": "test",
            "forecast": forecast,
            "actual": actual,
            "lower_80": lower,
            "upper_80": upper,
        }
    )
    frame = pd.concat([test, test.assign(split="val", actual=actual + 9)])  # val rows are not scored
    row = horizon_scores(frame, 1, [80.0])
    err = np.abs(forecast - actual)
    assert row["test_mae"] == pytest.approx(err.mean())
    assert row["test_max_abs_err"] == pytest.approx(err.max())
    assert row["test_rmse"] == pytest.approx(math.sqrt(np.mean(err**2)))
    assert row["coverage_80"] == pytest.approx(np.mean((lower <= actual) & (actual <= upper)))
    assert row["width_80"] == pytest.approx(np.mean(upper - lower))
    assert row["n_test"] == 5
