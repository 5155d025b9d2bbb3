"""Time series for forecasting tasks: read, check, transform, lag.

A series is a ``pandas.Series`` of floats indexed by a ``PeriodIndex`` (one
period per observation, sorted, no duplicates).  Sources: statsmodels' bundled
US macro data (no download) or a CSV file in FRED's layout (a date column such
as ``observation_date`` or ``DATE`` and a value column such as ``GDPC1``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
import warnings

import numpy as np
import pandas as pd
from lightning.pytorch.utilities import rank_zero_only

from econdl.data.base import other_separator
from econdl.errors import ConfigError, DataError, DataFileNotFound

DATE_COLUMNS = ("observation_date", "DATE", "date", "Date")
#: periods per year, used to annualise growth rates
PER_YEAR = {"Q": 4, "M": 12, "Y": 1}
TRANSFORMS = ("log_diff", "pct_change", "levels")


def _listed(labels: list, limit: int = 10) -> str:
    shown = ", ".join(map(str, labels[:limit]))
    return shown + (f", ... ({len(labels)} in all)" if len(labels) > limit else "")


def macrodata_series(column: str = "realgdp") -> pd.Series:
    """US quarterly ``column`` (default real GDP, 1959Q1-2009Q3) bundled with statsmodels."""
    from statsmodels.datasets import macrodata

    frame = macrodata.load_pandas().data
    if column not in frame.columns:
        raise ConfigError(f"value_column={column!r} is not in macrodata; choose one of {list(frame.columns)}")
    index = pd.PeriodIndex(
        [pd.Period(year=int(y), quarter=int(q), freq="Q") for y, q in zip(frame["year"], frame["quarter"], strict=True)]
    )
    return pd.Series(frame[column].to_numpy(dtype=float), index=index, name=column)


def infer_frequency(dates: pd.DatetimeIndex) -> str:
    """``Q``, ``M`` or ``Y`` from the median spacing of the dates."""
    if len(dates) < 2:
        raise DataError("cannot infer the frequency from fewer than 2 dates; give --data.frequency (Q, M or Y)")
    gap = float(np.median(np.diff(dates.values).astype("timedelta64[s]").astype(float))) / 86_400  # days
    for freq, (low, high) in {"M": (27, 32), "Q": (85, 95), "Y": (360, 370)}.items():
        if low <= gap <= high:
            return freq
    raise DataError(f"dates are about {gap:.0f} days apart, not monthly, quarterly or yearly; give data.frequency")


# 01/04/1959, 1.4.1959, 01-04-1959: day and month in an order the text alone does not tell
_DAY_AND_MONTH = r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}"


def _regular(dates: pd.Series) -> bool:
    try:
        infer_frequency(pd.DatetimeIndex(dates))
    except DataError:
        return False
    return True


def parse_dates(texts: pd.Series, path: str | Path, column: str, lines: np.ndarray) -> pd.Series:
    """The dates of a CSV column.  Dates such as 01/04/1959 are read month first (1959-01-04), as
    pandas does, unless only the day-first reading (1 April 1959) gives regular periods, as
    European files write quarterly dates; a line then says so.  A value that is not a date
    fails naming its line and an example."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas' "could not infer format" notes
        dates = pd.to_datetime(texts, errors="coerce")
        if dates.notna().all() and texts.str.fullmatch(_DAY_AND_MONTH).all() and not _regular(dates):
            dayfirst = pd.to_datetime(texts, errors="coerce", dayfirst=True)
            if dayfirst.notna().all() and _regular(dayfirst):
                if getattr(rank_zero_only, "rank", 0) == 0:
                    print(
                        f"{Path(path).name}: dates such as {texts.iloc[1]} read day first "
                        f"({dayfirst.iloc[1].day} {dayfirst.iloc[1]:%B %Y}): only that reading gives regular periods",
                        flush=True,
                    )
                dates = dayfirst
    if dates.isna().any():
        bad = dates.isna().to_numpy()
        raise DataError(
            f"{path}: column {column!r} has values that are not dates on lines {_listed(list(lines[bad]))} "
            f"(e.g. {texts[bad].iloc[0]!r}); write dates as YYYY-MM-DD (FRED's layout), YYYY-MM, YYYYQ1 or YYYY"
        )
    return dates


