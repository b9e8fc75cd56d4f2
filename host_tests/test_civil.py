"""core.civil against CPython's datetime over the whole range 2000..2099."""
import calendar
import datetime

import pytest
from hypothesis import given, settings, strategies as st

from core import civil

EPOCH = datetime.datetime(2000, 1, 1)
LAST = civil.DAYS * 86400 - 1


def oracle(s):
    d = EPOCH + datetime.timedelta(seconds=s)
    return (d.year, d.month, d.day, d.hour, d.minute, d.second, d.isoweekday(),
            d.timetuple().tm_yday)


def test_every_day_of_the_range():
    first = datetime.date(2000, 1, 1)
    for n in range(civil.DAYS):
        d = first + datetime.timedelta(days=n)
        assert civil.civil_from_days(n) == (d.year, d.month, d.day)
        assert civil.days_from_civil(d.year, d.month, d.day) == n
        assert civil.weekday(n) == d.isoweekday()
        assert civil.day_of_year(d.year, d.month, d.day) == d.timetuple().tm_yday


def test_years_and_months():
    for y in range(2000, 2100):
        assert civil.is_leap(y) == calendar.isleap(y)
        for m in range(1, 13):
            assert civil.days_in_month(y, m) == calendar.monthrange(y, m)[1]


@settings(max_examples=400, deadline=None)
@given(st.integers(0, LAST))
def test_epoch_round_trip(s):
    c = civil.civil(s)
    assert c == oracle(s)
    assert civil.to_epoch(*c[:6]) == s
    assert civil.split(s) == (s // 86400, s % 86400)


def test_known_instants():
    assert civil.civil(0) == (2000, 1, 1, 0, 0, 0, 6, 1)
    assert civil.civil(LAST) == (2099, 12, 31, 23, 59, 59, 4, 365)
    # 2**30 and 2**31 seconds: where epoch seconds stop being ARM small ints / fitting int32.
    assert civil.civil(2 ** 30) == oracle(2 ** 30) == (2034, 1, 9, 13, 37, 4, 1, 9)
    assert civil.civil(2 ** 31) == oracle(2 ** 31) == (2068, 1, 19, 3, 14, 8, 4, 19)
    assert civil.to_epoch(2024, 2, 29, 12, 30, 45) == 762525045
    assert civil.to_epoch(2099, 12, 31, 23, 59, 59) == LAST


@pytest.mark.parametrize("call", [
    lambda: civil.civil(-1),
    lambda: civil.civil(LAST + 1),
    lambda: civil.split(-86400),
    lambda: civil.civil_from_days(civil.DAYS),
    lambda: civil.civil_from_days(-1),
    lambda: civil.weekday(-1),
    lambda: civil.to_epoch(1999, 12, 31),
    lambda: civil.to_epoch(2100, 1, 1),
    lambda: civil.to_epoch(2023, 2, 29),
    lambda: civil.to_epoch(2024, 4, 31),
    lambda: civil.to_epoch(2024, 13, 1),
    lambda: civil.to_epoch(2024, 0, 1),
    lambda: civil.to_epoch(2024, 1, 0),
    lambda: civil.to_epoch(2024, 1, 1, 24),
    lambda: civil.to_epoch(2024, 1, 1, 0, 60),
    lambda: civil.to_epoch(2024, 1, 1, 0, 0, 60),
    lambda: civil.to_epoch(2024, 1, 1, -1),
    lambda: civil.is_leap(2100),
    lambda: civil.days_in_month(1999, 1),
    lambda: civil.days_in_month(2024, 13),
    lambda: civil.day_of_year(2024, 2, 30),
])
def test_out_of_range_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
