"""Civil (proleptic Gregorian) dates and the meter epoch: seconds since 2000-01-01 00:00:00 UTC.

Valid for the years 2000..2099; every function raises ValueError outside them. Inside that range
the plain four-year leap rule is exact (2000 is a leap year, 2100 is outside), which keeps the
arithmetic to a few small-int operations. Arguments are ints.

Integer sizes (small ints are 31-bit on ARM: anything >= 2**30 is a heap-allocated bigint there):
epoch seconds reach 3155759999 (< 2**32, but >= 2**30 from 2034-01-09 13:37:04 and >= 2**31 from
2068-01-19 03:14:08). The calendar work is done on day numbers (0..36524) and seconds of the day
(0..86399); the only values >= 2**30 are epoch seconds themselves: the argument of `civil` /
`split` (reduced at once with `//` and `%` by 86400) and, in `to_epoch`, the product
days * 86400 and the result.

Weekdays follow COSEM: 1 = Monday .. 7 = Sunday. No `time.mktime` / `gmtime`: their epoch differs
per port (2000 on stm32, 1970 on unix).
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

MIN_YEAR = const(2000)
MAX_YEAR = const(2099)
DAYS = const(36525)                 # days from 2000-01-01 to 2099-12-31 inclusive
SECONDS_PER_DAY = const(86400)

_DAYS_4Y = const(1461)              # days in a four-year cycle starting with a leap year
_SATURDAY_OFFSET = const(5)         # 2000-01-01 was a Saturday (COSEM weekday 6)

_MONTH_DAYS = b"\x1f\x1c\x1f\x1e\x1f\x1e\x1f\x1f\x1e\x1f\x1e\x1f"
# Days before the first of each month in a common year.
_BEFORE = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def _check_year(year):
    if year < MIN_YEAR or year > MAX_YEAR:
        raise ValueError("year outside 2000..2099")


def _check_month(month):
    if month < 1 or month > 12:
        raise ValueError("month outside 1..12")


def _check_days(days):
    if days < 0 or days >= DAYS:
        raise ValueError("day number outside 2000..2099")


def is_leap(year):
    """True if `year` (2000..2099) has 366 days."""
    _check_year(year)
    return year % 4 == 0


def days_in_month(year, month):
    """Number of days (28..31) of `month` (1..12) in `year`."""
    _check_year(year)
    _check_month(month)
    if month == 2 and year % 4 == 0:
        return 29
    return _MONTH_DAYS[month - 1]


def _ordinal(year, month, day):
    n = _BEFORE[month - 1] + day
    if month > 2 and year % 4 == 0:
        n += 1
    return n


def day_of_year(year, month, day):
    """Ordinal day within the year, 1 = January 1st."""
    n = days_in_month(year, month)
    if day < 1 or day > n:
        raise ValueError("day outside the month")
    return _ordinal(year, month, day)


def days_from_civil(year, month, day):
    """Day number (0 = 2000-01-01) of a civil date."""
    # Leap years before `year`: 2000, 2004, ... so ceil((year - 2000) / 4).
    return (year - MIN_YEAR) * 365 + (year - MIN_YEAR + 3) // 4 + day_of_year(year, month, day) - 1


def civil_from_days(days):
    """(year, month, day) of a day number (0 = 2000-01-01)."""
    _check_days(days)
    r = days % _DAYS_4Y
    if r < 366:
        year_in_cycle = 0
        doy = r
    else:
        year_in_cycle = (r - 1) // 365
        doy = (r - 1) % 365
    year = MIN_YEAR + (days // _DAYS_4Y) * 4 + year_in_cycle
    leap = 1 if year_in_cycle == 0 else 0
    # Months are at most 31 days long, so doy // 31 is the month index or one below it.
    m = doy // 31
    if m < 11 and doy >= _BEFORE[m + 1] + (leap if m >= 1 else 0):
        m += 1
    before = _BEFORE[m] + (leap if m >= 2 else 0)
    return year, m + 1, doy - before + 1


def weekday(days):
    """COSEM day of week of a day number: 1 = Monday .. 7 = Sunday."""
    _check_days(days)
    return (days + _SATURDAY_OFFSET) % 7 + 1


def split(s):
    """(day number, second of the day) of epoch seconds `s`."""
    if s < 0:
        raise ValueError("epoch seconds before 2000")
    days = s // SECONDS_PER_DAY
    _check_days(days)
    return days, s % SECONDS_PER_DAY


def to_epoch(year, month, day, hour=0, minute=0, second=0):
    """Epoch seconds of a civil date and time (no leap seconds)."""
    if hour < 0 or hour > 23 or minute < 0 or minute > 59 or second < 0 or second > 59:
        raise ValueError("time of day out of range")
    sod = hour * 3600 + minute * 60 + second
    return days_from_civil(year, month, day) * SECONDS_PER_DAY + sod


def civil(s):
    """Civil time of epoch seconds.

    Returns (year, month, day, hour, minute, second, weekday 1..7, day of year 1..366).
    """
    days, sod = split(s)
    year, month, day = civil_from_days(days)
    hm = sod // 60
    return (year, month, day, hm // 60, hm % 60, sod % 60,
            (days + _SATURDAY_OFFSET) % 7 + 1, _ordinal(year, month, day))