def read_csv_series(
    path: str | Path,
    value_column: str | None = None,
    date_column: str | None = None,
    frequency: str | None = None,
    dropna: bool = False,
    option: str = "--data.value_column NAME",
) -> pd.Series:
    """Read one series from a FRED-style CSV, failing with a message that names the problem."""
    path = Path(path)
    if not path.is_file():
        raise DataFileNotFound(f"data.path={str(path)!r} does not exist; place the CSV there (see data/README.md)")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; it needs a header line (e.g. DATE,GDPC1) and one line per period") from None
    columns = list(frame.columns)
    separator = other_separator(columns)
    if separator is not None:
        raise DataError(
            f"{path} separates its columns with {separator!r} (header {columns[0]!r}); econdl reads "
            "comma-separated files: save it as CSV with commas (e.g. DATE,GDPC1)"
        )
    if date_column is None:
        date_column = next((c for c in DATE_COLUMNS if c in columns), None)
        if date_column is None:
            raise DataError(
                f"{path} has no date column named one of {list(DATE_COLUMNS)} (columns: {columns}); "
                "give it with --data.date_column NAME"
            )
    elif date_column not in columns:
        raise ConfigError(f"date_column={date_column!r} is not a column of {path}; columns: {columns}")
    if value_column is None:
        others = [c for c in columns if c != date_column]
        if len(others) != 1:
            numeric = [c for c in others if pd.to_numeric(frame[c].str.strip(), errors="coerce").notna().mean() > 0.5]
            raise DataError(
                f"{path} has value columns {numeric or others}"
                + (
                    f" (and {_listed([c for c in others if c not in numeric])}, not numbers)"
                    if numeric and len(numeric) < len(others)
                    else ""
                )
                + "; choose one with --data.value_column NAME"
            )
        value_column = others[0]
    elif value_column not in columns:
        raise ConfigError(f"value_column={value_column!r} is not a column of {path}; columns: {columns}")

    lines = np.arange(len(frame)) + 2  # file line numbers (line 1 is the header)
    dates = parse_dates(frame[date_column].str.strip(), path, date_column, lines)
    texts = frame[value_column].str.strip()
    values = pd.to_numeric(texts, errors="coerce")
    missing = values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=float))
    if missing.any():
        _refuse_commas(texts[missing], lines[missing], path, value_column)
    if len(texts) and missing.all():
        raise DataError(
            f"{path}: column {value_column!r} holds no number (e.g. {texts.iloc[0]!r} on line 2); give a column "
            f"of numbers with {option}"
        )
    if missing.any():
        where = [f"{d.date()} (line {n})" for d, n in zip(dates[missing], lines[missing], strict=True)]
        # a missing value with observed ones before and after it, which dropping would bridge
        interior = missing & (np.cumsum(~missing) > 0) & (np.cumsum(~missing[::-1])[::-1] > 0)
        if not dropna:
            fix = (
                "fill them in the file"
                if interior.any()
                else "fix the file, or pass --data.dropna true to drop them (they are at the start or end)"
            )
            raise DataError(
                f"{path}: column {value_column!r} has missing, non-numeric or infinite values at "
                f"{_listed(where)}; {fix}"
            )
        if interior.any():
            inside = [f"{d.date()} (line {n})" for d, n in zip(dates[interior], lines[interior], strict=True)]
            raise DataError(
                f"{path}: column {value_column!r} has missing, non-numeric or infinite values inside the series at "
                f"{_listed(inside)}; dropping them would compute growth and lags across the gap. Fill "
                "them in the file (e.g. from another vintage), or cut the file so that it starts after "
                "the last of them"
            )
        dates, values = dates[~missing], values[~missing]
    dates = pd.DatetimeIndex(dates)
    if len(dates) < 2:
        raise DataError(
            f"{path} has {len(dates)} row{'s' * (len(dates) != 1)} with a date and a value in column "
            f"{value_column!r}; a series to forecast needs many (e.g. a FRED download of GDPC1)"
        )
    if dates.has_duplicates:
        dup = sorted({str(d.date()) for d in dates[dates.duplicated()]})
        labels = [  # a long file of several series (countries, vintages) tells them apart by a text column
            c
            for c in columns
            if c not in (date_column, value_column)
            and frame[c].nunique() > 1
            and pd.to_numeric(frame[c].str.strip(), errors="coerce").isna().all()
        ]
        several = ""
        if labels:
            kinds = list(dict.fromkeys(frame[labels[0]].str.strip()))
            several = (
                f"; the file holds several series, told apart by column {labels[0]!r} "
                f"({_listed(kinds, limit=5)}): save the rows of one "
                f"({labels[0]} = {kinds[0]}, say) as a file of their own"
            )
        raise DataError(f"{path}: duplicated dates {_listed(dup)}; keep one observation per period{several}")
    if not dates.is_monotonic_increasing:
        first = int(np.argmax(np.diff(dates.asi8) < 0)) + 1
        raise DataError(
            f"{path}: dates are not sorted: {dates[first].date()} comes after {dates[first - 1].date()}; "
            "sort the file by date"
        )
    freq = (frequency or infer_frequency(dates)).upper()
    if freq not in PER_YEAR:
        raise ConfigError(f"frequency={frequency!r} is not one of {list(PER_YEAR)}")
    periods = dates.to_period(freq)
    if periods.has_duplicates:
        raise DataError(
            f"{path}: several dates fall in the same {freq} period ({periods[periods.duplicated()][0]}); "
            "is frequency right?"
        )
    absent = pd.period_range(periods[0], periods[-1], freq=freq).difference(periods)
    if len(absent) and frequency and len(dates) > 2:
        # --data.frequency M on quarterly dates: every month between them "missing" is the wrong
        # frequency, not a gap to fill
        try:
            spaced = infer_frequency(dates)
        except DataError:
            spaced = None
        if spaced is not None and spaced != freq:
            names = {"Q": "quarterly", "M": "monthly", "Y": "yearly"}
            raise ConfigError(
                f"frequency={frequency!r} does not match {path}: its dates are {names[spaced]} "
                f"({dates[0].date()}, {dates[1].date()}, ...); give --data.frequency {spaced} or leave it out "
                "(it is inferred from the dates)"
            )
    if len(absent):
        raise DataError(
            f"{path}: the series has no row for {_listed([str(p) for p in absent])} (frequency {freq}); "
            "growth and lags would be computed across the gap. Add the missing periods to the file, "
            "or cut it so that it starts after the gap"
        )
    return pd.Series(values.to_numpy(dtype=float), index=periods, name=value_column)


