"""Metrology: windows of whole mains cycles -> per-phase U, I, P, Q, S, PF, f, I neutral, energy.

`Metrology.feed(block, t_us)` runs the sampling kernel over an interleaved block of front-end
codes. A window closes at the first positive-going U1 zero crossing at least 195 ms after it
opened (10 cycles at 50 Hz, 12 at 60 Hz) or after 250 ms without one. At each close the exact
integer sums are turned into live values (the `last` WindowRecord) and the window's powers are
registered by `energy` for the window's duration.

Phase sequence (three phases): every _SEQ_EVERY windows one window also runs the phase pass with
U1 as its voltage and U2 as its current channel. Its quarter-period sum U1[n-k] * U2[n] is
-sin(a) / 2 of the two amplitudes for U2 at angle a to U1: positive when U2 lags U1 (a = -120
deg, sequence L1-L2-L3), negative when it leads (reversed). `last.sequence` keeps the answer
until the next check: 1 L1-L2-L3, -1 reversed, 0 unknown (no check yet, or |sin a| < 1/2: a
missing voltage, phases almost in line).
"""
import math

from measure import layout
from measure.calibration import Calibration
from measure.energy import Energy

_MIN_WINDOW_MS = 195
_MAX_WINDOW_MS = 250
_F_MIN = 40             # Hz: lowest frequency the quarter-period delay line covers
_F_MAX = 70
_FX = 30                # fixed-point bits of the tap weights
_FX_ONE = 1 << _FX
_PI = math.pi
_SEQ_EVERY = 25         # windows between two phase sequence checks (~5 s at 50 Hz)


class WindowRecord:
    """Results of the last closed window, updated in place at every close.

    Integers: t_us (end instant, meter us), dt_us, frames, closed_by (1 crossing, 2 timeout),
    seq (windows so far), f_chz (0.01 Hz, 0 when U1 gave no two accepted crossings), sequence
    (phase sequence: 1 L1-L2-L3, -1 reversed, 0 unknown or single phase); per phase
    lists u_mv, i_ma, p_mw, q_mvar, s_mva, pf (1/1000, signed by the direction of P) and the
    energy inputs p_uw, q_uvar, s_uva; in_ma (neutral current).
    """

    def __init__(self, phases):
        self.t_us = self.dt_us = self.frames = self.closed_by = self.seq = self.f_chz = 0
        self.in_ma = 0
        self.sequence = 0
        self.u_mv = [0] * phases
        self.i_ma = [0] * phases
        self.p_mw = [0] * phases
        self.q_mvar = [0] * phases
        self.s_mva = [0] * phases
        self.pf = [1000] * phases
        self.p_uw = [0] * phases
        self.q_uvar = [0] * phases
        self.s_uva = [0] * phases


