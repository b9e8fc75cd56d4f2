"""Time of use on a running meter: the default calendar, a cache of the tariff in force and the
feed that books each window's energy to that tariff (docs/tariffs.md)."""
from core import calendar

# How far SwitchCache looks for the next tariff switch: bounds the work of one look-up on a
# calendar without switches.
_LOOKAHEAD_S = 35 * 86400

# The default calendar (docs/tariffs.md): tariff 2 (day) 06:00-22:00 Monday to Friday, tariff 1
# (night) otherwise and all weekend, the whole year.
_SCRIPTS = b"\x00\x00\x0a\x00\x64\xff"     # 0-0:10.0.100, tariffication script table


def default_calendar():
    """The activity calendar of a meter that has never been given one."""
    days = [(1, [((6, 0, 0), _SCRIPTS, 2), ((22, 0, 0), _SCRIPTS, 1)]),
            (2, [((0, 0, 0), _SCRIPTS, 1)])]
    weeks = [(b"WEEK", (1, 1, 1, 1, 1, 2, 2))]
    seasons = [(b"YEAR", (0xFFFF, 1, 1, 0xFF, 0, 0, 0), b"WEEK")]
    return calendar.ActivityCalendar(calendar.Calendar(b"DAYNIGHT", seasons, weeks, days))


class SwitchCache:
    """A tariff.TimeOfUse seen through a cache: the active tariff and the next switch are worked
    out once per tariff period, not on every measurement step. `invalidate()` after every change
    of the configuration (calendar, special days, DST rule, switch source)."""

    def __init__(self, tou):
        self.tou = tou
        self._lo = None     # the answers below hold for lo <= t < hi
        self._hi = 0
        self._tariff = 0
        self._switch = None

    def invalidate(self):
        """Forget the cached period."""
        self._lo = None

    def _at(self, t):
        lo = self._lo
        if lo is None or t < lo or t >= self._hi:
            tou = self.tou
            self._tariff = tou.active_tariff(t)
            limit = t + _LOOKAHEAD_S
            sw = tou.next_switch(t, limit)
            self._lo = t
            self._switch = sw
            # Without a switch in the look-ahead the tariff holds up to its end (inclusive).
            self._hi = sw if sw is not None else limit + 1

    def active_tariff(self, utc_s):
        """Tariff in force at a UTC instant."""
        self._at(utc_s)
        return self._tariff

    def next_switch(self, utc_s, limit):
        """As TimeOfUse.next_switch (limit required)."""
        self._at(utc_s)
        sw = self._switch
        if sw is None and limit >= self._hi:    # past the look-ahead: ask directly (rare)
            return self.tou.next_switch(utc_s, limit)
        return sw if sw is not None and sw <= limit else None


class TariffFeed:
    """Stands for the Energy in the Metrology: each window's energy goes through the tariff
    registers (split exactly at a tariff switch inside the window)."""

    def __init__(self, energy, regs, switches):
        self.energy = energy
        self.regs = regs
        self.switches = switches

    def accumulate(self, p_uw, q_uvar, s_uva, dt_us, t_end_us):
        t0 = t_end_us - dt_us
        self.regs.step(self.energy, self.switches, p_uw, q_uvar, s_uva, dt_us, t_end_us,
                       t0 // 1000000, t0 % 1000000)
