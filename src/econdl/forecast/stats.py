"""Tests of forecast accuracy and rationality on matched forecasts of the same periods.

- Diebold-Mariano: statsmodels' ``diebold_mariano_test`` with the Harvey-Leybourne-Newbold
  small-sample correction, squared-error loss.
- Clark-West (2007): for nested models, where DM is undersized because the larger model's
  extra parameters add noise that is zero under the null; one-sided.
- Mincer-Zarnowitz: regress the outcome on a constant and the forecast; a rational forecast
  has intercept 0 and slope 1 (joint Wald test, HAC standard errors).

Each returns NaN when the test is undefined on the data (too few periods, a constant
forecast, identical forecasts), never a misleading number.
"""

from __future__ import annotations

import numpy as np
import statsmodels.api as sm
from scipy import stats
from statsmodels.tsa.stattools import diebold_mariano_test

NAN2 = (float("nan"), float("nan"))


def _arrays(*values: np.ndarray) -> list[np.ndarray]:
    arrays = [np.asarray(v, dtype=float).reshape(-1) for v in values]
    if len({len(a) for a in arrays}) != 1:
        raise ValueError(f"forecasts and outcomes must have the same length, got {[len(a) for a in arrays]}")
    return arrays


def diebold_mariano(
    actual: np.ndarray, forecast: np.ndarray, reference: np.ndarray, horizon: int = 1
) -> tuple[float, float]:
    """(statistic, p-value) of H0: equal mean squared error; statistic > 0: ``forecast`` is worse."""
    y, f, r = _arrays(actual, forecast, reference)
    if len(y) < 3 or np.allclose(f, r, rtol=0, atol=1e-12):
        return NAN2
    result = diebold_mariano_test(y, f, r, criterion="mse", harvey_adj=True, horizon=horizon)
    return float(result.statistic), float(result.pvalue)


def clark_west(actual: np.ndarray, nested: np.ndarray, larger: np.ndarray, horizon: int = 1) -> tuple[float, float]:
    """(statistic, one-sided p-value) of H0: the ``larger`` model adds nothing to the ``nested`` one.

    f_t = e_nested^2 - (e_larger^2 - (nested - larger)^2) regressed on a constant; the t-statistic
    uses the ordinary standard error at horizon 1 and Newey-West with h - 1 lags beyond, as the
    h-step errors overlap.  A large positive statistic favours the larger model.
    """
    y, small, large = _arrays(actual, nested, larger)
    if len(y) < 3:
        return NAN2
    adjusted = (y - small) ** 2 - ((y - large) ** 2 - (small - large) ** 2)
    if np.ptp(adjusted) == 0:
        return NAN2
    ones = np.ones((len(y), 1))
    robust = {"cov_type": "HAC", "cov_kwds": {"maxlags": horizon - 1}} if horizon > 1 else {}
    fit = sm.OLS(adjusted, ones).fit(**robust)
    stat = float(fit.tvalues[0])
    return stat, float(stats.norm.sf(stat))


def mincer_zarnowitz(actual: np.ndarray, forecast: np.ndarray, horizon: int = 1) -> float:
    """p-value of the joint test a = 0, b = 1 in actual = a + b forecast + e (HAC, h - 1 lags)."""
    y, f = _arrays(actual, forecast)
    if len(y) < 4 or np.ptp(f) < 1e-12:
        return float("nan")
    design = np.column_stack([np.ones(len(f)), f])
    fit = sm.OLS(y, design).fit(cov_type="HAC", cov_kwds={"maxlags": horizon - 1})
    return float(fit.wald_test((np.eye(2), np.array([0.0, 1.0])), scalar=True).pvalue)