class Metrology:
    """Measurement of one meter: feed it front-end blocks, read `last` and `energy`.

    rating: measure.rating.Rating; fs: frames/s; bits: 16 or 24; u_peak_mv / i_peak_ma: the
    physical peak value of code 2**(bits-1); cal: Calibration (None: defaults).
    led_active / led_reactive: objects with pulse(t_us). kernel: module with phase_pass and
    rms_pass (default measure.kernel: viper on MicroPython, the reference on CPython).
    """

    def __init__(self, rating, fs, bits, u_peak_mv, i_peak_ma, cal=None, led_active=None,
                 led_reactive=None, kernel=None):
        if kernel is None:
            from measure import kernel
        self.rating = rating
        self.fs = fs
        self.bits = bits
        self.u_peak_mv = u_peak_mv
        self.i_peak_ma = i_peak_ma
        if bits not in (16, 24):
            raise ValueError("bits must be 16 or 24")
        self._k = kernel
        n = rating.phases
        self.phases = n
        self._stride = len(rating.channels)
        ring = 4
        while ring < fs * 100 // (360 * _F_MIN) + 3:
            ring *= 2
        self._st = [layout.new_state(self._stride, 2 * p, 2 * p + 1, ring, 1 if p == 0 else 0)
                    for p in range(n)]
        self._rings = [layout.new_ring(ring) for _ in range(n)]
        self._stn = layout.new_state(self._stride, 0, self._stride - 1, ring)
        # Phase sequence pass: U1 as the voltage, U2 as the current channel.
        self._seq_st = layout.new_state(self._stride, 0, 2, ring) if n == 3 else None
        self._seq_ring = layout.new_ring(ring) if n == 3 else None
        self._seq_on = False        # the open window runs the sequence pass
        self._seq_wait = 0          # windows to close before the next check
        st0 = self._st[0]
        st0[layout.CFG_HYST] = (1 << (bits - 1)) >> 6
        st0[layout.CFG_MAXF] = fs * _MAX_WINDOW_MS // 1000
        st0[layout.CFG_MINC] = fs // (_F_MAX + 5)
        self._minf = fs * _MIN_WINDOW_MS // 1000
        self._ring = ring
        self.energy = Energy(n, rating.mode, rating.noload_uva, led_active, led_reactive,
                             rating.led_imp_kwh, rating.led_imp_kvarh)
        self.last = WindowRecord(n)
        self._f = float(rating.fn_hz)   # frequency (Hz) the next window's delay is set for
        self._t_start = 0               # meter us at which the open window started
        self._t_next = None             # expected start instant of the next block
        self._settle = True             # the open window only syncs to U1 (not published)
        self.set_calibration(cal if cal is not None else Calibration(n))

    def set_calibration(self, cal):
        """Use new calibration (measure.calibration.Calibration) from the next window on."""
        if cal.phases != self.phases:
            raise ValueError("calibration is for %d phases" % cal.phases)
        self.cal = cal
        fsq = 1 << (2 * self.bits - 2)
        self._den_rms = fsq * 1000000           # codes^2 -> (uV or uA)^2 with ppm gains
        self._den_p = fsq * 1000000000000       # codes^2 -> uW with ppm gains
        self._ku = [(self.u_peak_mv * c.u_gain) ** 2 for c in cal.phase]
        self._ki = [(self.i_peak_ma * c.i_gain) ** 2 for c in cal.phase]
        self._kp = [self.u_peak_mv * c.u_gain * self.i_peak_ma * c.i_gain for c in cal.phase]
        self._kn = (self.i_peak_ma * cal.in_gain) ** 2
        self._delta = [c.phase_mdeg * _PI / 180000 for c in cal.phase]
        self._set_delay()

    def feed(self, block, t_us):
        """Process a whole block (interleaved codes) starting at meter time t_us.

        Returns the number of windows closed and published. A block that does not follow
        the previous one in time (lost blocks) drops the open window and starts over.
        """
        nframes = len(block) // self._stride
        fs = self.fs
        if self._t_next is None or abs(t_us - self._t_next) * fs > 1000000:
            self._restart(t_us)
        self._t_next = t_us + nframes * 1000000 // fs
        k = self._k
        st = self._st
        rings = self._rings
        st0 = st[0]
        closed = 0
        start = 0
        while start < nframes:
            end = k.phase_pass(block, st0, rings[0], start, nframes)
            for p in range(1, self.phases):
                k.phase_pass(block, st[p], rings[p], start, end)
            k.rms_pass(block, self._stn, start, end)
            if self._seq_on:
                k.phase_pass(block, self._seq_st, self._seq_ring, start, end)
            if st0[layout.ST_CLOSE]:
                closed += self._close(t_us + end * 1000000 // fs)
            start = end
        return closed

    def _restart(self, t_us):
        # The first window after a (re)start ends at the first U1 crossing once the delay
        # line is full and two cycles have passed: it aligns the windows to the cycles and
        # measures the frequency for the delay line; it is not published.
        self._t_start = t_us
        self._settle = True
        for st in self._st:
            st[layout.ST_CLOSE] = layout.CLOSE_OPEN
            st[layout.ST_ARMED] = 0
            layout.reset_window(st)
        layout.reset_window(self._stn)
        self._st[0][layout.CFG_MINF] = self._ring + 2 * self.fs // _F_MIN
        if self._seq_st is not None:
            # The settle window fills the sequence pass's delay line, the first one checks.
            layout.reset_window(self._seq_st)
            self._seq_on = True
            self._seq_wait = 0

    def _set_delay(self):
        # Quarter period (+ phase correction) in whole frames at the expected frequency.
        w = 2 * _PI * self._f / self.fs
        for p in range(self.phases):
            self._st[p][layout.CFG_K] = int((_PI / 2 + self._delta[p]) / w)
        if self._seq_st is not None:
            self._seq_st[layout.CFG_K] = int(_PI / 2 / w)

    def _close(self, t_end):
        """Finish the window that ended at t_end; return 1 if it was published."""
        st0 = self._st[0]
        n = st0[layout.ST_WPOS]
        rec = self.last
        f_chz, f = self._frequency()
        if not _F_MIN <= f <= _F_MAX:
            f = 0.0
        published = 0
        if self._settle:
            self._settle = False
            st0[layout.CFG_MINF] = self._minf
        else:
            published = 1
            rec.frames = n
            rec.closed_by = st0[layout.ST_CLOSE]
            rec.seq += 1
            rec.t_us = t_end
            rec.dt_us = t_end - self._t_start
            rec.f_chz = f_chz
            w = 2 * _PI * (f if f else self._f) / self.fs
            sw = math.sin(w)
            nn = n * n
            for p in range(self.phases):
                self._phase(p, n, nn, w, sw, rec)
            _, si, _, ii, _, _, _ = layout.sums(self._stn, n)
            vn = n * ii - si * si
            rec.in_ma = (_isqrt(max(0, vn * self._kn // (nn * self._den_rms)
                                    - self.cal.in_off_ua ** 2)) + 500) // 1000
            self.energy.accumulate(rec.p_uw, rec.q_uvar, rec.s_uva, rec.dt_us, t_end)
        self._t_start = t_end
        # Next window: crossing reference at this window's U1 mean, delay for its frequency.
        st0[layout.CFG_DCB] = (layout.total(st0, layout.A_SU) + n // 2) // n
        if f:
            self._f = f
            self._set_delay()
        for st in self._st:
            layout.reset_window(st)
        layout.reset_window(self._stn)
        if self._seq_st is not None:
            if published and self._seq_on:
                rec.sequence = self._sequence(n)
                self._seq_wait = _SEQ_EVERY
            elif self._seq_wait:
                self._seq_wait -= 1
            self._seq_on = not self._seq_wait
            layout.reset_window(self._seq_st)
        return published

    def _sequence(self, n):
        # Sign of the quarter-period cross sum U1[n-k] * U2[n] (DC removed), trusted when
        # |sin a| >= 1/2, i.e. 4 q^2 > var(U1) var(U2) (both variances n^2 times).
        su, s2, uu, u2u2, _, uk2, _ = layout.sums(self._seq_st, n)
        q = n * uk2 - su * s2
        if 4 * q * q <= (n * uu - su * su) * (n * u2u2 - s2 * s2):
            return 0
        return 1 if q > 0 else -1

    def _frequency(self):
        # Interpolated crossing instants t = pos - b / (b - a) (frames); f over (count - 1)
        # cycles. Returns (f in 0.01 Hz, f in Hz), zeros without two accepted crossings.
        st0 = self._st[0]
        c = st0[layout.ST_COUNT]
        if c < 2:
            return 0, 0.0
        fa = st0[layout.ST_FA]
        fb = st0[layout.ST_FB]
        la = st0[layout.ST_LA]
        lb = st0[layout.ST_LB]
        df = fb - fa
        dl = lb - la
        den = (st0[layout.ST_LPOS] * dl - lb) * df - (st0[layout.ST_FPOS] * df - fb) * dl
        num = self.fs * (c - 1) * dl * df
        return _rdiv(100 * num, den), num / den

    def _phase(self, p, n, nn, w, sw, rec):
        st = self._st[p]
        cal = self.cal.phase[p]
        su, si, uu, ii, ui, uki, uk1i = layout.sums(st, n)
        dc = su * si
        vu = n * uu - su * su
        vi = n * ii - si * si
        p0 = n * ui - dc
        qk = n * uki - dc
        q1 = n * uk1i - dc
        d = self._delta[p]
        k = st[layout.CFG_K]
        qw = _shifted(qk, q1, _PI / 2 + d, k, w, sw)
        if d:
            # Phase correction: U delayed by d is cos(d) U + sin(d) U90 (exact for the
            # fundamental), so P is rotated with the quarter-period sum.
            q90 = _shifted(qk, q1, _PI / 2, k, w, sw)
            pw = (_fx(math.cos(d)) * p0 + _fx(math.sin(d)) * q90) >> _FX
        else:
            pw = p0
        den = nn * self._den_p
        p_uw = _rdiv(pw * self._kp[p], den) - cal.p_off_uw
        q_uvar = _rdiv(qw * self._kp[p], den) - cal.q_off_uvar
        rden = nn * self._den_rms
        u_uv = _isqrt(max(0, vu * self._ku[p] // rden - cal.u_off_uv ** 2))
        i_ua = _isqrt(max(0, vi * self._ki[p] // rden - cal.i_off_ua ** 2))
        s_uva = (u_uv * i_ua + 500000) // 1000000
        rec.u_mv[p] = (u_uv + 500) // 1000
        rec.i_ma[p] = (i_ua + 500) // 1000
        rec.p_uw[p] = p_uw
        rec.q_uvar[p] = q_uvar
        rec.s_uva[p] = s_uva
        rec.p_mw[p] = _rdiv(p_uw, 1000)
        rec.q_mvar[p] = _rdiv(q_uvar, 1000)
        rec.s_mva[p] = _rdiv(s_uva, 1000)
        rec.pf[p] = max(-1000, min(1000, _rdiv(1000 * p_uw, s_uva))) if s_uva else 1000


def _shifted(sk, sk1, theta, k, w, sw):
    """Sum of U delayed by theta (radians) times I, from the taps k and k+1 (w: radians/frame).

    a U[n-k] + b U[n-k-1] equals U delayed by theta for the fundamental when
    a = sin(w - phi) / sin(w), b = sin(phi) / sin(w), phi = theta - k w.
    """
    phi = theta - k * w
    return (_fx(math.sin(w - phi) / sw) * sk + _fx(math.sin(phi) / sw) * sk1) >> _FX


def _fx(x):
    return int(x * _FX_ONE + (0.5 if x >= 0 else -0.5))


def _rdiv(a, b):
    # a / b rounded to nearest (halves up), b > 0.
    return (2 * a + b) // (2 * b)


def _isqrt(n):
    """Floor square root of a non-negative int of any size."""
    if n <= 0:
        return 0
    x = int(math.sqrt(n)) + 1
    x = (x + n // x) >> 1   # from any start, one Newton step lands at or above the root
    while True:
        y = (x + n // x) >> 1
        if y >= x:
            return x
        x = y
