"""Yearly series (dates one year apart) read as yearly: the frequency is inferred as ``Y`` and
``log_diff`` growth is 100 * diff(log(level)), with no annualisation (1 period a year,
against 4 for quarters and 12 for months; series.PER_YEAR, gdp.py's docs)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from econdl.data.series import infer_frequency, read_csv_series, transform_series


@pytest.mark.parametrize(
    ("dates", "code"),
    [
        (["2000-01-01", "2001-01-01", "2002-01-01", "2003-01-01"], "Y"),  # 366, 365, 365 days apart
        (["1999-12-31", "2000-12-31", "2001-12-31"], "Y"),  # year-end dates
        (["2000-01-01", "2000-04-01", "2000-07-01", "2000-10-01"], "Q"),
        (["2000-01-01", "2000-02-01", "2000-03-01"], "M"),
    ],
)
def test_infer_frequency_reads_the_spacing_of_the_dates(dates, code) -> None:
    assert infer_frequency(pd.DatetimeIndex(dates)) == code


def test_a_yearly_csv_is_read_as_yearly_and_its_growth_is_not_annualised(tmp_path) -> None:
    path = tmp_path / "gdpa.csv"
    path.write_text("DATE,GDPA\n2000-01-01,100\n2001-01-01,110\n2002-01-01,99\n2003-01-01,121\n", encoding="utf-8")
    levels = read_csv_series(path)
    assert list(levels.index) == [pd.Period(str(y), freq="Y") for y in (2000, 2001, 2002, 2003)]
    growth = transform_series(levels, "log_diff")
    expected = [100 * math.log(110 / 100), 100 * math.log(99 / 110), 100 * math.log(121 / 99)]
    assert growth.to_numpy() == pytest.approx(expected, rel=1e-12)
    assert list(growth.index) == [pd.Period(str(y), freq="Y") for y in (2001, 2002, 2003)]


def test_quarterly_and_monthly_growth_are_annualised_by_4_and_12() -> None:
    """The control: the same two levels give 4 and 12 times the yearly growth."""
    for freq, per_year in (("Q", 4), ("M", 12), ("Y", 1)):
        levels = pd.Series([100.0, 110.0], index=pd.period_range("2000-01", periods=2, freq=freq), name="x")
        assert transform_series(levels, "log_diff").iloc[0] == pytest.approx(100 * per_year * math.log(1.1))


def test_one_date_asks_for_the_frequency_naming_every_code_accepted() -> None:
    from econdl.errors import DataError

    with pytest.raises(DataError, match=r"fewer than 2 dates; give --data.frequency \(Q, M or Y\)"):
        infer_frequency(pd.DatetimeIndex(["2000-01-01"]))
