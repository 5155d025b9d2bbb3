"""The one formatter of comparison tables: the console, ``table.md`` and the HTML report all
show what ``format_table`` returns.

Rules, so a table says only what the data support:

- scores get 3 significant digits; over several seeds ``mean ± std`` with the std to 2
  significant digits and the mean rounded to the same decimal place;
- a ``_std`` column that is zero or empty everywhere is dropped, and so is any all-empty
  column; a text column that is the same in every row (e.g. the test period) moves to the
  caption under the table instead of repeating itself;
- the best value of each score column is marked (lowest error, highest accuracy);
- a 95% interval ``X_ci_low``/``X_ci_high`` is shown as ``[low, high]`` in one column.
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass, field
from typing import SupportsFloat

import pandas as pd

from econdl.forecast.intervals import conformal_minimum, infinite_width_reason

#: readable headings for the columns every task produces
HEADINGS = {
    "test_mse": "test MSE",
    "test_rmse": "test RMSE",
    "test_mae": "test MAE",
    "test_acc": "test accuracy",
    "test_max_abs_err": "max abs error",
    "mse_near_break": "MSE near the break",
    "mse_away_from_break": "MSE elsewhere",
    "params": "parameters",
    "fit_s": "fit time",
    "refit_s": "refit time",
    "p_vs_best": "McNemar p vs best (Holm)",
    "p_vs_best_raw": "McNemar p vs best",
}
#: words of column names written as people write them
ACRONYMS = {
    "mse": "MSE",
    "rmse": "RMSE",
    "mae": "MAE",
    "dm": "DM",
    "cw": "CW",
    "mz": "MZ",
    "ols": "OLS",
    "pvalue": "p",
    "acc": "accuracy",
}
LOWER_IS_BETTER = re.compile(r"(mse|rmse|mae|err|loss)")
HIGHER_IS_BETTER = re.compile(r"(^|_)acc")
# results with no better direction (closest to the nominal level is best): never moved under the table
RESULTS_WITHOUT_DIRECTION = ("coverage_", "width_")


@dataclass
class FormattedTable:
    """Cells as text (index = model), which cells are best in their column, and a caption."""

    cells: pd.DataFrame
    best: pd.DataFrame
    caption: list[str] = field(default_factory=list)

    def marked(self, bold: tuple[str, str]) -> pd.DataFrame:
        """Cells with the best ones wrapped in ``bold`` (e.g. ``("**", "**")``)."""
        out = self.cells.copy()
        for col in out.columns:
            out[col] = [f"{bold[0]}{v}{bold[1]}" if b else v for v, b in zip(out[col], self.best[col], strict=True)]
        return out


def significant(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, in plain notation unless it is tiny or huge."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value == 0:
        return "0"
    if math.isinf(value):  # e.g. a conformal interval wider than the calibration data can bound
        return "∞" if value > 0 else "-∞"
    if abs(value) >= 10**digits:
        return f"{round(value):,}"
    if abs(value) < 1e-4:
        return f"{value:.{digits - 1}e}"
    decimals = max(digits - 1 - math.floor(math.log10(abs(value))), 0)
    return f"{value:.{decimals}f}"


def with_std(mean: float, std: float) -> str:
    """``mean ± std``: the std to 2 significant digits, the mean to the same decimal place."""
    if std is None or math.isnan(std) or std == 0:
        return significant(mean)
    decimals = max(1 - math.floor(math.log10(abs(std))), 0)
    if abs(mean) < 1e-4 or abs(std) < 1e-4:
        return f"{mean:.2e} ± {std:.1e}"
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


def direction(column: str) -> str | None:
    """``min`` or ``max`` for a score column, None for a column that is not a score."""
    if column.startswith(("p_vs_best", "params", "fit_s", "refit_s", "seeds")):
        return None
    if HIGHER_IS_BETTER.search(column):
        return "max"
    if LOWER_IS_BETTER.search(column) or column.startswith("rmse_vs_"):
        return "min"
    return None


def heading(column: str) -> str:
    if column in HEADINGS:
        return HEADINGS[column]
    if column.startswith("rmse_vs_"):
        return f"RMSE / {column.removeprefix('rmse_vs_')}"
    if "/" in column or re.search(r"[^\d]\.|\.[^\d]", column):  # a config key or metric name as users type
        return column  # it (optimizer.init_args.lr), not a level such as width_97.5
    words = [ACRONYMS.get(w, w) for w in column.split("_")]
    return " ".join(words)


def _cell(column: str, value: str | SupportsFloat | None, std: float | None) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    value = float(value)
    if column == "params":
        return f"{int(value):,}"
    if column in ("fit_s", "refit_s"):
        return f"{value:.1f} s" if value < 100 else f"{value:,.0f} s"
    if column.startswith("p_vs_best") or column.endswith(("pvalue", "p_value")):
        return "<0.001" if value < 0.001 else f"{value:.3f}"
    if column in ("seeds", "horizon", "n_test"):  # counts: 1, 2, 3, not 1.00, 2.00, 3.00
        return str(int(value)) if value.is_integer() else significant(value)
    if std is not None:
        return with_std(value, std)
    return significant(value)


def format_table(table: pd.DataFrame) -> FormattedTable:
    """Format a raw comparison table (``table.csv``; index = model) for people."""
    table = table.dropna(axis=1, how="all")
    caption: list[str] = []
    columns = [c for c in table.columns if not c.endswith(("_std", "_ci_low", "_ci_high"))]
    seeds = table["seeds"] if "seeds" in table.columns else pd.Series(1, index=table.index)
    keep = []
    if "p_vs_best_raw" in columns and table["p_vs_best_raw"].equals(table.get("p_vs_best")):
        columns.remove("p_vs_best_raw")  # one comparison: Holm changes nothing
    for col in columns:
        values = table[col]
        if len(table) > 1 and not pd.api.types.is_numeric_dtype(values) and values.nunique(dropna=False) == 1:
            caption.append(f"{heading(col)}: {values.iloc[0]}")
        elif (
            len(table) > 1
            and direction(col) is None
            and values.nunique(dropna=False) == 1
            and col not in ("params", "fit_s", "refit_s", "seeds")
            and not col.startswith(("p_vs_best", *RESULTS_WITHOUT_DIRECTION))
        ):
            value = values.iloc[0]
            value = int(value) if float(value).is_integer() else _cell(col, value, None)
            caption.append(f"{heading(col)}: {value}")  # e.g. the forecast horizon, the test size
        elif col == "seeds" and values.nunique() == 1:
            if int(values.iloc[0]) > 1:
                caption.append(f"mean ± std over {int(values.iloc[0])} seeds")
        else:
            keep.append(col)
    # several horizons: each horizon has its own best (a 1-step error beats every 4-step one)
    groups = table["horizon"] if "horizon" in keep else None
    if groups is not None:
        caption.append("best values are marked at each horizon")
    cells, best = {}, {}
    for col in keep:
        std = table.get(f"{col}_std")
        if std is not None and not (std.fillna(0) == 0).all():
            stds = [s if n > 1 else None for s, n in zip(std, seeds, strict=True)]
        else:
            stds = [None] * len(table)
        texts = [_cell(col, v, s) for v, s in zip(table[col], stds, strict=True)]
        if f"{col}_ci_low" in table.columns:
            lows, highs = table[f"{col}_ci_low"], table[f"{col}_ci_high"]
            bounds = zip(texts, lows, highs, strict=True)
            texts = [f"{t} [{significant(lo)}, {significant(hi)}]" for t, lo, hi in bounds]
        name = heading(col) + (" [95% CI]" if f"{col}_ci_low" in table.columns else "")
        cells[name] = texts
        best[name] = _best_mask(table[col], direction(col), groups)
    for col in keep:
        level = re.fullmatch(r"width_(\d+(?:\.\d+)?)", col)  # conformal; OLS intervals are finite at any length
        if level and pd.to_numeric(table[col], errors="coerce").eq(float("inf")).any():
            fix = (
                "a larger --data.val_size gives them"
                if conformal_minimum(float(level.group(1))) is not None
                else "give --data.interval_levels below 100"
            )
            caption.append(f"{heading(col)} ∞: {infinite_width_reason(float(level.group(1)), level.group(1))}; {fix}")
    if "seeds" in keep and any(n > 1 for n in seeds):
        caption.append("mean ± std over the seeds shown; models fitted in closed form fit once")
    several = any(n > 1 for n in seeds)
    if any(c.endswith("_ci_low") for c in table.columns):
        of = " (of the mean over a model's seeds)" if several else ""
        caption.append(
            f"95% CI: bootstrap of the test examples{of}; McNemar: exact test against the most accurate model"
        )
    tests = [c for c in table.columns if c.endswith("_pvalue") or c.startswith("p_vs_")]
    if several and any(table[c].notna().any() for c in tests):
        caption.append("tests use each model's first seed (seed 0), not the mean over its seeds")
    counts = pd.to_numeric(table["n_test"], errors="coerce") if "n_test" in table.columns else pd.Series(dtype=float)
    if any(table[c].notna().any() for c in tests if c.endswith("_pvalue")) and counts.min() < FEW_FORECASTS:
        caption.append(
            f"only {counts.min():.0f} test forecasts: the tests' p-values rest on large-sample approximations "
            "and have little power on so few; a longer test period (--data.test_size) gives more"
        )
    return FormattedTable(pd.DataFrame(cells, index=table.index), pd.DataFrame(best, index=table.index), caption)


#: fewer test forecasts than this and the forecast tests' p-values get a caveat under the table
FEW_FORECASTS = 20


TIE = 1e-7  # relative difference below which two scores count as equal (float rounding)


def _best_mask(values: pd.Series, how: str | None, groups: pd.Series | None = None) -> list[bool]:
    """Which values are the best of their column (of their group, e.g. horizon, when given)."""
    if groups is not None:
        keys = list(groups)
        mask = [False] * len(values)
        for key in dict.fromkeys(keys):
            rows = [i for i, k in enumerate(keys) if k == key]
            for i, flag in zip(rows, _best_mask(values.iloc[rows], how), strict=True):
                mask[i] = flag
        return mask
    numeric = pd.to_numeric(values, errors="coerce")
    if how is None or numeric.isna().all() or len(values) < 2 or numeric.nunique() < 2:
        return [False] * len(values)
    target = numeric.min() if how == "min" else numeric.max()
    # models equal up to float rounding (a polynomial and a Chebyshev basis of one degree span
    # the same functions) share the mark; a column whose values all tie marks none
    mask = [bool(math.isclose(v, target, rel_tol=TIE, abs_tol=0.0)) for v in numeric]
    return [False] * len(values) if all(mask) else mask


def to_markdown(table: pd.DataFrame) -> str:
    """``table.md``: the formatted table with the best values in bold, caption below."""
    formatted = format_table(table)
    cells = formatted.marked(("**", "**"))
    text = cells.to_markdown(colalign=("left",) + ("right",) * cells.shape[1], disable_numparse=True)
    return text + "\n" + "".join(f"\n{line}" for line in formatted.caption) + ("\n" if formatted.caption else "")


def to_console(table: pd.DataFrame, title: str | None = None, width: int | None = None) -> str:
    """The table as people read it in a terminal: aligned, best values marked with ``*``; a
    table wider than the terminal is cut into column groups, each under the model names."""
    formatted = format_table(table)
    cells = formatted.marked(("", " *"))
    width = width or max(shutil.get_terminal_size((120, 24)).columns, 80)
    lines = [title, ""] if title else []
    lines.append("\n\n".join(_console_parts(cells, width)))
    notes = ["* best in its column", *formatted.caption] if formatted.best.to_numpy().any() else formatted.caption
    lines += [""] + notes if notes else []
    return "\n".join(lines)


def _console_parts(cells: pd.DataFrame, width: int) -> list[str]:
    from tabulate import tabulate

    def render(columns: list[str]) -> str:
        part = cells[columns]
        return tabulate(
            part,
            headers="keys",
            tablefmt="simple",
            disable_numparse=True,
            colalign=("left",) + ("right",) * len(columns),
        )

    # a column that tells rows of one model apart (the horizon of a forecast) heads every part
    keys = [c for c in cells.columns if c == heading("horizon") and cells.index.duplicated().any()]
    parts: list[str] = []
    group: list[str] = list(keys)
    for col in cells.columns:
        if col in keys:
            continue
        if len(group) > len(keys) and max(map(len, render([*group, col]).splitlines())) > width:
            parts.append(render(group))
            group = list(keys)
        group.append(col)
    return [*parts, render(group)] if len(group) > len(keys) else parts


def missing_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with NaN cells as None, which tabulate (and so ``to_markdown``) prints as its
    ``missingval``: a class absent from a split has no accuracy, not 0 and not "nan"."""
    return frame.astype(object).where(frame.notna(), None)


def block_to_console(model: str, block: pd.DataFrame, digits: int = 2) -> str:
    """A per-class table in the lecture's layout: rows Training Set / Test Set, columns the
    classes then All, under the model's name."""
    from tabulate import tabulate

    block = missing_as_none(block.rename_axis(None))
    text = tabulate(
        block, headers=[model, *map(str, block.columns)], floatfmt=f".{digits}f", tablefmt="plain", missingval="-"
    )
    return text
