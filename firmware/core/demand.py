"""Demand register (COSEM class 5) with maximum demand per tariff, as pure meter-time logic.

Block demand: number_of_periods n = 1. Sliding demand: n > 1 sub-periods of `period` seconds; the
window is n * period and every sub-period end yields a new last_average_value.

Feeding: `feed(e, t, tariff)` books an energy increment `e` (integer input units, see `unit_uwus`)
measured during the step that ends at UTC second `t` with `tariff` (1..8) in force, then closes
every sub-period that ends at or before `t`. A step must not cross a sub-period end: cut it at
`next_boundary()` (as `tariff_registers.step` cuts at tariff switches). Sub-periods end where the
local standard time (UTC + `offset_s`) is a multiple of `period`: a 15-minute period ends at
:00/:15/:30/:45 local time, and it keeps doing so across DST changes for every period that divides
the DST deviation (all usual demand periods: 1..60 minutes).

Values are integer W (scaler 0, unit 27): floor(window energy / window length). Energy in the
input unit times `unit_uwus` gives uW*us (1 mWh = 3.6e12 uW*us, the default unit).

Interruptions (Blue Book: handling of an interrupted period is manufacturer specific; ours):
- a sub-period is complete when the meter ran for all of it with no clock change or reset;
- the first sub-period after `start`, every sub-period touched by a power failure, one that ends
  or starts at a clock change, `reset` or `next_period`, is incomplete (flags below);
- a window holding any incomplete sub-period still yields last_average_value (its energy over the
  full window length, so it never overstates the load) with the flags in `status`, but it is not
  used for maximum demand.
Maximum demand per tariff (the tariff in force during the last step of the window) and in total
keeps the highest value of complete windows and the capture time of its first occurrence.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

SCALER = const(0)              # values are W * 10**SCALER
UNIT_W = const(27)             # DLMS unit enum: W
MWH = 3600000000000            # uW*us per mWh (the default input unit)
_UWUS_PER_WS = 1000000000000   # uW*us per W*s

# status bits (of last_average_value), numbered like the load profile status (application 7.2)
STATUS_INCOMPLETE = const(0x04)   # window not fully measured: not used for maximum demand
STATUS_CLOCK = const(0x20)        # clock changed, reset or next_period inside the window
STATUS_POWER_UP = const(0x40)     # measuring (re)started inside the window
STATUS_POWER_DOWN = const(0x80)   # power failure inside the window


class Demand:
    """One demand register (e.g. 1-0:1.4.0 / 1.5.0 / 1.6.x / 1.2.x for A+).

    Maximum demand registers are `max_value[k]`, `max_time[k]` with k = 0 total, 1..tariffs;
    cumulative maximum demand `cum_value[k]` (sum of the maxima at each billing reset).
    """

    def __init__(self, period=900, number_of_periods=1, tariffs=8, offset_s=0, unit_uwus=MWH):
        if period <= 0 or number_of_periods < 1 or number_of_periods > 255:
            raise ValueError("period > 0 and number_of_periods 1..255 required")
        if tariffs < 1 or tariffs > 8 or unit_uwus <= 0:
            raise ValueError("tariffs 1..8 and a positive unit required")
        self.period = period
        self.n = number_of_periods
        self.tariffs = tariffs
        self.offset_s = offset_s
        self.unit = unit_uwus
        self.max_value = [0] * (tariffs + 1)
        self.max_time = [None] * (tariffs + 1)
        self.cum_value = [0] * (tariffs + 1)
        self.start_time_current = None     # None: not started
        self.capture_time = None
        self.last_average_value = 0
        self.status = STATUS_INCOMPLETE
        self._clear()

    def _clear(self):
        # Ring of the last n closed sub-periods (energy, flags), _pos at the oldest, which the
        # running one (acc, flags) replaces when it closes.
        self._ring_e = [0] * self.n
        self._ring_f = [STATUS_INCOMPLETE] * self.n
        self._pos = 0
        self.acc = 0
        self.flags = STATUS_INCOMPLETE
        self._end = None

    def _boundary_after(self, t):
        p = self.period
        off = self.offset_s
        return ((t + off) // p + 1) * p - off

    def next_boundary(self):
        """UTC second where the running sub-period ends (None before `start`)."""
        return self._end

    def _average(self, e):
        # W over the whole window, floor.
        return e * self.unit // (_UWUS_PER_WS * self.period * self.n)

    def current_average_value(self, pending=0):
        """Attribute 2: energy of the n-1 previous sub-periods plus the running one (and
        `pending`, energy measured but not fed yet), over the window length (block demand:
        energy so far over the period)."""
        e = self.acc + pending
        for k in range(self.n):
            if k != self._pos:
                e += self._ring_e[k]
        return self._average(e)

    def start(self, t, flags=0):
        """Start measuring at UTC second `t` (first power-up; after a reboot with
        STATUS_POWER_UP): the running sub-period is short, hence incomplete."""
        self.start_time_current = t
        self._end = self._boundary_after(t)
        self.flags |= STATUS_INCOMPLETE | flags

    def _close(self, tariff, cut=None):
        # Close the running sub-period at its end (or at `cut`, early) and start the next one.
        end = self._end if cut is None else cut
        pos = self._pos
        self._ring_e[pos] = self.acc
        self._ring_f[pos] = self.flags
        e = 0
        f = 0
        for k in range(self.n):
            e += self._ring_e[k]
            f |= self._ring_f[k]
        self._pos = (pos + 1) % self.n
        avg = self._average(e)
        self.last_average_value = avg
        self.capture_time = end
        self.status = f
        if not f & STATUS_INCOMPLETE and tariff is not None:
            for k in (0, tariff):
                if avg > self.max_value[k] or self.max_time[k] is None:
                    self.max_value[k] = avg
                    self.max_time[k] = end
        self.acc = 0
        self.flags = 0
        self.start_time_current = end
        self._end = self._boundary_after(end)

    def _advance(self, t, tariff, extra):
        # Close every sub-period ending at or before t; each new one carries `extra` flags.
        p = self.period
        while self._end <= t:
            self._close(tariff)
            self.flags |= extra
            skip = (t - self._end) // p - self.n
            if skip > 0:
                # Long outage: the ring is overwritten by n empty sub-periods before t anyway.
                self._end += skip * p
                self.start_time_current = self._end - p

    def feed(self, e, t, tariff=1):
        """Book energy `e` (>= 0) of the step ending at UTC second `t` with `tariff` in force."""
        if e < 0:
            raise ValueError("negative energy increment")
        if tariff < 1 or tariff > self.tariffs:
            raise ValueError("tariff outside 1..tariffs")
        if self._end is None:
            raise ValueError("demand register not started")
        if t > self._end:
            raise ValueError("step crosses the end of the sub-period")
        self.acc += e
        if t == self._end:
            self._close(tariff)

    def power_down(self, t):
        """Power failure at UTC second `t` (after the last `feed`)."""
        self._advance(t, None, 0)
        self.flags |= STATUS_POWER_DOWN | STATUS_INCOMPLETE

    def power_up(self, t):
        """Power back at UTC second `t`: sub-periods ended during the outage close empty and
        incomplete; the running one is incomplete."""
        self._advance(t, None, STATUS_POWER_DOWN | STATUS_INCOMPLETE)
        self.flags |= STATUS_POWER_UP | STATUS_INCOMPLETE

    def next_period(self, t):
        """Method 2: close the running sub-period now (incomplete, so it sets no maximum); the
        next one runs to the next clock-aligned end."""
        self.flags |= STATUS_CLOCK | STATUS_INCOMPLETE
        self._close(None, t)
        self.flags |= STATUS_CLOCK | STATUS_INCOMPLETE

    def clock_changed(self, old_t, new_t):
        """The clock was set from `old_t` to `new_t` (UTC): close at `old_t`, go on from `new_t`."""
        self.next_period(old_t)
        self.start_time_current = new_t
        self._end = self._boundary_after(new_t)

    def reset(self, t):
        """Method 1: clear the current and last values; the window restarts at `t`."""
        self._clear()
        self.last_average_value = 0
        self.status = STATUS_INCOMPLETE
        self.capture_time = t
        self.start(t, STATUS_CLOCK)

    def end_of_billing(self):
        """Cumulative maximum demand += maximum demand; maxima reset. Returns the maxima before
        the reset as (values, times) lists (k = 0 total, 1..tariffs)."""
        old = (self.max_value[:], self.max_time[:])
        for k in range(self.tariffs + 1):
            self.cum_value[k] += self.max_value[k]
            self.max_value[k] = 0
            self.max_time[k] = None
        return old
