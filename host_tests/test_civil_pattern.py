"""core.datepattern: COSEM date / time patterns against a brute-force datetime oracle."""
import calendar
import datetime
import itertools

import pytest
from hypothesis import given, settings, strategies as st

from core import civil, datepattern as dp

FIRST = datetime.date(2000, 1, 1)
ANY, ANY_YEAR = 0xFF, 0xFFFF
DST_MONTHS = (3, 10)


def ref_date_matches(pattern, d, dst_months):
    """The pattern rules restated over a datetime.date: membership in a window, not a search."""
    py, pm, pd, pw = pattern
    if py != ANY_YEAR and py != d.year:
        return False
    if pm == 0xFE or pm == 0xFD:
        if dst_months is None or d.month != dst_months[0 if pm == 0xFE else 1]:
            return False
    elif pm != ANY and pm != d.month:
        return False
    if pw != ANY and d.isoweekday() != pw:
        return False
    if pd == ANY:
        return True
    n = calendar.monthrange(d.year, d.month)[1]
    anchor = {0xFE: n, 0xFD: n - 1}.get(pd, pd)
    if pw == ANY:
        return d.day == anchor
    if pd >= 0xFD:
        return anchor - 6 <= d.day <= anchor
    return anchor <= d.day <= anchor + 6


def ref_next_date(pattern, start, dst_months, limit):
    for k in range(limit):
        d = start + datetime.timedelta(days=k)
        if d.year > 2099:
            return None
        if ref_date_matches(pattern, d, dst_months):
            return d
    return "beyond"


def ref_first_time(tpattern, sod):
    allowed = [range(24), range(60), range(60)]
    choices = [allowed[i] if v == ANY else [v] for i, v in enumerate(tpattern)]
    for h, m, s in itertools.product(*choices):
        if h * 3600 + m * 60 + s >= sod:
            return h * 3600 + m * 60 + s
    return None


def days_of(d):
    return (d - FIRST).days


years = st.one_of(st.just(ANY_YEAR), st.integers(1998, 2101))
months = st.one_of(st.just(ANY), st.just(0xFE), st.just(0xFD), st.integers(1, 12))
mdays = st.one_of(st.just(ANY), st.just(0xFE), st.just(0xFD), st.integers(1, 31))
dows = st.one_of(st.just(ANY), st.integers(1, 7))
date_patterns = st.tuples(years, months, mdays, dows)
time_patterns = st.tuples(st.one_of(st.just(ANY), st.integers(0, 23)),
                          st.one_of(st.just(ANY), st.integers(0, 59)),
                          st.one_of(st.just(ANY), st.integers(0, 59)))
dst_months = st.one_of(st.none(), st.just(DST_MONTHS), st.just((10, 4)))
day_numbers = st.integers(0, civil.DAYS - 1)


@settings(max_examples=300, deadline=None)
@given(date_patterns, day_numbers, dst_months)
def test_date_matches_agrees_with_oracle(pattern, n, dmonths):
    d = FIRST + datetime.timedelta(days=n)
    assert dp.date_matches(pattern, d.year, d.month, d.day, dmonths) == \
        ref_date_matches(pattern, d, dmonths)


@settings(max_examples=200, deadline=None)
@given(date_patterns, day_numbers, dst_months)
def test_next_date_agrees_with_oracle(pattern, n, dmonths):
    limit = 4 * 366
    expected = ref_next_date(pattern, FIRST + datetime.timedelta(days=n), dmonths, limit)
    got = dp.next_date(pattern, n, dmonths)
    if expected == "beyond":
        assert got is None or got >= n + limit
        if got is not None:
            g = FIRST + datetime.timedelta(days=got)
            assert ref_date_matches(pattern, g, dmonths)
    else:
        assert got == (None if expected is None else days_of(expected))


@settings(max_examples=200, deadline=None)
@given(time_patterns, st.integers(0, 86399))
def test_time_of_day_search_agrees_with_oracle(tpattern, sod):
    # On a day matching any date, the first occurrence at or after sod is the time oracle's answer.
    day = 9000
    got = dp.first_datetime((ANY_YEAR, ANY, ANY, ANY) + tpattern, day * 86400 + sod)
    t = ref_first_time(tpattern, sod)
    if t is None:
        t = 86400 + ref_first_time(tpattern, 0)
    assert got == day * 86400 + t


@settings(max_examples=200, deadline=None)
@given(st.tuples(years, months, mdays, dows), time_patterns,
       st.integers(0, civil.DAYS * 86400 - 1), dst_months)
def test_next_datetime_is_the_first_later_match(dpattern, tpattern, s, dmonths):
    got = dp.next_datetime(dpattern + tpattern, s, dmonths)
    n, sod = divmod(s + 1, 86400)
    if n == civil.DAYS:
        assert got is None
        return
    start = FIRST + datetime.timedelta(days=n)
    first_day = ref_next_date(dpattern, start, dmonths, 4 * 366)
    if first_day == "beyond":
        assert got is None or got >= (n + 4 * 366) * 86400
        return
    if first_day is None:
        assert got is None
        return
    if first_day == start and ref_first_time(tpattern, sod) is not None:
        expected = n * 86400 + ref_first_time(tpattern, sod)
    else:
        if first_day == start:
            first_day = ref_next_date(dpattern, start + datetime.timedelta(days=1), dmonths,
                                      4 * 366)
            if first_day in (None, "beyond"):
                assert got is None or got >= (n + 4 * 366) * 86400
                return
        expected = days_of(first_day) * 86400 + ref_first_time(tpattern, 0)
    assert got == expected


