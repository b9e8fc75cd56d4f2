"""Active tariff 1..8 at a meter instant: activity calendar, special days, switch source, manual
tariff activation, and the register activation masks.

Tariff switch sources (our enumeration; the Mx382 values are not published):
- SOURCE_CALENDAR: the activity calendar rules. A manual activation (the tariffication script
  table's execute with script id = tariff) holds until the calendar's next switch after it.
- SOURCE_MANUAL: only manual activations count; the last one holds (default tariff before any).
- SOURCE_EXTERNAL: the tariff given by an external input (`set_external`).

Everything is a pure function of UTC meter time (epoch seconds, see `civil`) and of the stored
configuration: `active_tariff(t)` and `next_switch(t)` may be asked about any instant in any order.
Local time comes from the DST rule in `rule` (replace it when the clock attributes change).
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from core import calendar
from core import dst

SOURCE_CALENDAR = const(0)
SOURCE_MANUAL = const(1)
SOURCE_EXTERNAL = const(2)

_DAY = const(86400)
_HORIZON = const(400 * 86400)    # default look-ahead of next_switch


def _check_tariff(n):
    if not isinstance(n, int):
        raise calendar.CalendarError("tariff must be an integer", True)
    if not 1 <= n <= calendar.MAX_TARIFF:
        raise calendar.CalendarError("tariff outside 1..8")


class TimeOfUse:
    """Tariff selection from an `ActivityCalendar`, a `SpecialDays` table and a `dst.Rule`.

    `default_tariff` applies before the first season start and under SOURCE_MANUAL before any
    manual activation.
    """

    def __init__(self, activity, special_days, rule, default_tariff=1):
        _check_tariff(default_tariff)
        self.activity = activity
        self.special_days = special_days
        self.rule = rule
        self.default_tariff = default_tariff
        self.source = SOURCE_CALENDAR
        self._manual = default_tariff
        self._override = None          # (tariff, from_utc, until_utc or None)
        self._external = default_tariff
        self._sd_key = None
        self._sd_val = None
        self._dst = (None, 0, None)    # (rule, from_utc, next DST change after it or None)

    def _special(self, days):
        # Special day id of a local day, cached for the last day asked about.
        key = (days, self.special_days.entries, self.rule.months)
        if key != self._sd_key:
            self._sd_val = self.special_days.day_id(days, self.rule.months)
            self._sd_key = key
        return self._sd_val

    def calendar_tariff(self, utc_s):
        """Tariff the activity calendar gives at a UTC instant (pending activation included)."""
        cal = self.activity.calendar_at(utc_s, self.rule)
        local = dst.local_from_utc(utc_s, self.rule)[0]
        t = calendar.tariff_at(cal, local, self._special)
        return t if t else self.default_tariff

    def active_tariff(self, utc_s):
        """Tariff 1..8 in force at a UTC instant under the current switch source."""
        if self.source == SOURCE_MANUAL:
            return self._manual
        if self.source == SOURCE_EXTERNAL:
            return self._external
        ov = self._override
        if ov is not None and ov[1] <= utc_s and (ov[2] is None or utc_s < ov[2]):
            return ov[0]
        return self.calendar_tariff(utc_s)

    def _candidate(self, utc_s):
        # Next UTC instant after utc_s where the calendar tariff may change, None if none.
        rule = self.rule
        cal = self.activity.calendar_at(utc_s, rule)
        local = dst.local_from_utc(utc_s, rule)[0]
        c = calendar.next_change(cal, local, self._special)
        c = None if c is None else utc_s + (c - local)
        nt = self._next_dst(utc_s)
        if nt is not None and (c is None or nt < c):
            c = nt
        a = self.activity.activation_utc(rule)
        if a is not None and a > utc_s and (c is None or a < c):
            c = a
        return c

    def _next_dst(self, utc_s):
        # Next DST change after utc_s; the answer holds for every instant up to that change.
        r, lo, hi = self._dst
        if r is self.rule and lo <= utc_s and (hi is None or utc_s < hi):
            return hi
        nt = dst.next_transition(utc_s, self.rule)
        hi = None if nt is None else nt[0]
        self._dst = (self.rule, utc_s, hi)
        return hi

    def _scan(self, f, utc_s, limit):
        cur = f(utc_s)
        t = utc_s
        while True:
            c = self._candidate(t)
            ov = self._override
            if ov is not None:
                for e in (ov[1], ov[2]):
                    if e is not None and t < e and (c is None or e < c):
                        c = e
            if c is None or c > limit:
                return None
            if f(c) != cur:
                return c
            t = c

    def next_switch(self, utc_s, limit=None):
        """First UTC instant after `utc_s` at which the active tariff changes, None if it does not
        change up to `limit` (default: 400 days on). A window [t0, t1) holds no switch when
        next_switch(t0, t1) is None."""
        if self.source != SOURCE_CALENDAR:
            return None
        if limit is None:
            limit = utc_s + _HORIZON
        return self._scan(self.active_tariff, utc_s, limit)

    def activate_passive(self, utc_s):
        """Carry out a due passive calendar activation; True if it happened."""
        return self.activity.activate_if_due(utc_s, self.rule)

    def execute_script(self, tariff, utc_s):
        """Manual tariff activation at a UTC instant (tariffication script table, execute)."""
        _check_tariff(tariff)
        self._manual = tariff
        if self.source == SOURCE_CALENDAR:
            self._override = None
            until = self._scan(self.calendar_tariff, utc_s, utc_s + _HORIZON)
            self._override = (tariff, utc_s, until)

    def set_source(self, source):
        """Select the tariff switch source; a pending manual override is dropped."""
        if not isinstance(source, int):
            raise calendar.CalendarError("switch source must be an integer", True)
        if source not in (SOURCE_CALENDAR, SOURCE_MANUAL, SOURCE_EXTERNAL):
            raise calendar.CalendarError("unknown tariff switch source")
        self.source = source
        self._override = None

    def manual_state(self):
        """(source, last manual tariff, override) where override is (tariff, from_utc,
        until_utc or None) or None: what `restore_manual` takes back after a restart."""
        return self.source, self._manual, self._override

    def restore_manual(self, source, manual, override):
        """Take back a `manual_state` (from NV); CalendarError, nothing changed, if it is not
        a valid one."""
        if source not in (SOURCE_CALENDAR, SOURCE_MANUAL, SOURCE_EXTERNAL):
            raise calendar.CalendarError("unknown tariff switch source")
        _check_tariff(manual)
        if override is not None:
            _check_tariff(override[0])
            if override[2] is not None and override[2] <= override[1]:
                raise calendar.CalendarError("manual tariff override ends before it starts")
        self.source = source
        self._manual = manual
        self._override = override

    def set_external(self, tariff):
        """Tariff given by the external input (used under SOURCE_EXTERNAL)."""
        _check_tariff(tariff)
        self._external = tariff


class RegisterActivation:
    """Register activation masks (class 6, simplified): per tariff, a bit mask of the energy
    quantities (bit n = quantity n of `measure.energy`) whose tariff register integrates."""

    def __init__(self, nreg):
        self.nreg = nreg
        self._masks = [(1 << nreg) - 1] * calendar.MAX_TARIFF

    def set_mask(self, tariff, quantities):
        """Let exactly the listed quantities integrate while `tariff` is active."""
        _check_tariff(tariff)
        m = 0
        for q in quantities:
            if not isinstance(q, int) or not 0 <= q < self.nreg:
                raise calendar.CalendarError("unknown energy quantity in mask")
            m |= 1 << q
        self._masks[tariff - 1] = m

    def mask(self, tariff):
        """Bit mask of the quantities integrating under `tariff`."""
        return self._masks[tariff - 1]
