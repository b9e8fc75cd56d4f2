"""Simulated metering front end: per-phase load settings -> interleaved ADC sample blocks.

Waveforms per phase p (theta = 2*pi*f*t, a = u_angle, phi = current lag behind the voltage):
  u(t) = sqrt2*U * (sin(theta + a)       + sum_h pct/100 * sin(h*(theta + a) + deg))
  i(t) = sqrt2*I * (sin(theta + a - phi) + sum_h pct/100 * sin(h*(theta + a - phi) + deg))
so the fundamental gives P = U*I*cos(phi) and Q = U*I*sin(phi) (positive for an inductive load).
The neutral channel carries -(i1 + i2 + i3). Each channel then gets its own gain (a sensor or
tamper factor: e.g. in_gain=0 for a missing neutral), DC offset and uniform noise (both in LSB) and
is clipped to the ADC range. The load current flows only while the disconnector contact is
closed (`supply(closed)`, called by the host board's relay). Codes: the physical peak
`u_peak_mv` / `i_peak_ma` maps to 2**(bits-1).

Settings (configure / settings), per phase:
  u, i        rms volts / amperes (0..1000)
  phi         degrees the current lags the voltage (-360..360; 180 = export)
  u_angle     voltage angle in degrees (defaults 0, -120, 120)
  u_harmonics, i_harmonics   {"order": [percent of fundamental, degrees], ...}, orders 2..15,
              percent 0..100 (replaces the previous set; {} removes all)
  u_gain, i_gain (0..10), u_dc, i_dc (LSB), u_noise, i_noise (integer LSB, peak of a uniform
              distribution): per channel
  gain, dc, noise   shorthand for both channels of the phase (and the neutral when phase is None)
common: f (Hz, 10..100), in_gain, in_dc, in_noise (neutral channel).
"""
import asyncio
import math
from array import array

import sim_wave

try:
    from time import monotonic_ns as _wall_ns
except ImportError:
    from time import time_ns as _wall_ns  # MicroPython unix port (no monotonic clock)

try:
    _sleep_ms = asyncio.sleep_ms
except AttributeError:
    def _sleep_ms(ms):
        return asyncio.sleep(ms / 1000)

CHANNELS = {
    "me382": ("U1", "I1", "IN"),
    "mt382": ("U1", "I1", "U2", "I2", "U3", "I3", "IN"),
}
_U_ANGLES = (0.0, -120.0, 120.0)
_MAX_ORDER = 15
_RAD = math.pi / 180.0
_SQRT2 = math.sqrt(2.0)

# (low, high, unit) of the numeric per-phase settings
_PHASE_RANGES = {
    "u": (0.0, 1000.0, "V"),
    "i": (0.0, 1000.0, "A"),
    "phi": (-360.0, 360.0, "deg"),
    "u_angle": (-360.0, 360.0, "deg"),
}
_HARM_KEYS = ("u_harmonics", "i_harmonics")
_CHAN_PREFIX = ("u_", "i_", "in_", "")
_CHAN_ATTRS = ("gain", "dc", "noise")


def _number(name, v, lo, hi, unit):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise ValueError("%s must be a number in %s..%s %s, got %r" % (name, lo, hi, unit, v))
    return float(v)


def _integer(name, v, lo, hi):
    """An integer, or a float with an integral value (JSON clients send 5.0)."""
    if isinstance(v, float) and math.isfinite(v) and v == int(v):
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError("%s must be an integer in %d..%d, got %r" % (name, lo, hi, v))
    return v


def _harmonics(name, v):
    """{order: [percent, degrees]} (order an int or a decimal string) -> sorted [[h, pct, deg]]."""
    if not isinstance(v, dict):
        raise ValueError("%s must be an object {order: [percent, degrees]}, got %r" % (name, v))
    out = []
    for order, e in v.items():
        h = order
        if isinstance(order, str):
            try:
                h = int(order)
            except ValueError:
                pass  # left a str: refused below
        h = _integer(name + " order", h, 2, _MAX_ORDER)
        if not isinstance(e, (list, tuple)) or len(e) != 2:
            raise ValueError("%s order %d needs [percent, degrees], got %r" % (name, h, e))
        out.append([h, _number(name + " percent", e[0], 0, 100, "%"),
                    _number(name + " degrees", e[1], -360, 360, "deg")])
    out.sort()
    for a, b in zip(out, out[1:]):
        if a[0] == b[0]:
            raise ValueError("%s gives order %d twice" % (name, a[0]))
    return out


