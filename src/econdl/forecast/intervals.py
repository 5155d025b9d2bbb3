"""Prediction-interval half-widths per horizon.

Split-conformal: the interval forecast +- q, with q the ceil((m + 1) level)-th smallest of
the m absolute forecast errors on a calibration period (here the validation period, which
no model trained on).  It assumes only that calibration and test errors are exchangeable,
so it applies to every model alike.  Gaussian: +- z sigma_h, for models that know their
h-step error standard deviation (OLS-based AR intervals).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def conformal_halfwidth(abs_errors: np.ndarray, level: float) -> float:
    """Half-width covering ``level`` percent of future errors (inf when the calibration
    period is too short for that level: fewer than 100 / (100 - level) - 1 errors)."""
    errors = np.sort(np.asarray(abs_errors, dtype=float).reshape(-1))
    errors = errors[np.isfinite(errors)]
    rank = math.ceil((len(errors) + 1) * level / 100)
    if len(errors) == 0 or rank > len(errors):
        return float("inf")
    return float(errors[rank - 1])


def conformal_minimum(level: float) -> int | None:
    """The fewest calibration errors that give a finite ``level`` percent half-width (with
    the rank :func:`conformal_halfwidth` takes): 19 for 95, 39 for 97.5; None at 100 or
    above, where no number of errors does."""
    if level >= 100:
        return None
    count = max(1, math.ceil(level / (100 - level)) - 1)  # level / (100 - level), up to rounding
    while math.ceil((count + 1) * level / 100) > count:
        count += 1
    return count


def infinite_width_reason(level: float, label: str) -> str:
    """Why a split-conformal interval at ``level`` percent (written ``label``) is infinite."""
    need = conformal_minimum(level)
    if need is None:
        return f"no number of validation forecasts bounds a split-conformal interval at {label}%"
    return f"too few validation forecasts for a {label}% split-conformal interval (it needs at least {need})"


def gaussian_halfwidth(std: float, level: float) -> float:
    """z_{(1 + level) / 2} x std: the normal interval's half-width."""
    return float(stats.norm.ppf(0.5 + level / 200) * std)