def _refuse_commas(texts: pd.Series, lines: np.ndarray, path: Path | str, column: str) -> None:
    """Numbers written with a comma: thousands separators (2,100.5), decimal commas (27,1) or
    either (27,103); econdl reads 1234.5, so the message says which file to write."""
    written = texts.str.fullmatch(r"-?\d+(,\d+)+(\.\d*)?").to_numpy()
    if not written.any():
        return
    found, where = texts[written], lines[written]
    thousands = found.str.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d*)?")
    decimal = found.str.fullmatch(r"-?\d+,\d+") & ~found.str.fullmatch(r"-?\d{1,3},\d{3}")
    pick = decimal if decimal.any() else ~thousands if (~thousands).any() else thousands
    example, line = found[pick].iloc[0], where[pick.to_numpy()][0]
    seen = f"column {column!r} writes numbers with a comma (e.g. {example!r} on line {line})"
    if decimal.any():
        raise DataError(
            f"{path}: {seen}, a decimal comma; save the file with a decimal point ({example.replace(',', '.')}) "
            "and no thousands separator"
        )
    if (thousands & found.str.contains(r"\.|,\d{3},", regex=True)).any() or not thousands.all():
        raise DataError(
            f"{path}: {seen} as a thousands separator; save the file without them ({example.replace(',', '')})"
        )
    raise DataError(
        f"{path}: {seen}; save the file with a decimal point and no thousands separator: "
        f"{example.replace(',', '')} if the comma separates thousands, {example.replace(',', '.')} if it is "
        "the decimal mark"
    )


def transform_series(series: pd.Series, transform: str = "log_diff") -> pd.Series:
    """``log_diff``: annualised log growth x 100 (x 400 for quarters); ``pct_change``:
    period-on-period percent change; ``levels``: the series as it is."""
    if transform == "levels":
        return series
    if transform == "log_diff":
        if (series <= 0).any():
            bad = [str(p) for p in series.index[(series <= 0).to_numpy()]]
            raise DataError(
                f"transform='log_diff' needs positive values; {series.name} is <= 0 at {_listed(bad)}; if the "
                "file holds growth rates already (e.g. FRED's A191RL1Q225SBEA), give --data.transform levels; "
                "if it holds levels, correct those values in the file (a series that can be zero or negative has "
                "no growth rate: model it with --data.transform levels)"
            )
        factor = 100.0 * PER_YEAR[series.index.freqstr[0]]
        return (factor * np.log(series).diff()).iloc[1:]
    if transform == "pct_change":
        divisors = series.iloc[:-1] == 0  # each change divides by the period before it
        if divisors.any():
            bad = [str(p) for p in series.index[:-1][divisors.to_numpy()]]
            raise DataError(
                f"transform='pct_change' divides by the previous period's value; {series.name} is 0 at "
                f"{_listed(bad)}; correct those values in the file, or use transform='levels'"
            )
        return (100.0 * series.pct_change()).iloc[1:]
    raise ConfigError(f"transform={transform!r} is not one of {list(TRANSFORMS)}")


