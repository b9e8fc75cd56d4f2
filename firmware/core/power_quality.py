"""Power quality as pure logic of (measured value, meter second): voltage level per phase (sag,
swell, missing voltage, back to normal), daily maximum and minimum, average voltage, voltage and
current asymmetry, and the neutral current check (docs/power_quality.md).

Everything is integer: voltages in mV, currents in mA, times in meter seconds (resolution 1 s,
the unit of the time-threshold objects). Callers feed one value per measured window (or one per
analytic step, which then holds until the next value); a detector answers with the transition it
made, and the instant it made it (`at`), so that an event is stamped when the condition had
lasted its time threshold, not when the value happened to be looked at.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

NORMAL = const(0)
SAG = const(1)
SWELL = const(2)
MISSING = const(3)

UN_MV = const(230000)           # nominal voltage Un
_HYSTERESIS_MV = const(4600)    # 2 % of Un: a level ends only this far back inside the band


class Settings:
    """Voltage level thresholds (mV) and time thresholds (s); the defaults are the spec's
    proposal: sag below 90 % of Un, swell above 110 %, missing below 10 %, 1 s each; asymmetry
    and neutral fault after `fault_s`."""

    def __init__(self):
        self.sag_mv = UN_MV * 9 // 10
        self.swell_mv = UN_MV * 11 // 10
        self.missing_mv = UN_MV // 10
        self.sag_s = 1
        self.swell_s = 1
        self.missing_s = 1
        self.asymmetry_pct = 10         # largest deviation from the mean, % of the mean
        self.neutral_pct = 20           # |expected - measured| neutral current, % of the larger
        self.neutral_min_ma = 500       # below this the currents are too small to compare
        self.fault_s = 5

    def check(self):
        """ValueError unless missing < sag < Un < swell and every time is 0..3600 s."""
        if not 0 <= self.missing_mv < self.sag_mv < UN_MV < self.swell_mv <= 2 * UN_MV:
            raise ValueError("voltage thresholds must be missing < sag < Un < swell <= 2 Un")
        for t in (self.sag_s, self.swell_s, self.missing_s, self.fault_s):
            if not 0 <= t <= 3600:
                raise ValueError("time thresholds must be 0..3600 s")
        if not 1 <= self.asymmetry_pct <= 100 or not 1 <= self.neutral_pct <= 100:
            raise ValueError("percentages must be 1..100")
        if not 0 <= self.neutral_min_ma <= 100000:
            raise ValueError("neutral current floor must be 0..100 A")


class Level:
    """Voltage level of one phase: NORMAL, SAG, SWELL or MISSING, with the sag and swell
    counters and the magnitude (extreme voltage, mV) and duration (s) of the last of each.

    A new level starts once its condition has lasted its time threshold (a shorter dip is no
    sag); back to NORMAL needs the voltage 2 % of Un inside the band, at once."""

    def __init__(self, settings):
        self.s = settings
        self.state = NORMAL
        self.sags = 0
        self.swells = 0
        self.last_sag_mv = 0
        self.last_sag_s = 0
        self.last_swell_mv = 0
        self.last_swell_s = 0
        self.at = 0                 # instant of the last transition
        self._start = 0             # when the condition of the present level began
        self._extreme = 0           # its extreme voltage so far
        self._pending = NORMAL      # a different level whose condition holds, not long enough
        self._since = 0
        self._pending_extreme = 0

    def _classify(self, u):
        s = self.s
        if u < s.missing_mv:
            return MISSING
        if u < s.sag_mv:
            return SAG
        if u > s.swell_mv:
            return SWELL
        st = self.state
        if st == SAG and u < s.sag_mv + _HYSTERESIS_MV:
            return SAG
        if st == SWELL and u > s.swell_mv - _HYSTERESIS_MV:
            return SWELL
        if st == MISSING and u < s.missing_mv + _HYSTERESIS_MV:
            return MISSING
        return NORMAL

    def _delay(self, level):
        s = self.s
        if level == SAG:
            return s.sag_s
        if level == SWELL:
            return s.swell_s
        if level == MISSING:
            return s.missing_s
        return 0

    def update(self, u_mv, t_s):
        """Feed the phase voltage at meter second t_s; return the new level if it changed (its
        instant in `at`), else None."""
        c = self._classify(u_mv)
        st = self.state
        if c == st:
            if self._pending != st:
                # A condition that did not last: its values belong to the present level.
                self._merge(self._pending_extreme)
                self._pending = st
            self._merge(u_mv)
            return None
        if c != self._pending:
            if self._pending != st:
                self._merge(self._pending_extreme)
            self._pending = c
            self._since = t_s
            self._pending_extreme = u_mv
        elif (c == SWELL) == (u_mv > self._pending_extreme):
            self._pending_extreme = u_mv
        if t_s - self._since < self._delay(c):
            return None
        self._end(self._since)
        self.state = c
        self._start = self._since
        self._extreme = self._pending_extreme
        self.at = self._since + self._delay(c)
        if c == SAG:
            self.sags += 1
        elif c == SWELL:
            self.swells += 1
        return c

    def _merge(self, u):
        if (u > self._extreme) if self.state == SWELL else (u < self._extreme):
            self._extreme = u

    def _end(self, t_s):
        if self.state == SAG:
            self.last_sag_mv = self._extreme
            self.last_sag_s = t_s - self._start
        elif self.state == SWELL:
            self.last_swell_mv = self._extreme
            self.last_swell_s = t_s - self._start

    def reset(self):
        """Forget the level in progress (power up): the phase starts NORMAL."""
        self.state = self._pending = NORMAL

    def resync(self):
        """Forget a level still waiting for its time threshold (the clock was set: its timing
        is lost); the present level goes on."""
        self._pending = self.state


class Persistent:
    """A condition that counts once it has held `delay` seconds; it is over at once when it
    stops holding. `update` returns True at the instant (`at`) it starts counting."""

    def __init__(self):
        self.active = False
        self.at = 0
        self._holding = False
        self._since = 0

    def update(self, holds, t_s, delay):
        """Feed whether the condition holds at t_s; True when it has just become active."""
        if not holds:
            self._holding = self.active = False
            return False
        if not self._holding:
            self._holding = True
            self._since = t_s
        if self.active or t_s - self._since < delay:
            return False
        self.active = True
        self.at = self._since + delay
        return True

    def resync(self):
        """Forget a condition still waiting for its delay (the clock was set)."""
        if not self.active:
            self._holding = False


class Daily:
    """Maximum and minimum of one phase voltage over the local day; `prev_max` / `prev_min` are
    the values of the previous day (0: no complete day yet)."""

    def __init__(self):
        self.day = None
        self.max = 0
        self.min = 0
        self.prev_max = 0
        self.prev_min = 0
        self._last = 0

    def update(self, u_mv, day):
        """Feed the voltage in local day number `day` (days skipped by an analytic jump held
        the last value fed)."""
        if day != self.day:
            if self.day is not None:
                if day == self.day + 1:
                    self.prev_max, self.prev_min = self.max, self.min
                else:
                    self.prev_max = self.prev_min = self._last
            self.day = day
            self.max = self.min = u_mv
        elif u_mv > self.max:
            self.max = u_mv
        elif u_mv < self.min:
            self.min = u_mv
        self._last = u_mv


class Average:
    """Time average of a value over fixed periods aligned on multiples of `period_s`: each
    value holds until the next one (1 s resolution); `last` is the average of the last complete
    period (0 until there is one)."""

    def __init__(self, period_s):
        self.period = period_s
        self.last = 0
        self._t = None
        self._v = 0
        self._start = 0
        self._sum = 0
        self._n = 0

    def update(self, v, t_s):
        """Feed value v at meter second t_s."""
        p = self.period
        if self._t is None or t_s < self._t:
            self._restart(t_s)
        elif t_s - self._start >= 2 * p:
            # Whole periods went by on the held value.
            self.last = self._v
            self._restart(t_s)
            self._sum = self._v * (t_s - self._start)
            self._n = t_s - self._start
        else:
            end = self._start + p
            if t_s >= end:
                self._add(end)
                self.last = self._sum // self._n
                self._start = end
                self._sum = self._n = 0
            self._add(t_s)
        self._t = t_s
        self._v = v

    def _add(self, t_s):
        dt = t_s - self._t
        if dt > 0:
            self._sum += self._v * dt
            self._n += dt
            self._t = t_s

    def _restart(self, t_s):
        self._start = t_s - t_s % self.period
        self._sum = self._n = 0


def asymmetry(values):
    """Largest deviation of the values from their mean, in % of the mean (0 for a zero mean)."""
    total = 0
    for v in values:
        total += v
    if total <= 0:
        return 0
    n = len(values)
    dev = 0
    for v in values:
        d = abs(v * n - total)
        if d > dev:
            dev = d
    return dev * 100 // total


# cos and sin (x 1000) of the voltage angles of L1, L2, L3 (0, -120, 120 degrees).
_COS = (1000, -500, -500)
_SIN = (0, -866, 866)


def expected_neutral(i_ma, p_mw, q_mvar, s_mva):
    """Neutral current (mA) the phase currents add up to, from each phase's current and its
    angle to its voltage (P, Q over S), the voltages at 0, -120, 120 degrees; one phase: its
    current."""
    n = len(i_ma)
    if n == 1:
        return i_ma[0]
    re = im = 0.0
    for k in range(n):
        s = s_mva[k]
        if s <= 0:
            continue
        # The current phasor I * (cos - j sin)(phi) turned by the voltage angle.
        c = p_mw[k] / s
        d = q_mvar[k] / s
        re += i_ma[k] * (c * _COS[k] + d * _SIN[k]) / 1000
        im += i_ma[k] * (c * _SIN[k] - d * _COS[k]) / 1000
    return int((re * re + im * im) ** 0.5 + 0.5)


def neutral_fault(expected_ma, measured_ma, settings):
    """True when the measured neutral current and the expected one disagree by more than the
    neutral percentage of the larger (and the larger is above the floor)."""
    big = expected_ma if expected_ma > measured_ma else measured_ma
    if big < settings.neutral_min_ma:
        return False
    return abs(expected_ma - measured_ma) * 100 > settings.neutral_pct * big
