"""Daylight saving time from the COSEM clock attributes (class 8, attributes 3 and 5..8).

Sign conventions. The Blue Book (ed. 12, which the Mx382 references, and IDIS) gives the clock's
time_zone the sign of the date-time deviation field: minutes from local time to UTC.
- time_zone (attribute 3): UTC = local standard time + time_zone; CET is -60, EET -120,
  US Eastern +300. Some national companion standards (Italy, India, Saudi Arabia) use the opposite
  sign; a head-end speaking one of those must negate the value before building a `Rule`.
- daylight_savings_deviation (attribute 7): minutes the local clock moves forward when DST
  begins (60; negative for a "winter DST" such as Ireland's).
- the deviation of the reported date-time: UTC = local + deviation, i.e. time_zone minus the DST
  deviation while DST is active: CET -60, CEST -120.

daylight_savings_begin / _end (attributes 5, 6) are 7-field date-time patterns (see
`datepattern`) read on the wall clock in force before the change: begin in local standard time,
end in local daylight time. Each pattern yields at most one transition a year, its first
occurrence in that local year; a wildcard time field means the first matching time of the day
(hour 0xFF: 00). DST is active at an instant when the most recent transition at or before it is a
begin (an end wins a tie). Only transitions of the years 2000..2099 count (one falling after
2099-12-31 UTC is ignored); before the first one the state is the one it ends (DST before a first
end, so January 2000 is right for southern rules too). This covers both hemispheres and rules
for a single year.

Instants are meter epoch seconds (see `civil`); UTC instants must lie in 2000..2099 (ValueError
otherwise). Local instants are epoch seconds of the local wall clock and may run a few hours
outside. A `Rule` caches the interval of constant DST state around the last instant asked about:
treat a rule as immutable and build a new one when a clock attribute is written.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from core import civil
from core import datepattern

_UNSPECIFIED = const(0x8000)        # date-time deviation "not specified"


class Rule:
    """DST configuration of a COSEM clock.

    `time_zone` and `deviation` in minutes (signs above); `begin` / `end` are
    (year, month, day, day_of_week, hour, minute, second) patterns; `enabled` is attribute 8.
    """

    def __init__(self, time_zone, begin, end, deviation=60, enabled=True):
        if time_zone < -720 or time_zone > 720:
            raise ValueError("time_zone outside -720..720")
        if deviation < -120 or deviation > 120:
            raise ValueError("daylight_savings_deviation outside -120..120")
        for p in (begin, end):
            datepattern.check_datetime(p)
            if p[1] == datepattern.DST_BEGIN_MONTH or p[1] == datepattern.DST_END_MONTH:
                raise ValueError("DST begin/end cannot use the DST month markers")
        self.time_zone = time_zone
        self.begin = tuple(begin)
        self.end = tuple(end)
        self.deviation = deviation
        self.enabled = bool(enabled)
        # Months the date-pattern markers 0xFE / 0xFD stand for (0: not a fixed month).
        self.months = (begin[1] if begin[1] <= 12 else 0, end[1] if end[1] <= 12 else 0)
        self._span = None


def eu_rule(time_zone=-60):
    """The EU rule for a zone: last Sunday of March .. last Sunday of October, 01:00 UTC."""
    begin = 60 - time_zone          # 01:00 UTC on the local standard clock, in minutes of the day
    end = begin + 60                # the same instant on the local daylight clock
    if begin < 0 or end >= 1440:
        raise ValueError("time_zone too far from UTC for the EU rule")
    return Rule(time_zone,
                (datepattern.ANY_YEAR, 3, datepattern.LAST_DAY, 7, begin // 60, begin % 60, 0),
                (datepattern.ANY_YEAR, 10, datepattern.LAST_DAY, 7, end // 60, end % 60, 0),
                60, True)


def _occurrence(p, year):
    # Local epoch seconds of the first occurrence of pattern p in `year`, None if none.
    if p[0] != datepattern.ANY_YEAR and p[0] != year:
        return None
    return datepattern.first_datetime((year,) + p[1:], civil.to_epoch(year, 1, 1))


def transitions(rule, year):
    """UTC instants (begin, end) of the DST changes in local `year`; None where there is none."""
    tz = rule.time_zone * 60
    b = _occurrence(rule.begin, year)
    e = _occurrence(rule.end, year)
    return (None if b is None else b + tz,
            None if e is None else e + tz - rule.deviation * 60)


def _year(t):
    return civil.civil_from_days(civil.split(t)[0])[0]


def _nearest(rule, t, later):
    # (instant, is_begin) of the latest transition <= t, or with `later` the earliest one > t;
    # (None, False) if there is none. An end wins a tie.
    step = 1 if later else -1
    yy = max(_year(t) - 1, civil.MIN_YEAR) if later else min(_year(t) + 1, civil.MAX_YEAR)
    best = None
    begins = False
    found = False
    while civil.MIN_YEAR <= yy <= civil.MAX_YEAR:
        b, e = transitions(rule, yy)
        for inst, kind in ((b, True), (e, False)):
            if inst is None or (inst > t) != later:
                continue
            if best is None or (inst < best if later else inst > best) or inst == best and not kind:
                best, begins = inst, kind
        # Transitions of local year yy lie within a day of UTC year yy: once one is found, only
        # the next year in the search direction can still hold a nearer one.
        if found:
            break
        found = best is not None
        yy += step
    return best, begins


def _span(rule, t):
    # (lo, hi, active): DST state `active` holds from the latest transition lo <= t (None: none)
    # up to the next transition hi > t (None: none before 2100).
    sp = rule._span
    if sp is not None and (sp[0] is None or sp[0] <= t) and (sp[1] is None or t < sp[1]):
        return sp
    lo, active = _nearest(rule, t, False)
    hi, hi_begins = _nearest(rule, t, True)
    if lo is None and hi is not None:
        # Before the first transition: the state that transition ends (DST before a first end).
        active = not hi_begins
    sp = (lo, hi, active)
    rule._span = sp
    return sp


def is_dst(utc_s, rule):
    """True if daylight saving time is in force at the UTC instant."""
    civil.split(utc_s)
    if not rule.enabled:
        return False
    return _span(rule, utc_s)[2]


def local_from_utc(utc_s, rule):
    """(local epoch seconds, deviation in minutes, DST active) of a UTC instant.

    The deviation is the COSEM date-time field: UTC = local + deviation (CET -60, CEST -120).
    """
    active = is_dst(utc_s, rule)
    deviation = rule.time_zone - rule.deviation if active else rule.time_zone
    return utc_s - deviation * 60, deviation, active


def utc_from_local(local_s, rule, fold=0):
    """UTC epoch seconds of a local wall-clock time (as when a clock is set without deviation).

    Where the wall clock repeats (DST end), fold 0 takes the earlier instant (still DST) and fold 1
    the later one. Where it skips (DST begin), the time does not exist: fold 0 reads it with the
    offset in force before the change (02:30 in the CET gap is 01:30 UTC, i.e. 03:30 CEST), fold 1
    with the offset after it (00:30 UTC). These are the PEP 495 rules of CPython's zoneinfo.
    """
    if fold != 0 and fold != 1:
        raise ValueError("fold must be 0 or 1")
    u_std = local_s + rule.time_zone * 60
    if not rule.enabled:
        civil.split(u_std)
        return u_std
    u_dst = u_std - rule.deviation * 60
    std_ok = not is_dst(u_std, rule)
    dst_ok = is_dst(u_dst, rule)
    if std_ok != dst_ok:
        return u_std if std_ok else u_dst
    # Both readings valid: repeated hour; neither: skipped hour.
    if std_ok == (fold == 0):
        return min(u_std, u_dst)
    return max(u_std, u_dst)


def next_transition(utc_s, rule):
    """(UTC instant, DST active after it) of the next change of DST state after `utc_s`.

    None if the rule is disabled or nothing changes before 2100. A transition that leaves the state
    as it was (two begins in a row) is not a change and is skipped.
    """
    civil.split(utc_s)
    if not rule.enabled:
        return None
    lo, hi, active = _span(rule, utc_s)
    while hi is not None and hi // civil.SECONDS_PER_DAY < civil.DAYS:
        nxt = _span(rule, hi)
        if nxt[2] != active:
            return hi, nxt[2]
        hi = nxt[1]
    return None


def clock_fields(utc_s, rule):
    """Fields of the COSEM date-time a clock reports for a UTC instant (Clock attribute 2):
    (year, month, day, day_of_week 1..7, hour, minute, second, deviation, dst_active)."""
    local, deviation, active = local_from_utc(utc_s, rule)
    y, mo, d, h, mi, s, wd, _ = civil.civil(local)
    return y, mo, d, wd, h, mi, s, deviation, active


def utc_from_clock(year, month, day, hour, minute, second, deviation, rule):
    """UTC epoch seconds of a COSEM date-time written to the clock.

    `deviation` as decoded from the i16 field: UTC = local + deviation. 0x8000 (or -0x8000, the
    same bits read as signed) means "not specified": the time is local, read with `rule` (fold 0).
    """
    local = civil.to_epoch(year, month, day, hour, minute, second)
    if deviation == _UNSPECIFIED or deviation == -_UNSPECIFIED:
        return utc_from_local(local, rule)
    if deviation < -720 or deviation > 720:
        raise ValueError("deviation outside -720..720")
    utc = local + deviation * 60
    civil.split(utc)
    return utc
