"""Class 11 Special days table (version 0) and the conversions between its entries and the
`core.special_days` data model.

Attribute 2 entries is the source `<binding>.entries` (a Data array); methods 1 insert (one
entry) and 2 delete (an index) are delegated to `<binding>.insert` / `<binding>.delete`.
A date is 5 octets: year (0xFFFF any), month, day, weekday (0xFF any).
"""
from dlms import axdr
from cosem import ic
from cosem.ic import W
from core.calendar import CalendarError

DATE = (axdr.OCTET_STRING, 5, 5)
ENTRY = (axdr.STRUCTURE, (axdr.LONG_UNSIGNED, DATE, axdr.UNSIGNED))


def entry_from(data):
    """Core entry (index, date pattern, day id) of one Data entry."""
    if not isinstance(data, tuple) or len(data) != 2 or data[0] != axdr.STRUCTURE or \
            len(data[1]) != 3:
        raise CalendarError("special day entry has the wrong shape", True)
    index, date, day_id = [f[1] for f in data[1]]
    if not isinstance(date, (bytes, bytearray)) or len(date) != 5:
        raise CalendarError("special day date must be 5 octets", True)
    return index, ((date[0] << 8) | date[1], date[2], date[3], date[4]), day_id


def entries_from(data):
    """Core entries of attribute 2."""
    if not isinstance(data, tuple) or len(data) != 2 or data[0] != axdr.ARRAY:
        raise CalendarError("entries must be an array", True)
    return [entry_from(e) for e in data[1]]


def entries_data(special_days):
    """Attribute 2 of a core SpecialDays."""
    return axdr.ARRAY, [
        (axdr.STRUCTURE, [(axdr.LONG_UNSIGNED, e[0]),
                          (axdr.OCTET_STRING, bytes((e[1][0] >> 8, e[1][0] & 0xFF)) +
                           bytes(e[1][1:])),
                          (axdr.UNSIGNED, e[2])])
        for e in special_days.entries]


class SpecialDaysTable(ic.Interface):
    """Class 11, version 0."""

    CLASS_ID = 11
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (("entries", (axdr.ARRAY, ENTRY), W, None, None),)
    METHODS = (("insert", ENTRY, None), ("delete", axdr.LONG_UNSIGNED, None))
