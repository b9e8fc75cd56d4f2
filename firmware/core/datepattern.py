"""COSEM date and time patterns (wildcards and special values) matched against civil dates.

A date pattern is the tuple (year, month, day, day_of_week) of the COSEM date / date-time types:
- year: a year, or 0xFFFF for any year (years outside 2000..2099 never match);
- month: 1..12, 0xFE the month daylight saving begins, 0xFD the month it ends, 0xFF any month;
- day: 1..31, 0xFE the last day of the month, 0xFD the second last day, 0xFF any day;
- day_of_week: 1 = Monday .. 7 = Sunday, 0xFF any.
A time pattern is (hour, minute, second), 0xFF = any; hundredths play no part (whole seconds).
A date-time pattern is the 7-tuple date + time. Instants are meter epoch seconds (see `civil`) on
whatever time scale the caller uses (local or UTC); patterns do not know about time zones.

A day of week given together with a day of month selects one day of a seven-day window:
- day D (1..31) with weekday W: the first W on or after D (D = 8, W = 7: the second Sunday);
- 0xFE with W: the last W of the month; 0xFD with W: the last W on or before the second last day.
The window never crosses into the next month: where it is cut short and holds no W, that month has
no match (likewise day 31 in a 30-day month). Months 0xFE / 0xFD are resolved through `dst_months`,
a (begin month, end month) pair such as `dst.Rule.months`; without it they match nothing.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from core import civil

ANY = const(0xFF)
ANY_YEAR = const(0xFFFF)
LAST_DAY = const(0xFE)
SECOND_LAST_DAY = const(0xFD)
DST_BEGIN_MONTH = const(0xFE)
DST_END_MONTH = const(0xFD)


def check_date(pattern):
    """Raise ValueError unless `pattern` is a valid (year, month, day, day_of_week) pattern."""
    year, month, day, dow = pattern
    if year < 0 or year > ANY_YEAR:
        raise ValueError("pattern year outside 0..0xFFFF")
    if not (1 <= month <= 12 or month >= DST_END_MONTH and month <= ANY):
        raise ValueError("pattern month invalid")
    if not (1 <= day <= 31 or day >= SECOND_LAST_DAY and day <= ANY):
        raise ValueError("pattern day invalid")
    if not (1 <= dow <= 7 or dow == ANY):
        raise ValueError("pattern day of week invalid")


def check_time(pattern):
    """Raise ValueError unless `pattern` is a valid (hour, minute, second) pattern."""
    hour, minute, second = pattern
    if not (0 <= hour <= 23 or hour == ANY):
        raise ValueError("pattern hour invalid")
    if not (0 <= minute <= 59 or minute == ANY) or not (0 <= second <= 59 or second == ANY):
        raise ValueError("pattern minute or second invalid")


def check_datetime(pattern):
    """Raise ValueError unless `pattern` is a valid 7-field date-time pattern."""
    if len(pattern) != 7:
        raise ValueError("date-time pattern needs 7 fields")
    check_date(pattern[:4])
    check_time(pattern[4:])


def _month_matches(pm, month, dst_months):
    if pm == ANY or pm == month:
        return True
    if dst_months is None:
        return False
    if pm == DST_BEGIN_MONTH:
        return dst_months[0] == month
    return pm == DST_END_MONTH and dst_months[1] == month


def _first_day(pd, pw, year, month, d0):
    # First day of the month >= d0 selected by (day, day_of_week), 0 if none.
    n = civil.days_in_month(year, month)
    if pd == ANY:
        lo = d0
        hi = n
    elif pd == LAST_DAY:
        hi = n
        lo = n if pw == ANY else n - 6
    elif pd == SECOND_LAST_DAY:
        hi = n - 1
        lo = n - 1 if pw == ANY else n - 7
    else:
        if pd > n:
            return 0
        lo = pd
        hi = pd if pw == ANY else min(pd + 6, n)
    if pw != ANY:
        wd1 = civil.weekday(civil.days_from_civil(year, month, 1))
        lo += (pw - wd1 - lo + 1) % 7
    if lo > hi or lo < d0:
        return 0
    return lo


def _next_date(py, pm, pd, pw, days, dst_months):
    # First day number >= days matching the date pattern, None if none before 2100.
    year, month, d0 = civil.civil_from_days(days)
    if py != ANY_YEAR:
        if py < year or py > civil.MAX_YEAR:
            return None
        if py > year:
            year, month, d0 = py, 1, 1
    while year <= civil.MAX_YEAR:
        if _month_matches(pm, month, dst_months):
            d = _first_day(pd, pw, year, month, d0)
            if d:
                return civil.days_from_civil(year, month, d)
        d0 = 1
        month += 1
        if month > 12:
            if py != ANY_YEAR:
                return None
            month = 1
            year += 1
    return None


def _field(p, lo, hi):
    # Smallest value >= lo allowed by pattern field p within lo..hi, -1 if none.
    if p == ANY:
        return lo if lo <= hi else -1
    return p if lo <= p else -1


def _first_time(ph, pm, ps, sod):
    # First second of the day >= sod matching (hour, minute, second), -1 if none.
    h = sod // 3600
    m = sod // 60 % 60
    s = sod % 60
    while h < 24:
        hh = _field(ph, h, 23)
        if hh < 0:
            return -1
        if hh != h:
            h, m, s = hh, 0, 0
        mm = _field(pm, m, 59)
        if mm < 0:
            h, m, s = h + 1, 0, 0
            continue
        if mm != m:
            m, s = mm, 0
        ss = _field(ps, s, 59)
        if ss >= 0:
            return h * 3600 + m * 60 + ss
        m, s = m + 1, 0
        if m == 60:
            h, m = h + 1, 0
    return -1


def date_matches(pattern, year, month, day, dst_months=None):
    """True if the civil date (year, month, day) matches the date pattern."""
    check_date(pattern)
    civil.days_from_civil(year, month, day)
    py, pm, pd, pw = pattern
    if py != ANY_YEAR and py != year or not _month_matches(pm, month, dst_months):
        return False
    return _first_day(pd, pw, year, month, day) == day


def next_date(pattern, days, dst_months=None):
    """First day number >= `days` whose date matches the pattern; None if none before 2100."""
    check_date(pattern)
    py, pm, pd, pw = pattern
    return _next_date(py, pm, pd, pw, days, dst_months)


def first_datetime(pattern, s, dst_months=None):
    """First epoch second >= `s` matching the 7-field date-time pattern; None if none by 2100."""
    check_datetime(pattern)
    py, pm, pd, pw, ph, pmin, psec = pattern
    days, sod = civil.split(s)
    while True:
        d = _next_date(py, pm, pd, pw, days, dst_months)
        if d is None:
            return None
        t = _first_time(ph, pmin, psec, sod if d == days else 0)
        if t >= 0:
            return d * civil.SECONDS_PER_DAY + t
        days = d + 1
        sod = 0
        if days >= civil.DAYS:
            return None


def next_datetime(pattern, s, dst_months=None):
    """First epoch second after `s` matching the date-time pattern; None if none by 2100.

    Used for DST transitions, single action schedules and calendar activation times.
    """
    days, sod = civil.split(s)
    if days == civil.DAYS - 1 and sod == civil.SECONDS_PER_DAY - 1:
        return None
    return first_datetime(pattern, s + 1, dst_months)