#: a level series (GDP, prices, an index) is persistent: one period's value is close to the
#: next, so its lag-1 autocorrelation is near 1; growth rates and other changes are far below
RATES_AUTOCORRELATION = 0.8


def rates_note(levels: pd.Series, transform: str) -> str | None:
    """A note when a series to be turned into growth rates (``log_diff``, ``pct_change``) looks
    like growth rates or changes already: its lag-1 autocorrelation is below
    :data:`RATES_AUTOCORRELATION` (over at least 12 periods).  None otherwise."""
    values = levels.to_numpy(dtype=float)
    if transform == "levels" or len(values) < 12 or np.ptp(values) == 0:
        return None
    rho = float(np.corrcoef(values[:-1], values[1:])[0, 1])
    if not rho < RATES_AUTOCORRELATION:
        return None
    return (
        f"note: {levels.name} looks like rates or changes already, not levels: its lag-1 autocorrelation is "
        f"{rho:.2f}, where a level series such as GDP has about 1, and transform={transform!r} turns it into "
        "changes of changes. If the file holds growth rates, give --data.transform levels; if it holds levels, "
        "this note does not apply"
    )


def lag_matrix(values: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows x_t = (g_{t-1}, ..., g_{t-lags}) and targets y_t = g_t for t = lags..T-1."""
    if lags < 1:
        raise ConfigError(f"lags={lags} must be a positive integer")
    n = len(values) - lags
    x = np.stack([values[lags - k : lags - k + n] for k in range(1, lags + 1)], axis=1)
    return x, values[lags:]


def origin_inputs(values: np.ndarray, lags: int, exog: np.ndarray | None = None) -> np.ndarray:
    """One input row per forecast origin o = lags-1 .. T-1: (g_o, ..., g_{o-lags+1}) then the
    same lags of every exogenous column (``exog``, shape (T, k)), series by series."""
    columns = [values] if exog is None else [values, *np.asarray(exog, dtype=float).T]
    rows = len(values) - lags + 1
    return np.column_stack([col[lags - 1 - k : lags - 1 - k + rows] for col in columns for k in range(lags)])


def target_matrix(values: np.ndarray, lags: int, horizon: int) -> np.ndarray:
    """Row i = (g_{lags+i}, ..., g_{lags+i+horizon-1}): the next ``horizon`` values after origin
    lags-1+i, for every origin whose targets are all observed."""
    rows = len(values) - lags - horizon + 1
    return np.column_stack([values[lags + h : lags + h + rows] for h in range(horizon)])


def exog_frame(
    source: str,
    names: list[str],
    index: pd.PeriodIndex,
    path: str | None = None,
    date_column: str | None = None,
    frequency: str | None = None,
    dropna: bool = False,
) -> pd.DataFrame:
    """Further series (in levels, e.g. the unemployment rate) aligned on ``index``; fails
    naming a column that does not exist and the columns that do."""
    read: Callable[[str], pd.Series]
    if source == "macrodata":
        from statsmodels.datasets import macrodata

        available = [c for c in macrodata.load_pandas().data.columns if c not in ("year", "quarter")]
        read = macrodata_series
    else:
        if path is None:
            raise ConfigError(f"exog={names} from source={source!r} needs the file: set path")
        header = pd.read_csv(path, nrows=0).columns
        date_column = date_column or next((c for c in DATE_COLUMNS if c in header), None)
        available = [c for c in header if c != date_column]
        read = partial(
            read_csv_series,
            path,
            date_column=date_column,
            frequency=frequency,
            dropna=dropna,
            option=f"--data.exog (the columns of numbers of {path}, e.g. [{available[0] if available else 'UNRATE'}])",
        )
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ConfigError(f"exog={unknown} not found in the {source} data; available columns: {available}")
    frame = pd.DataFrame({n: read(n) for n in names}).reindex(index)
    if frame.isna().any().any():
        gaps = frame.isna().any(axis=1).to_numpy()
        missing = frame.index[gaps].astype(str).tolist()
        full = frame.index[~gaps]
        span = (
            f", or cut the file to the periods every exog has ({full[0]} to {full[-1]})"
            if len(full) and not gaps[(frame.index >= full[0]) & (frame.index <= full[-1])].any()
            else ""
        )
        raise DataError(
            f"exog={names} have no value at {_listed(missing)}, where the forecast series has one "
            f"(--data.dropna drops periods of the forecast series only); fill those values{span}"
        )
    return frame