def test_worked_examples():
    d = civil.days_from_civil
    assert dp.next_date((ANY_YEAR, 3, 8, 7), d(2024, 1, 1)) == d(2024, 3, 10)   # 2nd Sunday
    assert dp.next_date((ANY_YEAR, 10, 0xFE, 7), d(2024, 1, 1)) == d(2024, 10, 27)
    assert dp.next_date((ANY_YEAR, 4, 1, 7), d(2024, 1, 1)) == d(2024, 4, 7)    # 1st Sunday
    assert dp.next_date((ANY_YEAR, 2, 0xFD, ANY), d(2024, 1, 1)) == d(2024, 2, 28)
    assert dp.next_date((ANY_YEAR, 2, 0xFD, 5), d(2024, 1, 1)) == d(2024, 2, 23)
    assert dp.next_date((ANY_YEAR, 2, 29, ANY), d(2024, 3, 1)) == d(2028, 2, 29)
    assert dp.next_date((ANY_YEAR, ANY, 31, ANY), d(2024, 4, 1)) == d(2024, 5, 31)
    # A window cut by the month end: Sunday on or after 29 February needs a Sunday 29th.
    assert dp.next_date((ANY_YEAR, 2, 29, 7), d(2000, 3, 1)) == d(2004, 2, 29)
    assert dp.next_date((2024, 6, 15, ANY), d(2024, 6, 16)) is None
    assert dp.next_date((2030, 6, 15, ANY), d(2024, 6, 16)) == d(2030, 6, 15)
    assert dp.next_date((1999, ANY, ANY, ANY), 0) is None
    assert dp.next_date((ANY_YEAR, 0xFE, 1, ANY), 0) is None          # no DST months given
    assert dp.next_date((ANY_YEAR, 0xFE, 1, ANY), 0, DST_MONTHS) == d(2000, 3, 1)
    assert dp.next_date((ANY_YEAR, 0xFD, 0xFE, 7), 0, DST_MONTHS) == d(2000, 10, 29)
    assert dp.date_matches((ANY_YEAR, ANY, ANY, 1), 2024, 3, 11)       # every Monday
    assert not dp.date_matches((ANY_YEAR, ANY, ANY, 1), 2024, 3, 12)


def test_schedules_and_boundaries():
    t = civil.to_epoch
    daily = (ANY_YEAR, ANY, ANY, ANY, 0, 0, 0)
    assert dp.next_datetime(daily, t(2024, 12, 31, 0, 0, 0)) == t(2025, 1, 1)
    assert dp.first_datetime(daily, t(2024, 12, 31)) == t(2024, 12, 31)
    quarter_past = (ANY_YEAR, ANY, ANY, ANY, ANY, 15, 0)
    assert dp.next_datetime(quarter_past, t(2024, 5, 5, 23, 15, 0)) == t(2024, 5, 6, 0, 15, 0)
    every_second = (ANY_YEAR, ANY, ANY, ANY, ANY, ANY, ANY)
    last = civil.DAYS * 86400 - 1
    assert dp.next_datetime(every_second, last - 1) == last
    assert dp.next_datetime(every_second, last) is None
    assert dp.next_datetime((2099, 12, 31, ANY, 23, 59, 59), 0) == last


@pytest.mark.parametrize("pattern", [
    (ANY_YEAR, 0, 1, ANY), (ANY_YEAR, 13, 1, ANY), (ANY_YEAR, 0xFC, 1, ANY),
    (ANY_YEAR, 1, 0, ANY), (ANY_YEAR, 1, 32, ANY), (ANY_YEAR, 1, 0xFC, ANY),
    (ANY_YEAR, 1, 1, 0), (ANY_YEAR, 1, 1, 8), (-1, 1, 1, ANY), (0x10000, 1, 1, ANY),
])
def test_invalid_date_pattern(pattern):
    with pytest.raises(ValueError):
        dp.check_date(pattern)
    with pytest.raises(ValueError):
        dp.next_date(pattern, 0)
    with pytest.raises(ValueError):
        dp.date_matches(pattern, 2024, 1, 1)


@pytest.mark.parametrize("pattern", [
    (ANY_YEAR, 1, 1, ANY, 24, 0, 0), (ANY_YEAR, 1, 1, ANY, 0, 60, 0),
    (ANY_YEAR, 1, 1, ANY, 0, 0, 60), (ANY_YEAR, 1, 1, ANY, 0, 0), (ANY_YEAR, 1, 1, ANY, 0xFE, 0, 0),
])
def test_invalid_datetime_pattern(pattern):
    with pytest.raises(ValueError):
        dp.next_datetime(pattern, 0)


def test_invalid_dates_raise():
    with pytest.raises(ValueError):
        dp.date_matches((ANY_YEAR, ANY, ANY, ANY), 2023, 2, 29)
    with pytest.raises(ValueError):
        dp.next_date((ANY_YEAR, ANY, ANY, ANY), civil.DAYS)
    with pytest.raises(ValueError):
        dp.next_datetime((ANY_YEAR, ANY, ANY, ANY, 0, 0, 0), -1)
