"""US business-cycle states from the NBER's peak and trough quarters, 1960-2020.

Source: NBER Business Cycle Dating Committee, "US Business Cycle Expansions and
Contractions", https://www.nber.org/research/data/us-business-cycle-expansions-and-contractions
(shipped as ``econdl/data/nber_cycles.csv``, quarterly peaks and troughs).

Convention: a quarter is a recession quarter when it falls after a peak and no later than
the following trough (peak < q <= trough), the NBER's reading of a contraction as running
from the peak to the trough.  Every other quarter from the first listed peak on is an
expansion quarter, including those after the last trough (no later peak is listed).
Quarters before the first peak, and periods that are not months or quarters, have no
state (NaN).  The dates describe the US economy only.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd


@lru_cache(maxsize=1)
def nber_cycles() -> pd.DataFrame:
    """The shipped table: one row per cycle, ``peak`` and ``trough`` as quarterly periods."""
    text = resources.files("econdl.data").joinpath("nber_cycles.csv").read_text()
    rows = [line.split(",") for line in text.strip().splitlines()[1:]]
    return pd.DataFrame(
        {
            "peak": pd.PeriodIndex([pd.Period(p, freq="Q") for p, _ in rows]),
            "trough": pd.PeriodIndex([pd.Period(t, freq="Q") for _, t in rows]),
        }
    )


def recession_mask(periods: pd.PeriodIndex) -> np.ndarray:
    """Per period: 1.0 recession, 0.0 expansion, NaN unknown (see the module's convention)."""
    periods = pd.PeriodIndex(periods)
    out = np.full(len(periods), np.nan)
    if len(periods) == 0 or periods.freqstr[0] not in ("Q", "M"):
        return out
    quarters = periods.asfreq("Q").asi8
    cycles = nber_cycles()
    out[quarters >= cycles["peak"][0].ordinal] = 0.0
    for peak, trough in zip(cycles["peak"], cycles["trough"], strict=True):
        out[(quarters > peak.ordinal) & (quarters <= trough.ordinal)] = 1.0
    return out
