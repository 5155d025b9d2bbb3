"""Figures of the GDP comparison: test forecasts, a fan chart, and the network's local AR
coefficients beside AR(p)'s constant ones, with NBER recessions shaded."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from econdl.forecast.evaluate import level_tag
from econdl.forecast.recessions import nber_cycles


def _pyplot() -> ModuleType:
    """matplotlib.pyplot on the file-only Agg backend (imported on first use: it is slow to load)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _shade_recessions(ax: Any, start: pd.Period, end: pd.Period) -> None:
    label: str | None = "NBER recession"  # only the first shaded span enters the legend
    for peak, trough in zip(nber_cycles()["peak"], nber_cycles()["trough"], strict=True):
        if trough.ordinal >= start.asfreq("Q").ordinal and peak.ordinal <= end.asfreq("Q").ordinal:
            ax.axvspan(peak.end_time, trough.end_time, color="grey", alpha=0.25, lw=0, label=label)
            label = None


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return path


def plot_test_forecasts(dm: Any, predictions: dict[str, Tensor], path: Path) -> Path:
    """Actual growth and every model's one-step forecast over the test period."""
    from econdl.forecast.evaluate import long_frame

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    drawn = False
    for name, pred in predictions.items():
        test = long_frame(dm, pred).query("split == 'test' and horizon == 1")
        when = pd.PeriodIndex([pd.Period(d) for d in test["date"]]).to_timestamp()
        if not drawn:
            ax.plot(when, test["actual"], color="black", lw=2.2, label="actual")
            drawn = True
        ax.plot(when, test["forecast"], lw=1.2, label=name)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylabel(f"{dm.series.name}: {dm.units()}", fontsize=8)
    ax.set_title(f"{dm.series.name}: one-step test forecasts with {dm.lags} lags ({dm.evaluation} window)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def fan_chart(dm: Any, frame: pd.DataFrame, name: str, path: Path) -> Path:
    """``name``'s h-step forecasts of the test period at the longest horizon and its forecast
    of the next H periods, with the conformal bands at every level."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    h = int(frame["horizon"].max())
    test = frame.query("split == 'test' and horizon == @h")
    ahead = frame[frame["split"] == "ahead"].sort_values("horizon")
    ahead = ahead[ahead["origin"] == ahead["origin"].max()]
    for part, label in ((test, f"{h}-step forecast"), (ahead, "forecast ahead")):
        when = pd.PeriodIndex([pd.Period(d) for d in part["date"]]).to_timestamp()
        for level in sorted(dm.interval_levels, reverse=True):
            ax.fill_between(
                when,
                part[f"lower_{level_tag(level)}"],
                part[f"upper_{level_tag(level)}"],
                alpha=0.2,
                color="C0",
                label=f"{level_tag(level)}% conformal" if part is test else None,
            )
        # a marker on each point: a forecast of the next period alone is one point, which a line does not show
        ax.plot(when, part["forecast"], color="C0" if part is test else "C3", lw=1.4, label=label, marker=".")
    when = pd.PeriodIndex([pd.Period(d) for d in test["date"]]).to_timestamp()
    ax.plot(when, test["actual"], color="black", lw=2, label="actual")
    ax.axhline(0, color="grey", lw=0.6)
    unit = {"Q": "quarter", "M": "month", "Y": "year"}.get(str(dm.series.index.freqstr)[:1], "period")
    ahead = f"{h} {unit}{'s' * (h != 1)} ahead"
    ax.set_title(f"{name}: test period ({ahead}) and the next {dm.horizon} from {dm.series.index[-1]}")
    ax.set_ylabel(f"{dm.series.name}: {dm.units()}", fontsize=8)
    ax.legend(fontsize=8)
    return _save(fig, path)


def local_coefficients(dm: Any, models: dict[str, Any], out_dir: Path) -> list[Path]:
    """For every network (a model with ``net``): d forecast_{t+1} / d g_{t-k} at every origin
    of the sample, beside AR's phi_k; CSV and PNG.  Nothing when no network is compared."""
    nets = {n: m for n, m in models.items() if hasattr(m, "net")}
    if not nets:
        return []
    ar = next((m for m in models.values() if type(m).__name__ == "LinearAR"), None)
    x = torch.cat([dm.split("all")[0], dm.split("eval")[0][-dm.horizon :]])
    dates = pd.period_range(dm.series.index[dm.lags], periods=len(x), freq=dm.series.index.freq)  # targets
    out = pd.DataFrame({"date": dates.astype(str)})
    for name, model in nets.items():
        inputs = x.to(model.device).clone().requires_grad_(True)
        model.eval()
        first = model(inputs).reshape(len(inputs), -1)[:, 0].sum()
        grad = torch.autograd.grad(first, inputs)[0].detach().cpu().double().numpy()
        # inputs and target share one scale, so gradients on it are gradients in the data's units
        for k in range(dm.lags):
            out[f"{name}_lag{k + 1}"] = grad[:, k]
    if ar is not None:
        phi = ar.coef.detach().double().cpu()[1 : 1 + dm.lags, 0].numpy()
        for k in range(dm.lags):
            out[f"ar_lag{k + 1}"] = phi[k]
    csv = out_dir / "local_ar_coefficients.csv"
    out.to_csv(csv, index=False)
    plt = _pyplot()
    fig, axes = plt.subplots(dm.lags, 1, figsize=(9, 1.9 * dm.lags + 0.6), sharex=True, squeeze=False)
    when = dates.to_timestamp()
    for k, ax in enumerate(axes[:, 0]):
        for name in nets:
            ax.plot(when, out[f"{name}_lag{k + 1}"], lw=1.1, label=f"{name} (local)")
        if ar is not None:
            ax.axhline(phi[k], color="black", lw=1.2, ls="--", label="AR (OLS)")
        _shade_recessions(ax, dates[0], dates[-1])
        ax.set_ylabel(f"lag {k + 1}")
    axes[0, 0].legend(fontsize=7, ncol=3)
    axes[0, 0].set_title("d forecast / d lag: network over time against AR's constant coefficients")
    return [csv, _save(fig, out_dir / "local_ar_coefficients.png")]
