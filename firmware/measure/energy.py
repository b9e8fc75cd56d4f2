"""Four-quadrant energy registers in integer units with carried remainders, and LED pulses.

Input per step: integer per-phase powers (uW, uvar, uVA) and a duration in microseconds. The
metrology feeds one step per measurement window; a fast-forward path may feed analytic powers for
long time skips through the same `accumulate`. Registers are ints in mWh / mvarh / mVAh; the part
below 1 mWh stays in a remainder in uW*us (1 mWh = 3.6e12 uW*us), so nothing is ever rounded away.

Quadrants (IEC 62053-23 / DLMS): QI P>=0 Q>=0, QII P<0 Q>=0, QIII P<0 Q<0, QIV P>=0 Q<0.
R+ = QI + QII, R- = QIII + QIV; S+ / S- follow the sign of P.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

A_PLUS = const(0)
A_MINUS = const(1)
R_PLUS = const(2)
R_MINUS = const(3)
Q_I = const(4)
Q_II = const(5)
Q_III = const(6)
Q_IV = const(7)
S_PLUS = const(8)
S_MINUS = const(9)
NREG = const(10)
NAMES = ("A+", "A-", "R+", "R-", "QI", "QII", "QIII", "QIV", "S+", "S-")

# Three-phase registration modes (how phase powers make the totals).
MODE_VECTOR = const(0)      # sum the phase powers, then register the net by its sign
MODE_ARITHMETIC = const(1)  # register each phase into the totals by its own sign
MODE_ABSOLUTE = const(2)    # as arithmetic, but an exporting phase counts as importing

_UNIT = 3600000000000            # uW*us per mWh
_KWH = 3600000000000000000       # uW*us per kWh
# Pulses of one step that are flashed one by one; more than that (analytic jumps) are counted.
_FLASHED = const(64)


class Led:
    """Pulse generator for one metrological LED: one pulse every 1/imp_per_kwh kWh.

    `out` is anything with a `pulse(t_us)` method (or None). The remainder is kept in
    uW*us*imp_per_kwh, so any LED constant is exact.
    """

    def __init__(self, out, imp_per_kwh):
        if imp_per_kwh <= 0:
            raise ValueError("LED constant must be positive")
        self.out = out
        self.imp = imp_per_kwh
        self.acc = 0
        self.count = 0

    def add(self, e, t0_us, dt_us):
        """Add energy e (uW*us) spread evenly over [t0_us, t0_us + dt_us]; emit due pulses.

        Each pulse is stamped with the first whole microsecond at which the accumulated energy
        reaches the pulse quantum.
        """
        if e <= 0:
            return
        e *= self.imp
        acc = self.acc + e
        need = _KWH - self.acc
        n = acc // _KWH
        if n > _FLASHED:
            # A long analytic step: the pulses before the last _FLASHED are only counted (an
            # output that can count them, `skip(n)`, spares one call per pulse).
            out = self.out
            skip = getattr(out, "skip", None) if out is not None else None
            if skip is not None:
                k = n - _FLASHED
                skip(k)
                self.count += k
                acc -= k * _KWH
                need += k * _KWH
        while acc >= _KWH:
            self.count += 1
            if self.out is not None:
                self.out.pulse(t0_us - (-need * dt_us // e))
            acc -= _KWH
            need += _KWH
        self.acc = acc


class Energy:
    """Energy registers (totals and, for more than one phase, per phase) and the two LEDs.

    `noload_uva`: a phase whose apparent power is below this threshold registers nothing
    (creep / no-load protection; set it below the apparent power at the starting current).
    """

    def __init__(self, phases, mode=MODE_VECTOR, noload_uva=0, led_active=None,
                 led_reactive=None, led_imp_kwh=1000, led_imp_kvarh=1000):
        if mode not in (MODE_VECTOR, MODE_ARITHMETIC, MODE_ABSOLUTE):
            raise ValueError("unknown registration mode %r" % (mode,))
        self.phases = phases
        self.mode = mode
        self.noload_uva = noload_uva
        self.total = [0] * NREG
        self._rem = [0] * NREG
        self.phase = [[0] * NREG for _ in range(phases)] if phases > 1 else None
        self._prem = [[0] * NREG for _ in range(phases)] if phases > 1 else None
        self.led_active = Led(led_active, led_imp_kwh)
        self.led_reactive = Led(led_reactive, led_imp_kvarh)

    def accumulate(self, p_uw, q_uvar, s_uva, dt_us, t_end_us):
        """Register one step of constant per-phase powers lasting dt_us, ending at t_end_us.

        p_uw, q_uvar, s_uva: sequences with one int per phase. LED pulses inside the step are
        delivered with their exact instants.
        """
        if dt_us <= 0:
            return
        tot = self.total
        rem = self._rem
        vector = self.mode == MODE_VECTOR
        sp = sq = ss = 0
        ea = er = 0
        for n in range(self.phases):
            s = s_uva[n]
            if s < self.noload_uva:
                continue
            p = p_uw[n]
            q = q_uvar[n]
            if p < 0 and self.mode == MODE_ABSOLUTE:
                p = -p
                q = -q
            if self.phase is not None:
                _register(self.phase[n], self._prem[n], p * dt_us, q * dt_us, s * dt_us)
            if vector:
                sp += p
                sq += q
                ss += s
            else:
                _register(tot, rem, p * dt_us, q * dt_us, s * dt_us)
                ea += abs(p)
                er += abs(q)
        if vector and ss:
            _register(tot, rem, sp * dt_us, sq * dt_us, ss * dt_us)
            ea = abs(sp)
            er = abs(sq)
        t0 = t_end_us - dt_us
        self.led_active.add(ea * dt_us, t0, dt_us)
        self.led_reactive.add(er * dt_us, t0, dt_us)

    def exact(self, reg, phase=None):
        """Register `reg` (of the totals, or of `phase`) including its remainder, in uW*us."""
        if phase is None:
            return self.total[reg] * _UNIT + self._rem[reg]
        return self.phase[phase][reg] * _UNIT + self._prem[phase][reg]

    def restore(self, total, phase=None):
        """Load register values (e.g. from NV memory after a power cycle); remainders restart."""
        self.total[:] = total
        self._rem[:] = [0] * NREG
        if self.phase is not None and phase is not None:
            for n in range(self.phases):
                self.phase[n][:] = phase[n]
                self._prem[n][:] = [0] * NREG


def _add(regs, rem, n, e):
    r = rem[n] + e
    if r >= _UNIT:
        whole = r // _UNIT
        regs[n] += whole
        r -= whole * _UNIT
    rem[n] = r


def _register(regs, rem, ep, eq, es):
    """Register energies (uW*us) of one direction-signed contribution into its quadrants."""
    if ep >= 0:
        _add(regs, rem, A_PLUS, ep)
        _add(regs, rem, S_PLUS, es)
        imp = True
    else:
        _add(regs, rem, A_MINUS, -ep)
        _add(regs, rem, S_MINUS, es)
        imp = False
    if eq >= 0:
        _add(regs, rem, R_PLUS, eq)
        _add(regs, rem, Q_I if imp else Q_II, eq)
    else:
        _add(regs, rem, R_MINUS, -eq)
        _add(regs, rem, Q_IV if imp else Q_III, -eq)
