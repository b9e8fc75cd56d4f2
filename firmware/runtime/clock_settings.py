"""Writing the COSEM clock: the 12-octet date-time of a clock SET turned into a UTC instant, a new
DST rule from one written attribute, the clock's adjustment methods as pure functions of time,
and the NV record that keeps the rule and the time-shift limit across restarts.

Date-time written to attribute 2: year 2000..2099, month, day, hour, minute and second must be
given (no wildcards, the day must exist in that month, a given weekday must match the date);
hundredths are optional. The deviation follows core/dst (UTC = local + deviation); "not
specified" (0x8000) means local time read with the clock's rule (fold 0 in the repeated hour).
The status octet is ignored: the meter derives its own.

Clock record, little-endian: version u8 | time_zone i16 | deviation i8 | enabled u8 |
begin, end: year u16, month, day, weekday, hour, minute, second u8 each | (version 2)
time-shift limit u16 (s). A version 1 record (no limit) reads with the default limit.
"""
import struct

from cosem import errors
from core import civil, dst
from dlms import axdr

_VERSION = 2
_RECORD_V1 = "<BhbBHBBBBBBHBBBBBB"
_RECORD = _RECORD_V1 + "H"
RECORD_SIZE = struct.calcsize(_RECORD)
_RECORD_V1_SIZE = struct.calcsize(_RECORD_V1)
# shift_time takes -900..900 s (Blue Book); the time-shift limit 1-0:0.9.11 may narrow it.
SHIFT_MAX = 900
SHIFT_LIMIT_DEFAULT = 900
_UNSPECIFIED = 0xFF
_MIN_YEAR = 2000
_MAX_YEAR = 2099


def _decode(raw):
    # The 10 fields of a date-time, type-unmatched when the octets are no date-time at all.
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != 12:
        raise errors.TypeUnmatched("date-time must be 12 octets")
    try:
        return axdr.unpack_datetime(raw)
    except axdr.DecodeError:
        raise errors.TypeUnmatched("malformed date-time")


def time_to_utc(raw, rule):
    """(UTC seconds, microseconds) of a date-time written to the clock; ValueError (answered
    other-reason) for a date-time that names no single instant of 2000..2099."""
    y, mo, d, wd, h, mi, s, hs, dev, _ = _decode(raw)
    for v in (y, mo, d, h, mi, s):
        if v is None:
            raise ValueError("clock time needs every date and time field")
    if not _MIN_YEAR <= y <= _MAX_YEAR or mo > 12 or d > civil.days_in_month(y, mo):
        raise ValueError("no such date")
    if wd is not None and wd != civil.civil(civil.to_epoch(y, mo, d))[6]:
        raise ValueError("weekday does not match the date")
    utc = dst.utc_from_clock(y, mo, d, h, mi, s, 0x8000 if dev is None else dev, rule)
    civil.split(utc)        # the instant itself must lie in 2000..2099 UTC
    return utc, 0 if hs is None else hs * 10000


def pattern(raw):
    """The 7-field dst pattern of a daylight_savings_begin/_end value (wildcards as 0xFF..)."""
    y, mo, d, wd, h, mi, s, _, _, _ = _decode(raw)
    return (0xFFFF if y is None else y, _field(mo), _field(d), _field(wd), _field(h), _field(mi),
            _field(s))


def _field(v):
    return _UNSPECIFIED if v is None else v


def with_attribute(rule, name, value):
    """A new dst.Rule: `rule` with clock attribute `name` (time_zone, daylight_savings_begin,
    _end, _deviation, _enabled) set to `value`. ValueError if the result is no valid rule."""
    tz, begin, end, dev, on = rule.time_zone, rule.begin, rule.end, rule.deviation, rule.enabled
    if name == "time_zone":
        tz = value
    elif name == "daylight_savings_begin":
        begin = pattern(value)
    elif name == "daylight_savings_end":
        end = pattern(value)
    elif name == "daylight_savings_deviation":
        dev = value
    elif name == "daylight_savings_enabled":
        on = value
    else:
        raise KeyError(name)
    return dst.Rule(tz, begin, end, dev, on)


def pack(rule, shift_limit=SHIFT_LIMIT_DEFAULT):
    """The clock record of a rule and a time-shift limit (seconds)."""
    return struct.pack(_RECORD, _VERSION, rule.time_zone, rule.deviation, 1 if rule.enabled else 0,
                       *(rule.begin + rule.end + (check_shift_limit(shift_limit),)))


def _fields(data):
    n = len(data)
    if n == RECORD_SIZE and data[0] == _VERSION:
        return struct.unpack(_RECORD, data)
    if n == _RECORD_V1_SIZE and data[0] == 1:
        return struct.unpack(_RECORD_V1, data) + (SHIFT_LIMIT_DEFAULT,)
    raise ValueError("clock record of %d octets, version %d" % (n, data[0] if n else -1))


def unpack(data):
    """The dst.Rule of a clock record (version 1 or 2); ValueError if the record is not a valid
    one."""
    f = _fields(data)
    return dst.Rule(f[1], f[4:11], f[11:18], f[2], f[3] != 0)


def unpack_shift_limit(data):
    """The time-shift limit (seconds) of a clock record; ValueError if it is not a valid one."""
    return check_shift_limit(_fields(data)[18])


def check_shift_limit(seconds):
    """`seconds` if it is a usable time-shift limit (0..SHIFT_MAX: 0 forbids shift_time), else
    ValueError."""
    if not isinstance(seconds, int) or not 0 <= seconds <= SHIFT_MAX:
        raise ValueError("time-shift limit must be 0..%d s" % SHIFT_MAX)
    return seconds


# ------------------------------------------------------------------ clock adjustment methods

def nearest(utc, rule, period):
    """The UTC instant of the local time nearest to `utc` that is a whole multiple of `period`
    seconds (adjust_to_minute 60, adjust_to_quarter 900, adjust_to_measuring_period); a time
    exactly half way goes forward. The rounding is done on local time so that periods of a day
    or of hours not dividing the time zone offset meet local midnight."""
    if not isinstance(period, int) or period < 1:
        raise ValueError("period must be a positive number of seconds")
    local, _, _ = dst.local_from_utc(utc, rule)
    r = local % period
    target = utc - r + (period if 2 * r >= period else 0)
    civil.split(target)     # still inside 2000..2099
    return target


def shifted(utc, seconds, limit):
    """`utc` shifted by `seconds` (shift_time); ValueError beyond +-limit or outside 2000..2099."""
    if not -limit <= seconds <= limit:
        raise ValueError("shift of %d s beyond the time-shift limit %d s" % (seconds, limit))
    target = utc + seconds
    civil.split(target)
    return target


def preset(data, rule):
    """(preset, validity start, validity end), each (UTC s, us), of the structure given to
    preset_adjusting_time (three 12-octet date-times, read as a clock SET reads its time);
    ValueError if the interval ends before it starts, the date-time errors of time_to_utc."""
    times = [time_to_utc(d[1], rule) for d in data[1]]
    if times[2] < times[1]:
        raise ValueError("validity interval ends before it starts")
    return tuple(times)
