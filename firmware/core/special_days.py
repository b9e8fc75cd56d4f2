"""Special days table (COSEM class 11): date patterns that override the week profile's day id.

entry = (index, date, day_id): `index` 0..65535 identifies the entry (insert replaces an entry with
the same index), `date` a (year, month, day, day_of_week) pattern with wildcards (see
`datepattern`), `day_id` 0..255 a day profile of the activity calendar. Where several entries match
a date, the one with the lowest index wins. Dates are local dates.
"""
from core import civil
from core import datepattern
from core.calendar import CalendarError


def _check(entry):
    if not isinstance(entry, (tuple, list)) or len(entry) != 3:
        raise CalendarError("special day entry has the wrong shape", True)
    index, date, day_id = entry
    if not isinstance(date, (tuple, list)) or len(date) != 4:
        raise CalendarError("special day date has the wrong shape", True)
    for v in (index, day_id) + tuple(date):
        if not isinstance(v, int):
            raise CalendarError("special day fields must be integers", True)
    if not 0 <= index <= 0xFFFF:
        raise CalendarError("special day index outside 0..65535")
    if not 0 <= day_id <= 255:
        raise CalendarError("special day id outside 0..255")
    try:
        datepattern.check_date(date)
    except ValueError as e:
        raise CalendarError("special day date: " + str(e))
    return index, tuple(date), day_id


class SpecialDays:
    """The entries of attribute 2, kept sorted by index; methods insert (1) and delete (2)."""

    def __init__(self, entries=()):
        self.entries = ()
        self.set_entries(entries)

    def set_entries(self, entries):
        """Replace the whole table (attribute 2 SET); duplicate indices are refused."""
        checked = [_check(e) for e in entries]
        checked.sort()
        for k in range(1, len(checked)):
            if checked[k][0] == checked[k - 1][0]:
                raise CalendarError("duplicate special day index")
        self.entries = tuple(checked)

    def insert(self, entry):
        """Method 1: add an entry, replacing the one with the same index."""
        e = _check(entry)
        rest = [x for x in self.entries if x[0] != e[0]]
        rest.append(e)
        rest.sort()
        self.entries = tuple(rest)

    def delete(self, index):
        """Method 2: remove the entry with this index (no error if there is none)."""
        self.entries = tuple(x for x in self.entries if x[0] != index)

    def day_id(self, days, dst_months=None):
        """Day id of the first entry matching local day number `days`, None if none matches."""
        if not self.entries:
            return None
        y, m, d = civil.civil_from_days(days)
        for e in self.entries:
            if datepattern.date_matches(e[1], y, m, d, dst_months):
                return e[2]
        return None
