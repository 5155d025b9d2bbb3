"""From a model's forecasts on every evaluation origin to the rows of the comparison table.

The long frame is the single source: one row per (origin, horizon) with the target
period, the forecast, the actual value, the split the target falls in (``val`` calibrates
the intervals, ``test`` is scored, ``ahead`` lies beyond the data) and interval bounds.
It is written as predictions.csv, so every number in the table can be recomputed from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import Tensor

from econdl.forecast.intervals import conformal_halfwidth, gaussian_halfwidth
from econdl.forecast.recessions import recession_mask
from econdl.forecast.stats import clark_west, diebold_mariano, mincer_zarnowitz
from econdl.errors import ConfigError

#: columns of the base table that describe a model rather than score it
DESCRIPTIVE = ("evaluation", "test_period", "units", "params", "fit_s", "refit_s", "seeds")


def level_tag(level: float) -> str:
    """A level as column names carry it: 95 as "95", 97.5 as "97.5" (to 10 digits, so that
    99.99999 is not named 100)."""
    return f"{level:.10g}"


def long_frame(dm: Any, pred: Tensor, model: Any = None) -> pd.DataFrame:
    """Forecasts on ``dm``'s ``eval`` origins (shape (origins, H), data units), one row per
    origin and horizon, with split-conformal bounds (and OLS bounds when ``model`` has
    ``forecast_std``) at ``dm.interval_levels``."""
    lay, p, series = dm.layout, dm.lags, dm.series
    values = pred.detach().double().cpu().numpy().reshape(len(pred), -1)
    g = series.to_numpy(dtype=float)
    records = []
    for row in range(len(values)):
        i = lay["eval_from"] + row
        for h in range(1, values.shape[1] + 1):
            j = i + h - 1  # target's position among the samples' first targets
            if j < lay["val_at"]:
                continue
            split = "ahead" if j >= lay["n"] else ("test" if j >= lay["test_at"] else "val")
            date = series.index[p + j] if split != "ahead" else series.index[-1] + (j - lay["n"] + 1)
            actual = g[p + j] if split != "ahead" else np.nan
            records.append((str(series.index[p - 1 + i]), str(date), h, split, values[row, h - 1], actual))
    frame = pd.DataFrame(records, columns=["origin", "date", "horizon", "split", "forecast", "actual"])
    stds = _forecast_std(model)
    for h, part in frame.groupby("horizon"):
        val = part[part["split"] == "val"]
        for level in dm.interval_levels:
            q = conformal_halfwidth((val["actual"] - val["forecast"]).abs().to_numpy(), level)
            frame.loc[part.index, f"lower_{level_tag(level)}"] = part["forecast"] - q
            frame.loc[part.index, f"upper_{level_tag(level)}"] = part["forecast"] + q
            if stds is not None:
                half = gaussian_halfwidth(float(stds[h - 1]), level)
                frame.loc[part.index, f"ols_lower_{level_tag(level)}"] = part["forecast"] - half
                frame.loc[part.index, f"ols_upper_{level_tag(level)}"] = part["forecast"] + half
    return frame


def _forecast_std(model: Any) -> np.ndarray | None:
    if model is None or not hasattr(model, "forecast_std"):
        return None
    try:
        return model.forecast_std().numpy()
    except RuntimeError:  # not fitted
        return None


def forecast_frame(dm: Any, pred: Tensor, model: Any = None) -> pd.DataFrame:
    """The forecasts beyond the data (the next H periods) with their bounds, for ``econdl predict``."""
    frame = long_frame(dm, pred, model)
    latest = frame[(frame["split"] == "ahead") & (frame["origin"] == str(dm.series.index[-1]))]
    ahead = latest.drop(columns=["split", "actual"]).reset_index(drop=True)
    ahead.insert(1, "last_observation", str(dm.series.index[-1]))
    return ahead.drop(columns=["origin"])


def errors_by_horizon(frame: pd.DataFrame, split: str = "test") -> dict[int, dict[str, float]]:
    """Per horizon: MSE, RMSE, MAE and max |error| on ``split``."""
    out = {}
    for h, part in frame[frame["split"] == split].groupby("horizon"):
        err = (part["forecast"] - part["actual"]).abs().to_numpy()
        mse = float(np.mean(err**2))
        out[int(h)] = {
            "test_mse": mse,
            "test_rmse": mse**0.5,
            "test_mae": float(err.mean()),
            "test_max_abs_err": float(err.max()),
        }
    return out


def horizon_scores(frame: pd.DataFrame, h: int, levels: list[float]) -> dict[str, float]:
    """The score columns of one model at horizon ``h`` on the test period."""
    test = frame[(frame["split"] == "test") & (frame["horizon"] == h)]
    row = dict(errors_by_horizon(frame)[h])
    row["n_test"] = len(test)
    for level in levels:
        for prefix in ("", "ols_"):
            tag = level_tag(level)
            lo, hi = test.get(f"{prefix}lower_{tag}"), test.get(f"{prefix}upper_{tag}")
            if lo is None:
                continue
            row[f"coverage_{prefix}{tag}"] = float(((test["actual"] >= lo) & (test["actual"] <= hi)).mean())
            row[f"width_{prefix}{tag}"] = float((hi - lo).mean())
    state = recession_mask(pd.PeriodIndex([pd.Period(d) for d in test["date"]]))
    sq = ((test["forecast"] - test["actual"]) ** 2).to_numpy()
    for name, mask in (("rmse_recession", state == 1), ("rmse_expansion", state == 0)):
        row[name] = float(np.sqrt(sq[mask].mean())) if mask.any() else float("nan")
    return row


def pair_tests(frame: pd.DataFrame, ref: pd.DataFrame, h: int, nested: str | None) -> dict[str, float]:
    """DM (and Clark-West when one model nests the other: ``nested`` names which) and MZ at h."""
    pick = lambda f: f[(f["split"] == "test") & (f["horizon"] == h)].set_index("date")  # noqa: E731
    own, other = pick(frame), pick(ref)
    other = other.loc[own.index]
    y, f, r = own["actual"].to_numpy(), own["forecast"].to_numpy(), other["forecast"].to_numpy()
    row = dict(zip(("dm_stat", "dm_pvalue"), diebold_mariano(y, f, r, h), strict=True))
    if nested is not None:
        small, large = (f, r) if nested == "self" else (r, f)
        row.update(zip(("cw_stat", "cw_pvalue"), clark_west(y, small, large, h), strict=True))
    return row


def _nesting(model: Any, reference: Any) -> str | None:
    """``self`` when ``model`` is a restricted ``reference``, ``reference`` for the converse."""
    if type(reference).__name__ in getattr(model, "nested_in", ()):
        return "self"
    if type(model).__name__ in getattr(reference, "nested_in", ()):
        return "reference"
    return None


#: the error columns of a seeded comparison that get their standard deviation over the seeds
SPREAD = ("test_rmse", "test_mse", "test_mae", "test_max_abs_err", "rmse_recession", "rmse_expansion")


def horizon_table(
    dm: Any, table: pd.DataFrame, runs: dict[str, list[dict]], reference: str | None, explicit: bool, out_dir: Path
) -> tuple[pd.DataFrame, list[Path]]:
    """One row per model and horizon (score columns averaged over seeds, tests on the first
    seed's forecasts); writes predictions.csv (every seed) and the plots into ``out_dir``."""
    frames = {name: [long_frame(dm, r["prediction"], r["model"]) for r in rs] for name, rs in runs.items()}
    if reference is not None and reference not in frames:
        if explicit:
            raise ConfigError(f"--relative_to {reference}: no such model in the table; choose one of {list(frames)}")
        reference = None
    rows = []
    for name, fs in frames.items():
        for h in range(1, dm.horizon + 1):
            scores = pd.DataFrame([horizon_scores(f, h, dm.interval_levels) for f in fs])
            row: dict[str, Any] = {"model": name, "horizon": h, **scores.mean().to_dict()}
            if len(fs) > 1 or "test_rmse_std" in table.columns:  # a seeded comparison; fitted once: no spread
                for col in SPREAD:
                    row[f"{col}_std"] = float(scores[col].std(ddof=1)) if len(fs) > 1 else 0.0
            if reference is not None:
                ref_rmse = np.mean([horizon_scores(f, h, [])["test_rmse"] for f in frames[reference]])
                row[f"rmse_vs_{reference}"] = row["test_rmse"] / ref_rmse
                row["mz_pvalue"] = mincer_zarnowitz(*_test_xy(fs[0], h), horizon=h)
                if name != reference:
                    nested = _nesting(runs[name][0]["model"], runs[reference][0]["model"])
                    row.update(pair_tests(fs[0], frames[reference][0], h, nested))
            row.update({c: table.loc[name, c] for c in DESCRIPTIVE if c in table.columns})
            rows.append(row)
    result = pd.DataFrame(rows).set_index("model")
    result[["horizon", "n_test"]] = result[["horizon", "n_test"]].astype(int)
    front = [
        c
        for c in (
            "horizon",
            "test_rmse",
            "test_rmse_std",
            f"rmse_vs_{reference}",
            "dm_stat",
            "dm_pvalue",
            "cw_stat",
            "cw_pvalue",
            "mz_pvalue",
        )
        if c in result.columns
    ]
    result = result[front + [c for c in result.columns if c not in front]]
    long = pd.concat([f.assign(model=name, seed=k) for name, fs in frames.items() for k, f in enumerate(fs)])
    long = long[["model", "seed", *[c for c in long.columns if c not in ("model", "seed")]]]
    files = [out_dir / "predictions.csv"]
    long.to_csv(files[0], index=False)
    from econdl.forecast.plots import fan_chart, local_coefficients

    focus = reference if reference is not None else next(iter(frames))
    files.append(fan_chart(dm, frames[focus][0], focus, out_dir / "fan_chart.png"))
    files += local_coefficients(dm, {n: rs[0]["model"] for n, rs in runs.items()}, out_dir)
    return result, files


def _test_xy(frame: pd.DataFrame, h: int) -> tuple[np.ndarray, np.ndarray]:
    test = frame[(frame["split"] == "test") & (frame["horizon"] == h)]
    return test["actual"].to_numpy(), test["forecast"].to_numpy()