class Pacer:
    """Which block a DMA ring would hand out at a given wall time (pure: wall time is an input).

    Block k (from 0) is complete when `(k + 1) * block_frames` frames have been sampled at
    `fs * speed` frames per wall second. A reader more than `ring` blocks behind lost the oldest.
    """

    def __init__(self, fs, block_frames, ring, speed):
        self._rate = fs * speed
        self._bf = block_frames
        self._ring = ring
        self.done = 0  # blocks handed out (or lost) so far

    def step(self, wall_us):
        """-> (wait_us, lost): wait_us > 0 if the next block is not complete yet; otherwise it is
        ready and `lost` blocks were overwritten before it (the reader must skip them)."""
        ready = int(wall_us * self._rate / 1000000) // self._bf
        if ready <= self.done:
            due_us = (self.done + 1) * self._bf * 1000000 / self._rate
            return max(1, int(due_us - wall_us + 0.999)), 0
        lost = max(0, ready - self.done - self._ring)
        self.done += lost + 1
        return 0, lost


class SimAfe:
    """The front end of `model` ("me382" or "mt382"), counting sampled frames on `clock`."""

    def __init__(self, model, clock, fs=4000, bits=24, block_frames=400, u_peak_mv=500000,
                 i_peak_ma=200000, realtime=True, speed=1.0, ring=4, seed=1):
        if model not in CHANNELS:
            raise ValueError("model must be one of %s, got %r" % (sorted(CHANNELS), model))
        if bits not in (16, 24):
            raise ValueError("bits must be 16 or 24, got %r" % (bits,))
        if not isinstance(fs, int) or not 1000 <= fs <= 64000:
            raise ValueError("fs must be an integer in 1000..64000 frames/s, got %r" % (fs,))
        if not isinstance(block_frames, int) or not 1 <= block_frames <= fs:
            raise ValueError("block_frames must be an integer in 1..fs, got %r" % (block_frames,))
        if not isinstance(ring, int) or ring < 1:
            raise ValueError("ring must be an integer >= 1, got %r" % (ring,))
        for name, v in (("u_peak_mv", u_peak_mv), ("i_peak_ma", i_peak_ma)):
            if not isinstance(v, int) or v <= 0:
                raise ValueError("%s must be a positive integer, got %r" % (name, v))
        self.channels = CHANNELS[model]
        self.fs = fs
        self.bits = bits
        self.block_frames = block_frames
        self.u_peak_mv = u_peak_mv
        self.i_peak_ma = i_peak_ma
        self.overruns = 0
        self._clock = clock
        self._ring = ring
        self._nph = (len(self.channels) - 1) // 2
        nch = len(self.channels)
        self._buf = array("i", bytes(4 * nch * block_frames))  # no list of zeros on the heap
        self._tab = array("i", bytes(4 * nch * sim_wave.STRIDE))
        self._par = sim_wave.new_par(nch, block_frames, bits, seed)
        self._built = [None] * nch  # inputs each channel's table was last built from
        self._f = 50.0
        self._phases = []
        for p in range(self._nph):
            self._phases.append({"u": 230.0, "i": 0.0, "phi": 0.0, "u_angle": _U_ANGLES[p],
                                 "u_harmonics": [], "i_harmonics": []})
        self._chan = [{"gain": 1.0, "dc": 0.0, "noise": 0} for _ in range(nch)]
        self.supplied = True    # the disconnector relay's main contact: open, no load current
        self.pace(realtime, speed)
        self._update()

    # ---- settings ---------------------------------------------------------------------------

    def configure(self, phase=None, **kw):
        """Change settings of `phase` (1..phases) or of every phase (None); see the module doc.
        Common settings (f, in_*) apply whatever `phase` is.

        All values are checked before any is applied: a ValueError leaves the settings unchanged.
        """
        if phase is None:
            targets = range(self._nph)
        elif isinstance(phase, int) and not isinstance(phase, bool) and 1 <= phase <= self._nph:
            targets = (phase - 1,)
        else:
            raise ValueError("phase must be None or 1..%d, got %r" % (self._nph, phase))
        full = 1 << (self.bits - 1)
        staged = []  # (dict, key, value)
        f = self._f
        for key, v in kw.items():
            if key == "f":
                f = _number(key, v, 10, 100, "Hz")
                continue
            if key in _PHASE_RANGES:
                lo, hi, unit = _PHASE_RANGES[key]
                v = _number(key, v, lo, hi, unit)
            elif key in _HARM_KEYS:
                v = _harmonics(key, v)
            else:
                chans, attr = self._chan_key(key, targets, phase is None)
                if attr == "gain":
                    v = _number(key, v, 0, 10, "")
                elif attr == "dc":
                    v = _number(key, v, -full, full, "LSB")
                else:
                    v = _integer(key + " (LSB)", v, 0, full)
                for c in chans:
                    staged.append((self._chan[c], attr, v))
                continue
            for p in targets:
                staged.append((self._phases[p], key, v))
        self._check_nyquist(f, staged)
        self._f = f
        for d, key, v in staged:
            d[key] = v
        self._update()

    def supply(self, closed):
        """The disconnector contact moved: while it is open the load draws no current."""
        self.supplied = bool(closed)
        self._update()

    def _chan_key(self, key, targets, neutral):
        """Channel indices and attribute named by a key such as "i_gain", "in_noise" or "gain"."""
        for prefix in _CHAN_PREFIX:
            attr = key[len(prefix):]
            if key.startswith(prefix) and attr in _CHAN_ATTRS:
                if prefix == "in_":
                    return (2 * self._nph,), attr
                if prefix:
                    return [2 * p + (prefix == "i_") for p in targets], attr
                chans = [2 * p + k for p in targets for k in (0, 1)]
                if neutral:
                    chans.append(2 * self._nph)
                return chans, attr
        raise ValueError("unknown front-end setting %r" % (key,))

    def _check_nyquist(self, f, staged):
        harm = {}
        for p, d in enumerate(self._phases):
            for key in _HARM_KEYS:
                harm[(p, key)] = d[key]
        for d, key, v in staged:
            if key in _HARM_KEYS:
                harm[(self._phases.index(d), key)] = v
        for lst in harm.values():
            for h, pct, _ in lst:
                if pct and 2 * h * f >= self.fs:
                    raise ValueError("harmonic %d of %s Hz is above the Nyquist frequency %d Hz"
                                     % (h, f, self.fs // 2))

    def settings(self):
        """All settings as a JSON-friendly dict: {"f", "in_gain", "in_dc", "in_noise", "phases": [...]}.

        Each phase entry can be passed back as `configure(phase=n, **entry)`.
        """
        phases = []
        for p, d in enumerate(self._phases):
            e = dict(d)
            for key in _HARM_KEYS:
                e[key] = dict((str(h), [pct, deg]) for h, pct, deg in d[key])
            for prefix, c in (("u_", 2 * p), ("i_", 2 * p + 1)):
                for attr in _CHAN_ATTRS:
                    e[prefix + attr] = self._chan[c][attr]
            phases.append(e)
        out = {"f": self._f, "phases": phases}
        for attr in _CHAN_ATTRS:
            out["in_" + attr] = self._chan[2 * self._nph][attr]
        return out

    def ideal(self):
        """Analytic values per phase of the current settings, as integers: a list of dicts with
        u (mV rms), i (mA rms), p (uW), q (uvar, sum over harmonics), q1 (uvar, fundamental),
        s (uVA = u_rms * i_rms, harmonics included) and f (0.01 Hz).

        These are the physical quantities an ideal meter reads: front-end gain, offset, noise and
        clipping are not included.
        """
        out = []
        for d in self._phases:
            u, i, phi = d["u"], d["i"] if self.supplied else 0.0, d["phi"] * _RAD
            uh = dict((h, (pct / 100.0, deg * _RAD)) for h, pct, deg in d["u_harmonics"])
            ih = dict((h, (pct / 100.0, deg * _RAD)) for h, pct, deg in d["i_harmonics"])
            p = u * i * math.cos(phi)
            q1 = q = u * i * math.sin(phi)
            for h in uh:
                if h in ih:
                    ang = h * phi + uh[h][1] - ih[h][1]
                    m = u * uh[h][0] * i * ih[h][0]
                    p += m * math.cos(ang)
                    q += m * math.sin(ang)
            urms = u * math.sqrt(1.0 + sum(x[0] * x[0] for x in uh.values()))
            irms = i * math.sqrt(1.0 + sum(x[0] * x[0] for x in ih.values()))
            out.append({"u": round(urms * 1e3), "i": round(irms * 1e3), "p": round(p * 1e6),
                        "q": round(q * 1e6), "q1": round(q1 * 1e6), "s": round(urms * irms * 1e6),
                        "f": round(self._f * 100)})
        return out

    # ---- waveform tables ----------------------------------------------------------------------

    def _components(self):
        """Per channel: list of (order, amplitude in codes before gain, angle in rad)."""
        full = 1 << (self.bits - 1)
        ku = _SQRT2 * 1000.0 * full / self.u_peak_mv
        ki = _SQRT2 * 1000.0 * full / self.i_peak_ma
        comps = []
        neutral = {}  # order -> complex sum of the phase currents (codes)
        for d in self._phases:
            a = d["u_angle"] * _RAD
            comps.append(_waveform(ku * d["u"], a, d["u_harmonics"]))
            ic = _waveform(ki * d["i"] if self.supplied else 0.0, a - d["phi"] * _RAD,
                           d["i_harmonics"])
            comps.append(ic)
            for h, amp, ang in ic:
                neutral[h] = neutral.get(h, 0j) - amp * complex(math.cos(ang), math.sin(ang))
        comps.append([(h, abs(z), math.atan2(z.imag, z.real)) for h, z in sorted(neutral.items())
                      if abs(z) > 1e-9])
        return comps

    def _update(self):
        """Rebuild the tables whose inputs changed; refresh frequency and noise parameters."""
        for c, comps in enumerate(self._components()):
            ch = self._chan[c]
            key = (comps, ch["gain"], ch["dc"])
            if key != self._built[c]:
                sim_wave.synth(self._tab, c, comps, ch["gain"], ch["dc"], self.bits)
                self._built[c] = key
            self._par[sim_wave.P_CH + 2 * c] = ch["noise"]
        self._par[sim_wave.P_INC] = sim_wave.phase_inc(self._f, self.fs)

    # ---- sample blocks ------------------------------------------------------------------------

    def pace(self, realtime, speed=1.0):
        """Select real-time pacing (at `speed` times wall time) or fast-forward (no waiting)."""
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0 < speed <= 1e6:
            raise ValueError("speed must be a number in (0, 1e6], got %r" % (speed,))
        self.realtime = bool(realtime)
        self.speed = speed
        self._pacer = None  # anchored to the wall clock by the next read
        self._t0 = 0

    async def read(self):
        """The next block: array('i') of block_frames * len(channels) interleaved codes, valid
        until the next call. Real time: waits until the block is due; fast-forward: yields once."""
        if self.realtime:
            lost = await self._wait()
            if lost:
                self.overruns += lost
                self._skip(lost * self.block_frames)
        else:
            await _sleep_ms(0)
        sim_wave.fill(self._buf, self._tab, self._par)
        self._clock.count(self.block_frames)
        return self._buf

    async def _wait(self):
        """Sleep until the next block is due; -> blocks lost before it. Yields at least once."""
        if self._pacer is None:
            self._pacer = Pacer(self.fs, self.block_frames, self._ring, self.speed)
            self._t0 = _wall_ns()
        while True:
            wait_us, lost = self._pacer.step((_wall_ns() - self._t0) // 1000)
            await _sleep_ms((wait_us + 999) // 1000)
            if not wait_us:
                return lost

    def _skip(self, frames):
        """Frames sampled but never read (a lapped ring): the signal and the clock move on."""
        par = self._par
        par[sim_wave.P_PHASE] = (par[sim_wave.P_PHASE] + frames * par[sim_wave.P_INC]) % sim_wave.PHASE_ONE
        self._clock.count(frames)


def _waveform(peak, angle, harm):
    """Components of a fundamental of `peak` codes at `angle` plus its harmonics."""
    comps = [(1, peak, angle)] if peak else []
    for h, pct, deg in harm:
        if pct and peak:
            comps.append((h, peak * pct / 100.0, h * angle + deg * _RAD))
    return comps
