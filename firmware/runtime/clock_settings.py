"""Writing the COSEM clock: the 12-octet date-time of a clock SET turned into a UTC instant, a new
DST rule from one written attribute, and the NV record that keeps the rule across restarts.

Date-time written to attribute 2: year 2000..2099, month, day, hour, minute and second must be
given (no wildcards, the day must exist in that month, a given weekday must match the date);
hundredths are optional. The deviation follows core/dst (UTC = local + deviation); "not
specified" (0x8000) means local time read with the clock's rule (fold 0 in the repeated hour).
The status octet is ignored: the meter derives its own.

Clock record, little-endian: version u8 | time_zone i16 | deviation i8 | enabled u8 |
begin, end: year u16, month, day, weekday, hour, minute, second u8 each.
"""
import struct

from cosem import errors
from core import civil, dst
from dlms import axdr

_VERSION = 1
_RECORD = "<BhbBHBBBBBBHBBBBBB"
RECORD_SIZE = struct.calcsize(_RECORD)
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


def pack(rule):
    """The clock record of a rule."""
    return struct.pack(_RECORD, _VERSION, rule.time_zone, rule.deviation, 1 if rule.enabled else 0,
                       *(rule.begin + rule.end))


def unpack(data):
    """The dst.Rule of a clock record; ValueError if the record is not a valid one."""
    if len(data) != RECORD_SIZE:
        raise ValueError("clock record length %d" % len(data))
    f = struct.unpack(_RECORD, data)
    if f[0] != _VERSION:
        raise ValueError("clock record version %d" % f[0])
    return dst.Rule(f[1], f[4:11], f[11:18], f[2], f[3] != 0)
