"""Class 22 Single action schedule: executed_script (2), type (3), execution_time (4).

The class validates what is written; the service bound to the row keeps the values, persists
them and carries out the script when an execution time comes (calling the source action of the
script table it names). Sources, for binding b:

* ``b.executed_script``: Data structure {script table logical name, script selector};
* ``b.type``: 1..5 (see `core.schedule`);
* ``b.execution_time``: Data array of {time octet-string(4), date octet-string(5)};
  `entries_from` / `entries_data` convert it from / to ((hour, minute, second), (year, month,
  day, day_of_week)) patterns of `core.datepattern` (0xFF / 0xFFFF wildcards).

A written type is checked against the present execution times and written execution times
against the present type with `core.schedule.check` before the source is written: a refused
value (other-reason) changes nothing. Time octets carry hundredths, which play no part
(written: 0..99 or 0xFF; read: 0, or 0xFF with a wildcard second).
"""
from dlms import axdr
from cosem import dtype, errors, ic
from cosem.ic import W
from core import schedule

SCRIPT = (axdr.STRUCTURE, (ic.LOGICAL_NAME, axdr.LONG_UNSIGNED))
TYPE = (axdr.ENUM, 1, 5)
ENTRY = (axdr.STRUCTURE, ((axdr.OCTET_STRING, 4, 4), (axdr.OCTET_STRING, 5, 5)))
EXECUTION_TIME = (axdr.ARRAY, ENTRY)


def time_octets(t):
    """4 octets of a (hour, minute, second) pattern."""
    return bytes((t[0], t[1], t[2], 0xFF if t[2] == 0xFF else 0))


def date_octets(d):
    """5 octets of a (year, month, day, day_of_week) pattern."""
    return bytes((d[0] >> 8, d[0] & 0xFF, d[1], d[2], d[3]))


def entries_data(entries):
    """The attribute 4 Data value of a list of (time, date) patterns."""
    return axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.OCTET_STRING, time_octets(t)),
                                          (axdr.OCTET_STRING, date_octets(d))])
                        for t, d in entries]


def entries_from(data):
    """The (time, date) patterns of an attribute 4 Data value already checked against
    EXECUTION_TIME; ValueError for a bad hundredths octet (`schedule.check` checks the rest)."""
    out = []
    for item in data[1]:
        t = item[1][0][1]
        d = item[1][1][1]
        if t[3] > 99 and t[3] != 0xFF:
            raise ValueError("hundredths outside 0..99")
        out.append(((t[0], t[1], t[2]), ((d[0] << 8) | d[1], d[2], d[3], d[4])))
    return out


def _name(row, attribute):
    return ic.source_name(row, attribute, False)


def _check(kind, entries):
    try:
        schedule.check(kind, entries)
    except (ValueError, TypeError):
        raise errors.OtherReason("execution times do not suit the schedule type")


def _present(view, row):
    # The execution times in force, as patterns.
    try:
        return entries_from(dtype.from_source(EXECUTION_TIME,
                                              view.read(_name(row, "execution_time"))))
    except ValueError:
        raise errors.TemporaryFailure("source gave unusable execution times")


def _set_type(view, row, n, data):
    kind = data[1]
    _check(kind, _present(view, row))
    view.write(_name(row, "type"), kind)


def _set_times(view, row, n, data):
    try:
        entries = entries_from(data)
    except ValueError:
        raise errors.OtherReason("execution time field out of range")
    _check(view.read(_name(row, "type")), entries)
    view.write(_name(row, "execution_time"), data)


class SingleActionSchedule(ic.Interface):
    """Class 22, version 0: logical_name, executed_script, type, execution_time."""

    CLASS_ID = 22
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (
        ("executed_script", SCRIPT, W, None, None),
        ("type", TYPE, W, None, _set_type),
        ("execution_time", EXECUTION_TIME, W, None, _set_times),
    )

    @classmethod
    def check_row(cls, bind, arg):
        cls.check_arg(arg)
        if bind is None:
            raise ValueError("class 22 needs a binding")
