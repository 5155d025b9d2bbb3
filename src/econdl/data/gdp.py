"""GDP-growth forecasting: predict g_t from its own lags (g_{t-1}, ..., g_{t-p}).

The lecture's "Tiny MLP for GDP forecasting": a nonlinear AR(p) against the
linear AR(p) fitted by OLS, out of sample, on US real GDP.  Samples are dated by
their target; the split is chronological (train, then validation, then test), so
the first p rows of a split read lags from the split before but no target of a
later period enters an earlier split.  Inputs and targets share one
standardisation (the training targets' mean and standard deviation), so AR slope
coefficients are the same in both units and the random walk stays g_{t-1}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from econdl.data.base import RegressionDataModule, Splits
from econdl.data.series import lag_matrix, macrodata_series, read_csv_series, transform_series

SOURCES = ("macrodata", "csv")
EVALUATIONS = ("fixed", "expanding")


class GDPDataModule(RegressionDataModule):
    """Lags of a growth series as inputs, the next value as target, split by date.

    Args:
        source: ``macrodata`` (US real GDP 1959Q1-2009Q3 bundled with statsmodels) or ``csv``.
        path: the CSV file (source csv), e.g. a FRED download ``data/GDPC1.csv``.
        value_column: column to forecast (csv: default the only non-date column; macrodata: realgdp).
        date_column: date column (default: ``observation_date``, ``DATE`` or ``date``).
        frequency: ``Q``, ``M`` or ``Y``; default inferred from the dates.
        transform: ``log_diff`` (annualised log growth, x 400 for quarters), ``pct_change``
            (period-on-period percent change) or ``levels`` (no transform).
        lags: p, the number of lags in x_t.
        val_size, test_size: size of the validation / test periods: a count of samples,
            or a fraction (< 1) of all samples.  ``val_start``/``test_start`` (a date such
            as ``2000Q1`` or ``2000-01-01``) replace them when given.
        dropna: drop rows with missing or non-numeric values instead of failing.
        standardize: scale inputs and targets by the training targets' mean and std.
        evaluation: ``fixed`` (fit once on the training period) or ``expanding``
            (rolling origin: ``econdl compare`` refits on all data up to t before
            forecasting t+1; see ``rolling_predictions``).
        refit_epochs: epochs per refit for gradient-trained models under ``expanding``
            (warm-started from the previous fit).
        relative_to: model name whose test RMSE ``econdl compare`` divides every RMSE by.
        batch_size, eval_batch_size, split_seed, drop_last, data_on_device: see ``InMemoryDataModule``.
    """

    task = "gdp"

    def __init__(
        self,
        source: str = "macrodata",
        path: str | None = None,
        value_column: str | None = None,
        date_column: str | None = None,
        frequency: str | None = None,
        transform: str = "log_diff",
        lags: int = 4,
        val_size: float = 0.15,
        test_size: float = 0.2,
        val_start: str | None = None,
        test_start: str | None = None,
        dropna: bool = False,
        standardize: bool = True,
        evaluation: str = "fixed",
        refit_epochs: int = 5,
        relative_to: str | None = "ar",
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        split_seed: int = 0,
        drop_last: bool = False,
        data_on_device: bool | None = None,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, split_seed, drop_last, data_on_device)
        self.save_hyperparameters()
        if source not in SOURCES:
            raise ValueError(f"source={source!r} is not one of {list(SOURCES)}")
        if source == "csv" and not path:
            raise ValueError("source='csv' needs a file: --data.path data/GDPC1.csv")
        if evaluation not in EVALUATIONS:
            raise ValueError(f"evaluation={evaluation!r} is not one of {list(EVALUATIONS)}")
        if lags < 1:
            raise ValueError(f"lags={lags} must be a positive integer")
        for name, size in (("val_size", val_size), ("test_size", test_size)):
            if size <= 0 or (size >= 1 and size != int(size)):
                raise ValueError(f"{name}={size} must be a fraction in (0, 1) or a whole number of samples")
        self.source, self.path, self.value_column, self.date_column = source, path, value_column, date_column
        self.frequency, self.transform, self.lags = frequency, transform, lags
        self.val_size, self.test_size, self.val_start, self.test_start = val_size, test_size, val_start, test_start
        self.dropna, self.standardize, self.evaluation = dropna, standardize, evaluation
        self.refit_epochs, self.relative_to = refit_epochs, relative_to
        self.predict_split = "forecast"  # `econdl compare` sets "test" to score test predictions
        self.series: pd.Series | None = None
        self.dates: dict[str, pd.PeriodIndex] = {}
        self._raw: dict[str, tuple[Tensor, ...]] = {}
        self._state_loaded = False

    # --- data --------------------------------------------------------------------------
    def load_series(self) -> pd.Series:
        """The transformed series g_t (e.g. annualised growth in percent), indexed by period."""
        if self.source == "macrodata":
            levels = macrodata_series(self.value_column or "realgdp")
        else:
            levels = read_csv_series(self.path, self.value_column, self.date_column, self.frequency, self.dropna)
        return transform_series(levels, self.transform)

    def _cut(self, size: float, start: str | None, dates: pd.PeriodIndex, end: int) -> int:
        """First sample index of a period that ends before sample ``end``."""
        if start is not None:
            try:
                first = pd.Period(start, freq=dates.freq)
            except ValueError as err:
                raise ValueError(f"{start!r} is not a date (e.g. 2000Q1 or 2000-01-01): {err}") from None
            return int(np.searchsorted(dates.asi8, first.ordinal))
        count = int(round(size * len(dates))) if size < 1 else int(size)
        return end - count

    def build(self) -> Splits:
        series = self.load_series()
        self.series = series
        x, y = lag_matrix(series.to_numpy(dtype=float, copy=True), self.lags)
        dates = series.index[self.lags :]
        test_at = self._cut(self.test_size, self.test_start, dates, len(dates))
        val_at = self._cut(self.val_size, self.val_start, dates, test_at)
        counts = {"train": val_at, "val": test_at - val_at, "test": len(dates) - test_at}
        if counts["train"] < self.lags + 2 or counts["val"] < 1 or counts["test"] < 1:
            raise ValueError(
                f"{len(series)} observations of {series.name} are too few for lags={self.lags} and the splits "
                f"(samples per split: {counts}; training needs at least lags + 2 = {self.lags + 2}, validation "
                "and test at least 1): lower lags, val_size or test_size, move val_start/test_start, or use a longer series"
            )
        cuts = {"train": (0, val_at), "val": (val_at, test_at), "test": (test_at, len(dates))}
        as_t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
        self._raw = {name: (as_t(x[a:b]), as_t(y[a:b]).unsqueeze(1)) for name, (a, b) in cuts.items()}
        self.dates = {name: dates[a:b] for name, (a, b) in cuts.items()}
        # the forecast of the period after the last observation, from the latest p observations
        self._raw["forecast"] = (as_t(series.to_numpy()[::-1][: self.lags].copy()).unsqueeze(0),)
        self.dates["forecast"] = pd.PeriodIndex([series.index[-1] + 1])
        if self.standardize and not self._state_loaded:
            y_train = self._raw["train"][1]
            self.target_loc, self.target_scale = float(y_train.mean()), float(y_train.std())
            if not self.target_scale > 0:
                raise ValueError(f"the training targets of {series.name} are constant; nothing to forecast")
        return self._scaled()

    def _scaled(self) -> Splits:
        loc, scale = self.target_loc, self.target_scale
        return {name: tuple(((t - loc) / scale).float() for t in ts) for name, ts in self._raw.items()}

    # --- state: the standardisation travels in checkpoints ------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"target_loc": self.target_loc, "target_scale": self.target_scale}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Reuse the training standardisation of a checkpoint (also on a newer series)."""
        self.target_loc = float(state_dict["target_loc"])
        self.target_scale = float(state_dict["target_scale"])
        self._state_loaded = True
        if self._raw:
            self.splits = self._scaled()

    # --- predict, score, plot -----------------------------------------------------------
    def predict_dataloader(self):  # noqa: ANN201 (a TensorBatches)
        return self.loader(self.predict_split)

    def prediction_frame(self, batches: list[Tensor]) -> pd.DataFrame:
        """Dated forecasts (in the series' units, e.g. percentage points) for predictions.csv."""
        pred = torch.cat([b.detach().cpu().reshape(-1) for b in batches]).double().numpy()
        frame = pd.DataFrame({"date": self.dates[self.predict_split].astype(str), "forecast": pred})
        if self.predict_split == "forecast":
            frame.insert(1, "last_observation", str(self.series.index[-1]))
        else:
            frame["actual"] = self.test_targets().reshape(-1).double().numpy()
        return frame

    def describe_model(self, model: torch.nn.Module) -> dict[str, Any]:
        return {"evaluation": self.evaluation, "test_period": f"{self.dates['test'][0]}-{self.dates['test'][-1]}"}

    def rolling_predictions(self, trainer: Any, model: Any) -> Tensor | None:
        """Expanding-window test forecasts; None under ``evaluation='fixed'``."""
        if self.evaluation == "fixed":
            return None
        from econdl.data.rolling import expanding_window_forecasts

        return expanding_window_forecasts(self, trainer, model, self.refit_epochs)

    def plot_predictions(self, predictions: dict[str, Tensor], path: Path) -> Path:
        """Actual growth and every model's forecast over the test period."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        when = self.dates["test"].to_timestamp()
        fig, ax = plt.subplots(figsize=(9, 4.5))
        ax.plot(when, self.test_targets().reshape(-1).numpy(), color="black", lw=2.2, label="actual")
        for name, pred in predictions.items():
            ax.plot(when, pred.reshape(-1).numpy(), lw=1.2, label=name)
        ax.axhline(0, color="grey", lw=0.6)
        units = {"log_diff": "annualised growth, %", "pct_change": "% change", "levels": "level"}[self.transform]
        ax.set_ylabel(f"{self.series.name} ({units})")
        ax.set_title(f"{self.series.name}: test-period forecasts with {self.lags} lags ({self.evaluation} window)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path
