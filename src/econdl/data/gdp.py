"""GDP-growth forecasting: predict g_{o+1}, ..., g_{o+H} from the lags (g_o, ..., g_{o-p+1}).

The lecture's "Tiny MLP for GDP forecasting": a nonlinear AR(p) against the
linear AR(p) fitted by OLS, out of sample, on US real GDP.  Samples are dated by
their target; the split is chronological (train, then validation, then test), so
the first p rows of a split read lags from the split before but no target of a
later period enters an earlier split; with a horizon H > 1 a sample belongs to a split
only when all its H targets do.  Inputs and targets share one
standardisation (the training targets' mean and standard deviation), so AR slope
coefficients are the same in both units and the random walk stays g_{t-1}.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from econdl.data.base import RegressionDataModule, Splits, resolve_count
from econdl.data.loader import TensorBatches
from econdl.data.series import (
    PER_YEAR,
    exog_frame,
    macrodata_series,
    origin_inputs,
    rates_note,
    read_csv_series,
    target_matrix,
    transform_series,
)
from econdl.errors import CheckpointError, ConfigError, DataError

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
        horizon: H; every model forecasts the next 1..H periods from each origin (direct
            multi-output, or iterated by ``LinearAR(method="iterated")``).
        exog: further series (macrodata or CSV columns, e.g. ``[unemp, tbilrate]``) whose
            p lags, in levels, join every model's inputs (standardised on the training period).
        interval_levels: coverage levels (percent) of the prediction intervals.
        val_size, test_size: length of the validation / test periods: a count of periods
            (quarters), or a fraction (< 1) of all target periods; at horizon 1 a period is one
            sample, at horizon H a period of N holds the N - H + 1 samples whose targets all lie
            in it, which ``econdl test`` scores (``econdl compare``'s table scores a forecast of
            each of the N test periods at every horizon, from origins before the period too).
            ``val_start``/``test_start`` (a date such as ``2000Q1`` or ``2000-01-01``) replace
            them when given.
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
    unit = "samples"
    # the test period is checked by its dates (a checkpoint records where its test period began)
    split_keys = {"validate": ("val_size", "test_size", "val_start", "test_start"), "test": ()}

    def __init__(
        self,
        source: str = "macrodata",
        path: str | None = None,
        value_column: str | None = None,
        date_column: str | None = None,
        frequency: str | None = None,
        transform: str = "log_diff",
        lags: int = 4,
        horizon: int = 1,
        exog: list[str] | None = None,
        interval_levels: Sequence[float] = (80, 95),
        val_size: int | float = 0.15,
        test_size: int | float = 0.2,
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
            raise ConfigError(f"source={source!r} is not one of {list(SOURCES)}")
        if source == "csv" and not path:
            raise ConfigError("source='csv' needs a file: --data.path data/GDPC1.csv")
        if source != "csv" and path:
            raise ConfigError(
                f"path={path!r} is read only with source='csv' (now source={source!r}, the bundled data): "
                "add --data.source csv"
            )
        if evaluation not in EVALUATIONS:
            raise ConfigError(f"evaluation={evaluation!r} is not one of {list(EVALUATIONS)}")
        if refit_epochs < 0:
            # checked here, not after every model of a comparison has been fitted
            raise ConfigError(
                f"refit_epochs={refit_epochs!r} must be a whole number >= 0 (epochs per refit under "
                "evaluation='expanding'), e.g. --data.refit_epochs 5"
            )
        if lags < 1:
            raise ConfigError(f"lags={lags} must be a positive integer")
        if horizon < 1:
            raise ConfigError(f"horizon={horizon} must be a positive integer (1 = next period only)")
        if not len(interval_levels):  # all() of nothing is True: the message below would list nothing
            raise ConfigError("interval_levels=[] gives no level; give percentages in (0, 100), e.g. [80, 95]")
        if any(not 0 < level < 100 for level in interval_levels):
            raise ConfigError(f"interval_levels={list(interval_levels)} must be percentages in (0, 100), e.g. [80, 95]")
        # 0.8 meant as 80% (alone or beside 95): a 0.8% interval covers almost nothing; 1 is
        # taken as 1% (as 100% it would be refused above, and the fix below would give 100)
        fractions = [level for level in interval_levels if level < 1]
        if fractions:
            meant = [round(100 * level, 6) if level < 1 else level for level in interval_levels]
            asked = fractions if len(fractions) > 1 else fractions[0]
            raise ConfigError(
                f"interval_levels={list(interval_levels)} are percentages: {asked} "
                f"asks for intervals that cover {', '.join(f'{v:g}%' for v in fractions)} of outcomes; for "
                f"{', '.join(f'{v:g}%' for v in meant)} give --data.interval_levels {meant}"
            )
        ends = {"val": "the test period's start", "test": "the end of the series"}
        for name, start, size in (("val", val_start, val_size), ("test", test_start, test_size)):
            default = inspect.signature(GDPDataModule.__init__).parameters[f"{name}_size"].default
            if start is not None and size != default:  # the date decides; a size given beside it would be ignored
                raise ConfigError(
                    f"{name}_start={start} and {name}_size={size:g} both set the {name} period (from {name}_start "
                    f"to {ends[name]}, its size ignored); give one of them"
                )
        repeated = sorted({name for name in exog or [] if list(exog or []).count(name) > 1})
        if repeated:  # one column read twice would give the model fewer inputs than it was built for
            raise ConfigError(
                f"exog={list(exog or [])} names {', '.join(map(repr, repeated))} more than once; list each "
                f"series once, e.g. --data.exog {list(dict.fromkeys(exog or []))}"
            )
        for name, size in (("val_size", val_size), ("test_size", test_size)):
            resolve_count(name, size, None, "samples")  # the form; the count once the data is read
        self.source, self.path, self.value_column, self.date_column = source, path, value_column, date_column
        self.frequency, self.transform, self.lags, self.horizon = frequency, transform, lags, horizon
        self.exog, self.interval_levels = list(exog or []), [float(v) for v in interval_levels]
        self.exog_loc: list[float] = []
        self.exog_scale: list[float] = []
        self.val_size, self.test_size, self.val_start, self.test_start = val_size, test_size, val_start, test_start
        self.dropna, self.standardize, self.evaluation = dropna, standardize, evaluation
        self.refit_epochs, self.relative_to = refit_epochs, relative_to
        self.predict_split = "forecast"  # `econdl compare` sets "test" to score test predictions
        self.series: pd.Series | None = None
        self.dates: dict[str, pd.PeriodIndex] = {}
        self._raw: dict[str, tuple[Tensor, ...]] = {}
        self._state_loaded = False
        self._trained_frequency: str | None = None  # of the series a loaded checkpoint was trained on
        self._trained_on: dict[str, str] = {}  # and which series, and where its test period began
        self.layout: dict[str, int] = {}
        self.rates_note: str | None = None  # said with the counts when the series looks like rates already

    # --- data --------------------------------------------------------------------------
    def load_series(self) -> pd.Series:
        """The transformed series g_t (e.g. annualised growth in percent), indexed by period."""
        if self.source == "macrodata":
            levels = macrodata_series(self.value_column or "realgdp")
        else:
            assert self.path is not None  # __init__ refuses source='csv' without a path
            levels = read_csv_series(self.path, self.value_column, self.date_column, self.frequency, self.dropna)
        self.rates_note = rates_note(levels, self.transform)
        return transform_series(levels, self.transform)

    def _cut(self, name: str, size: float | int, start: str | None, dates: pd.PeriodIndex, end: int) -> int:
        """First sample index of the period ``name`` (``val`` or ``test``), which ends before
        sample ``end``: from its start date, or ``size`` samples (a count, or a fraction of all)."""
        if start is not None:
            try:
                first = pd.Period(start, freq=dates.freq)
            except ValueError as err:
                raise ConfigError(f"{start!r} is not a date (e.g. 2000Q1 or 2000-01-01): {err}") from None
            at = int(np.searchsorted(dates.asi8, first.ordinal))
            span = f"the targets run from {dates[0]} to {dates[-1]}"
            if at == 0:
                raise ConfigError(
                    f"{name}_start={start} leaves no sample before it ({span}); give a later {name}_start"
                )
            if at >= end:
                limit = (
                    f"after the last sample, {dates[-1]}"
                    if end == len(dates)
                    else f"at or after the test period's start, {dates[end]}"
                )
                raise ConfigError(
                    f"{name}_start={start} is {limit}; the {name} period must start between {dates[1]} and "
                    f"{dates[end - 1]} ({span})"
                )
            return at
        count = resolve_count(f"{name}_size", size, len(dates), "samples")
        if count >= end:
            before = f"the {end} samples before the test period" if end < len(dates) else f"the {end} samples"
            # the test period may be what leaves too little: name it too
            test = f" or a smaller test_size (the test period takes {len(dates) - end})" if end < len(dates) else ""
            raise ConfigError(
                f"{name}_size={size:g} ({count} samples) leaves nothing of {before} for the earlier "
                f"splits; pass a smaller {name}_size{test}"
            )
        return end - count

    @property
    def output_dim(self) -> int:
        """Outputs every model produces: one forecast per horizon."""
        return self.horizon

    def build(self) -> Splits:
        series = self.load_series()
        self.series = series
        self._check_frequency()
        p, horizon = self.lags, self.horizon
        g = series.to_numpy(dtype=float, copy=True)
        exog = None
        if self.exog:
            exog = exog_frame(
                self.source, self.exog, series.index, self.path, self.date_column, self.frequency, self.dropna
            ).to_numpy(dtype=float)
        if len(g) - p - horizon + 1 < 3:
            raise ConfigError(
                f"{len(series)} observations of {series.name} are too few for lags={p} and horizon={horizon}: "
                f"each sample needs {p + horizon} consecutive periods, which leaves "
                f"{max(len(g) - p - horizon + 1, 0)} samples to split; lower lags or horizon, or use a longer series"
            )
        x = origin_inputs(g, p, exog)  # row i: origin p-1+i, the last row forecasts beyond the data
        y = target_matrix(g, p, horizon)
        dates = series.index[p:]  # row i's first target period
        n = len(dates)
        test_at = self._cut("test", self.test_size, self.test_start, dates, n)
        if test_at < 2:
            raise ConfigError(
                f"the test period starts at {dates[test_at]}, leaving {test_at} samples before it for training and "
                "validation; give a later test_start or a smaller test_size"
            )
        val_at = self._cut("val", self.val_size, self.val_start, dates, test_at)
        # a sample belongs to a split only if all its targets lie in that split's period
        cuts = {
            "train": (0, val_at - horizon + 1),
            "val": (val_at, test_at - horizon + 1),
            "test": (test_at, n - horizon + 1),
        }
        counts = {name: max(b - a, 0) for name, (a, b) in cuts.items()}
        need = x.shape[1] + 2
        if counts["train"] < need or counts["val"] < 1 or counts["test"] < 1:
            fixes = []
            if counts["train"] < need:
                fixes.append(
                    f"training needs at least inputs + 2 = {need} samples: lower lags or horizon, a smaller "
                    "val_size or test_size, later val_start/test_start, or a longer series"
                )
            periods = {"val": test_at - val_at, "test": n - test_at}
            for split in ("val", "test"):
                if counts[split] < 1:  # a sample's targets span `horizon` periods, all inside the split
                    fixes.append(
                        f"the {split} period has {periods[split]} period{'s' * (periods[split] != 1)}, and a "
                        "sample's targets span "
                        f"horizon={horizon}: give {split}_size {horizon} or more"
                    )
            raise ConfigError(
                f"{len(series)} observations of {series.name} with lags={p}, horizon={horizon} and these splits "
                f"leave too few samples (per split: {counts}); " + "; ".join(fixes)
            )
        as_t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
        self._raw = {name: (as_t(x[a:b]), as_t(y[a:b])) for name, (a, b) in cuts.items()}
        self._raw["all"] = (as_t(x[: len(y)]), as_t(y))  # every sample, for rolling-origin refits
        # every origin whose forecasts reach a validation or test period, then the latest one
        first = max(0, val_at - horizon + 1)
        self._raw["eval"] = (as_t(x[first:]),)
        self.layout = {"val_at": val_at, "test_at": test_at, "n": n, "eval_from": first}
        self.dates = {name: dates[a:b] for name, (a, b) in cuts.items()}
        self.dates["origins"] = series.index[p - 1 + first :]
        self.dates["forecast"] = pd.period_range(series.index[-1] + 1, periods=horizon, freq=series.index.freq)
        self._check_out_of_sample()  # a checkpoint's state loaded before the series was read
        if self.standardize and not self._state_loaded:
            train = slice(p, p + val_at)  # the training period's observations, nothing later
            self.target_loc, self.target_scale = float(g[train].mean()), float(g[train].std(ddof=1))
            if not self.target_scale > 0:
                raise DataError(f"the training targets of {series.name} are constant; nothing to forecast")
            if exog is not None:
                self.exog_loc = exog[train].mean(0).tolist()
                self.exog_scale = exog[train].std(0, ddof=1).tolist()
                flat = [n for n, s in zip(self.exog, self.exog_scale, strict=True) if not s > 0]
                if flat:
                    raise DataError(f"exog {flat} are constant over the training period; drop them")
        return self._scaled()

    def counts_note(self) -> str | None:
        """The samples per split and the periods their targets cover."""
        counts = super().counts_note()
        if counts is None or self.series is None:
            return counts
        last = self.horizon - 1  # a sample's targets run from its date to `horizon - 1` periods later
        spans = [f"{k} {d[0]} to {d[-1] + last}" for k in ("train", "val", "test") if len(d := self.dates[k])]
        note = f"{counts} of {self.series.name} (target periods: {', '.join(spans)})"
        if self.horizon > 1:  # the counts above are samples with all their targets in one split's periods
            periods = self.layout["n"] - self.layout["test_at"]
            note += (
                f"; a sample's {self.horizon} targets all lie in its split's periods (econdl compare's table "
                f"also scores the forecasts of the {periods} test periods from origins before them)"
            )
        if self.rates_note:
            note += f"\n{self.label}: {self.rates_note}"
        return note

    def input_scaling(self) -> tuple[Tensor, Tensor]:
        """Per input column (loc, scale): the target's for the lags of g, each exog's own."""
        k, p = len(self.exog), self.lags
        locs = self.exog_loc or [0.0] * k
        scales = self.exog_scale or [1.0] * k
        loc = [self.target_loc] * p + [v for v in locs for _ in range(p)]
        scale = [self.target_scale] * p + [v for v in scales for _ in range(p)]
        return torch.tensor(loc, dtype=torch.float64), torch.tensor(scale, dtype=torch.float64)

    def _scaled(self) -> Splits:
        loc, scale = self.input_scaling()
        out = {}
        for name, (x, *rest) in self._raw.items():
            ys = [((t - self.target_loc) / self.target_scale).float() for t in rest]
            out[name] = (((x - loc) / scale).float(), *ys)
        return out

    # --- state: the standardisation travels in checkpoints ------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "frequency": self._frequency(),
            "target_loc": self.target_loc,
            "target_scale": self.target_scale,
            "exog_loc": list(self.exog_loc),
            "exog_scale": list(self.exog_scale),
            # what the fit saw: every period before its test period (training and validation)
            # (a checkpoint's, until this module has read its data)
            "trained_on": (
                {
                    "data": self._data_name(),
                    "test_start": str(self.dates["test"][0]),
                    "val_start": str(self.dates["val"][0]),  # the training period ends before it
                }
                if self.dates
                else dict(self._trained_on)
            ),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Reuse the training standardisation of a checkpoint (also on a newer series)."""
        self.target_loc = float(state_dict["target_loc"])
        self.target_scale = float(state_dict["target_scale"])
        self.exog_loc = list(state_dict.get("exog_loc", []))
        self.exog_scale = list(state_dict.get("exog_scale", []))
        self._trained_frequency = state_dict.get("frequency")
        self._trained_on = dict(state_dict.get("trained_on") or {})
        self._check_frequency()  # now, or when the series is read
        self._check_out_of_sample()
        if len(self.exog_loc) != len(self.exog):
            raise CheckpointError(
                f"the checkpoint was trained with {len(self.exog_loc)} exog series, this run asks "
                f"for exog={self.exog}; use the same --data.exog as the fit"
            )
        self._state_loaded = True
        if self._raw:
            self.splits = self._scaled()

    def _data_name(self) -> str:
        """The series and where it was read, e.g. ``realgdp (macrodata)``, ``GDPC1 (data/GDPC1.csv)``."""
        name = self.series.name if self.series is not None else self.value_column
        return f"{name} ({'macrodata' if self.source == 'macrodata' else self.path})"

    def _check_out_of_sample(self) -> None:
        """A test of a checkpoint scores periods that its fit did not see, or it is refused: on
        another series (or a shorter one) the test period can start inside the periods the
        model was trained and validated on, and its "out-of-sample" RMSE would be in-sample.
        The validation period of a predict, on whose errors the forecast intervals are
        calibrated, may not start inside the fit's training period either (a test computes no
        interval, and its scores stay out of sample whatever its validation period)."""
        trainer = self.trainer
        if trainer is None or not (trainer.testing or trainer.predicting) or not self.dates:
            return
        same = self._trained_on.get("data") == self._data_name()
        fitted_on = self._trained_on.get("data", "its data")
        trained_start = self._trained_on.get("test_start")
        start = self.dates["test"][0]
        if trainer.testing and trained_start and self._before(trained_start, start):
            fix = "Give the fit's test_size (or test_start)"
            if not same:
                fix = "Test it on the data and splits it was fitted on"
            raise CheckpointError(
                f"the checkpoint was fitted on {fitted_on} up to "
                f"{pd.Period(trained_start, freq=start.freq) - 1}, and this run's test period on {self._data_name()} "
                f"starts at {start}, inside it: its test scores would not be out of sample. {fix}, or test on "
                f"periods after its fit (--data.test_start {trained_start} or later)"
            )
        val_trained = self._trained_on.get("val_start")  # (checkpoints of econdl before it was recorded: None)
        val = self.dates["val"][0]
        if trainer.predicting and val_trained and self._before(val_trained, val):
            fix = (
                "Give the fit's val_size and test_size (or val_start and test_start): the run's config.yaml has them"
                if same
                else f"Give the series it was fitted on, {fitted_on}, with the fit's splits"
            )
            raise CheckpointError(
                f"the checkpoint was trained on {fitted_on} up to {pd.Period(val_trained, freq=val.freq) - 1}, and "
                f"this run's validation period on {self._data_name()}, on whose forecast errors the interval bounds "
                f"are calibrated, starts at {val}, inside it: the bounds would rest on in-sample errors. {fix} "
                f"(--data.val_start {val_trained} or later)"
            )

    @staticmethod
    def _before(trained: str, start: pd.Period) -> bool:
        """Whether ``start`` lies before the period ``trained`` (False across frequencies:
        _check_frequency refuses those)."""
        try:
            return pd.Period(trained, freq=start.freq) > start
        except (ValueError, TypeError):
            return False

    def _frequency(self) -> str | None:
        """The series' frequency (``Q``, ``M``, ``Y``), once it is read; before, a checkpoint's."""
        index = self.series.index if self.series is not None else None
        freq = getattr(index, "freqstr", None)
        return str(freq)[0] if freq else self._trained_frequency

    def _check_frequency(self) -> None:
        """A checkpoint's model was trained on a series of one frequency: refuse another."""
        trained = self._trained_frequency
        here = getattr(self.series.index, "freqstr", None) if self.series is not None else None
        if trained and here and trained != str(here)[0]:
            names = {"Q": "quarterly", "M": "monthly", "Y": "yearly", "A": "yearly"}
            raise CheckpointError(
                f"the checkpoint was trained on {names.get(trained, trained)} data, and this run's series is "
                f"{names.get(str(here)[0], here)}: its lags and growth rates mean other things; fit a model on "
                "this series, or give the series it was trained on"
            )

    # --- predict, score, plot -----------------------------------------------------------
    def predict_dataloader(self) -> TensorBatches:
        return self.loader("eval")

    def prediction_frame(self, batches: list[Tensor]) -> pd.DataFrame:
        """predictions.csv: under ``econdl predict`` the next H periods with their interval
        bounds; under ``econdl compare`` every validation and test forecast, long format."""
        from econdl.forecast.evaluate import forecast_frame, long_frame

        pred = torch.cat([b.detach().cpu().reshape(len(b), -1) for b in batches]).double()
        model = self.trainer.lightning_module if self.trainer is not None else None
        if self.predict_split == "forecast":
            frame = forecast_frame(self, pred, model)
            self._say_infinite_bounds(frame)
            return frame
        return long_frame(self, pred, model)

    def _say_infinite_bounds(self, frame: pd.DataFrame) -> None:
        """One line per interval level whose conformal bounds came out infinite, with why and the fix."""
        from econdl.forecast.evaluate import level_tag
        from econdl.forecast.intervals import infinite_width_reason

        for level in self.interval_levels:  # each below 100 (__init__): more validation errors give a bound
            tag = level_tag(level)
            bound = frame.get(f"upper_{tag}")
            if bound is None or not np.isinf(bound.to_numpy(dtype=float)).any():
                continue
            print(
                f"predict: lower_{tag}/upper_{tag} are -inf/inf: {infinite_width_reason(level, tag)}; fit again "
                "with a larger --data.val_size (the fit's validation period calibrates the bounds)"
            )

    def score(self, pred: Tensor) -> dict[str, float]:
        """One-step-ahead test errors of the forecasts made on the ``eval`` origins."""
        from econdl.forecast.evaluate import errors_by_horizon, long_frame

        return errors_by_horizon(long_frame(self, pred))[1]

    def describe_model(self, model: torch.nn.Module) -> dict[str, Any]:
        if self.series is None:
            raise RuntimeError("describe_model needs the data: call setup() first")
        start, end = str(self.dates["test"][0]), str(self.series.index[-1])
        sep = " to " if "-" in start else "-"  # 2010-02 to 2012-06; 1999Q4-2009Q3
        return {"evaluation": self.evaluation, "test_period": f"{start}{sep}{end}", "units": self.units()}

    def units(self) -> str:
        """What the series, its forecasts and their errors are measured in."""
        freq = str(self.series.index.freqstr)[:1] if self.series is not None else "Q"
        period = {"Q": "quarter", "M": "month", "Y": "year"}.get(freq, "period")
        if self.transform == "log_diff":
            per_year = "" if freq == "Y" else ", annualised"
            return f"growth in percent{per_year} (log difference x {100 * PER_YEAR.get(freq, 1)})"
        if self.transform == "pct_change":
            return f"percent change on the previous {period} (not annualised)"
        return f"levels of {self.series.name if self.series is not None else 'the series'}"

    def rolling_predictions(self, trainer: Any, model: Any) -> Tensor | None:
        """Expanding-window forecasts on the ``eval`` origins; None under ``evaluation='fixed'``."""
        if self.evaluation == "fixed":
            return None
        from econdl.data.rolling import expanding_window_forecasts

        return expanding_window_forecasts(self, trainer, model, self.refit_epochs)

    def horizon_table(
        self, table: pd.DataFrame, runs: dict[str, list[dict]], reference: str | None, explicit: bool, out_dir: Path
    ) -> tuple[pd.DataFrame, list[Path]]:
        """``econdl compare``'s table with one row per model and horizon, tests against
        ``reference``, intervals and recession RMSE; writes predictions.csv and the plots."""
        from econdl.forecast.evaluate import horizon_table

        return horizon_table(self, table, runs, reference, explicit, out_dir)

    def plot_predictions(self, predictions: dict[str, Tensor], path: Path) -> Path:
        """Actual growth and every model's one-step forecast over the test period."""
        from econdl.forecast.plots import plot_test_forecasts

        return plot_test_forecasts(self, predictions, path)
