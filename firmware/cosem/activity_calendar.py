"""Class 20 Activity calendar (version 0) and the conversions between its attribute values and
the `core.calendar` data model.

Every attribute but logical_name is a source `<binding>.<attribute>` (Data values for the
arrays, bytes for the names and the activation time); method 1 activate_passive_calendar is
delegated to `<binding>.activate_passive_calendar`. The shapes below are checked before a SET
reaches the source, so a malformed table answers type-unmatched there; `calendar_from` then lets
`core.calendar` validate the content (CalendarError).

Date-time fields map one to one onto the 7-field patterns of `core.datepattern` (year 0xFFFF and
0xFF are the wildcards); hundredths, deviation and status of a written season start or
activation time are not kept (they read back as 0xFF, 0x8000, 0xFF).
"""
from dlms import axdr
from cosem import ic
from cosem.ic import W
from core import calendar

OCTETS = axdr.OCTET_STRING
DATETIME = (OCTETS, 12, 12)
SEASON = (axdr.STRUCTURE, (OCTETS, DATETIME, OCTETS))
WEEK = (axdr.STRUCTURE, (OCTETS,) + (axdr.UNSIGNED,) * 7)
ACTION = (axdr.STRUCTURE, ((OCTETS, 4, 4), (OCTETS, 6, 6), axdr.LONG_UNSIGNED))
DAY = (axdr.STRUCTURE, (axdr.UNSIGNED, (axdr.ARRAY, ACTION)))
SEASONS = (axdr.ARRAY, SEASON)
WEEKS = (axdr.ARRAY, WEEK)
DAYS = (axdr.ARRAY, DAY)

_NOT_SPECIFIED = b"\xff\x80\x00\xff"    # hundredths, deviation, status of a stored date-time


def pattern_from(raw):
    """The 7-field pattern (year, month, day, weekday, hour, minute, second) of 12 octets."""
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != 12:
        raise calendar.CalendarError("date-time must be 12 octets", True)
    return ((raw[0] << 8) | raw[1],) + tuple(raw[2:8])


def pattern_octets(p):
    """12 octets of a 7-field pattern."""
    return bytes((p[0] >> 8, p[0] & 0xFF) + tuple(p[1:])) + _NOT_SPECIFIED


def _items(data, tag):
    # The values of a Data array of `tag` elements (type-unmatched otherwise).
    if not isinstance(data, tuple) or len(data) != 2 or data[0] != axdr.ARRAY:
        raise calendar.CalendarError("an array is expected", True)
    out = []
    for d in data[1]:
        if not isinstance(d, tuple) or len(d) != 2 or d[0] != tag:
            raise calendar.CalendarError("array element of the wrong type", True)
        out.append(d[1])
    return out


def _values(fields, n):
    if len(fields) != n:
        raise calendar.CalendarError("structure of the wrong size", True)
    return [f[1] for f in fields]


def seasons_from(data):
    """Core seasons [(name, pattern, week name)] of attribute 3 / 7."""
    out = []
    for f in _items(data, axdr.STRUCTURE):
        name, start, week = _values(f, 3)
        out.append((name, pattern_from(start), week))
    return out


def weeks_from(data):
    """Core weeks [(name, 7 day ids)] of attribute 4 / 8."""
    out = []
    for f in _items(data, axdr.STRUCTURE):
        v = _values(f, 8)
        out.append((v[0], tuple(v[1:])))
    return out


def days_from(data):
    """Core day profiles [(day id, [(time, script, selector)])] of attribute 5 / 9."""
    out = []
    for f in _items(data, axdr.STRUCTURE):
        day_id = _values(f, 2)[0]
        actions = []
        for a in _items(f[1], axdr.STRUCTURE):
            t, script, sel = _values(a, 3)
            if not isinstance(t, (bytes, bytearray)) or len(t) != 4:
                raise calendar.CalendarError("start time must be 4 octets", True)
            actions.append((tuple(t), bytes(script), sel))
        out.append((day_id, actions))
    return out


_ANY_SCRIPT = b"\x00\x00\x0a\x00\x64\xff"


def check_part(n, value):
    """Validate passive attribute 6 + n (n = 0 name, 1 seasons, 2 weeks, 3 days) on its own:
    every rule but the references to the other tables (those are checked once the tables fit
    together). CalendarError if invalid."""
    if n == 0:
        calendar.Calendar(value, (), (), ())
        return
    if n == 3:
        calendar.Calendar(b"", (), (), days_from(value))
        return
    day = [((0, 0, 0), _ANY_SCRIPT, 1)]
    if n == 2:
        weeks = weeks_from(value)
        ids = []
        for w in weeks:
            for i in w[1] if isinstance(w[1], tuple) else ():
                if i not in ids:
                    ids.append(i)
        calendar.Calendar(b"", (), weeks, [(i, day) for i in ids])
        return
    seasons = seasons_from(value)
    names = []
    for s in seasons:
        if s[2] not in names:
            names.append(s[2])
    calendar.Calendar(b"", seasons, [(w, (0,) * 7) for w in names], [(0, day)])


def calendar_from(name, seasons, weeks, days):
    """A validated core Calendar from attribute values (name bytes, the rest Data)."""
    return calendar.Calendar(name, seasons_from(seasons), weeks_from(weeks), days_from(days))


def seasons_data(cal):
    """Attribute 3 / 7 of a core Calendar."""
    return axdr.ARRAY, [(axdr.STRUCTURE, [(OCTETS, s[0]), (OCTETS, pattern_octets(s[1])),
                                          (OCTETS, s[2])]) for s in cal.seasons]


def weeks_data(cal):
    """Attribute 4 / 8 of a core Calendar."""
    return axdr.ARRAY, [(axdr.STRUCTURE, [(OCTETS, w[0])] + [(axdr.UNSIGNED, i) for i in w[1]])
                        for w in cal.weeks]


def days_data(cal):
    """Attribute 5 / 9 of a core Calendar."""
    return axdr.ARRAY, [
        (axdr.STRUCTURE, [(axdr.UNSIGNED, d[0]), (axdr.ARRAY, [
            (axdr.STRUCTURE, [(OCTETS, bytes(a[0] + (0,) * (4 - len(a[0])))), (OCTETS, a[1]),
                              (axdr.LONG_UNSIGNED, a[2])]) for a in d[1]])])
        for d in cal.days]


class ActivityCalendar(ic.Interface):
    """Class 20, version 0."""

    CLASS_ID = 20
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (
        ("calendar_name_active", OCTETS, 0, None, None),
        ("season_profile_active", SEASONS, 0, None, None),
        ("week_profile_table_active", WEEKS, 0, None, None),
        ("day_profile_table_active", DAYS, 0, None, None),
        ("calendar_name_passive", OCTETS, W, None, None),
        ("season_profile_passive", SEASONS, W, None, None),
        ("week_profile_table_passive", WEEKS, W, None, None),
        ("day_profile_table_passive", DAYS, W, None, None),
        ("activate_passive_calendar_time", DATETIME, W, None, None),
    )
    METHODS = (("activate_passive_calendar", axdr.INTEGER, None),)
