"""Forecast evaluation as forecasting papers report it: comparison tests, prediction
intervals, business-cycle states, and the table ``econdl compare`` builds from them."""

from econdl.forecast.intervals import conformal_halfwidth, gaussian_halfwidth
from econdl.forecast.recessions import nber_cycles, recession_mask
from econdl.forecast.stats import clark_west, diebold_mariano, mincer_zarnowitz

__all__ = [
    "clark_west",
    "conformal_halfwidth",
    "diebold_mariano",
    "gaussian_halfwidth",
    "mincer_zarnowitz",
    "nber_cycles",
    "recession_mask",
]
