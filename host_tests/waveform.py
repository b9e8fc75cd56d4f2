"""Exact synthetic front-end signals for the measurement tests, with their analytic values.

A `Wave` is sum_h sqrt(2) * rms_h * sin(h * 2 pi f t + phase_h) + dc (physical units: mV for
voltages, mA for currents). `frames` samples waves into interleaved front-end codes exactly as a
front end with the given full scale would (rounded, clipped to the code range, optional Gaussian
noise in LSB from a seeded generator). The analytic functions give the values the metrology must
approach: rms without DC, total active power, and the reactive power of the quarter-period
shifted voltage (the definition used by measure/metrology.py).
"""
import math
import random
from array import array


class Wave:
    """A periodic signal: fundamental rms and phase (degrees), harmonics, DC offset.

    harmonics: (order, rms relative to the fundamental, phase in degrees) tuples.
    """

    def __init__(self, rms, phase_deg=0.0, harmonics=(), dc=0.0):
        self.parts = [(1, float(rms), math.radians(phase_deg))]
        self.parts += [(h, rms * r, math.radians(ph)) for h, r, ph in harmonics]
        self.dc = dc

    def at(self, x):
        """Instantaneous value at fundamental angle x (radians)."""
        v = self.dc
        for h, a, ph in self.parts:
            v += math.sqrt(2) * a * math.sin(h * x + ph)
        return v

    def rms(self):
        """AC rms value (the DC offset is what the meter removes)."""
        return math.sqrt(sum(a * a for _, a, _ in self.parts))

    def peak(self):
        """Largest |value| over a cycle (sampled finely), DC included."""
        return max(abs(self.at(2 * math.pi * n / 4096)) for n in range(4096))


def active(u, i):
    """Mean of u*i over whole cycles (harmonic orders present in both)."""
    ui = {h: (a, ph) for h, a, ph in i.parts}
    return sum(a * ui[h][0] * math.cos(ph - ui[h][1]) for h, a, ph in u.parts if h in ui)


def reactive(u, i):
    """Mean of u(t - T/4) * i(t): positive when the current lags (inductive load)."""
    ui = {h: (a, ph) for h, a, ph in i.parts}
    return sum(a * ui[h][0] * math.cos(ph - h * math.pi / 2 - ui[h][1])
               for h, a, ph in u.parts if h in ui)


def energy(u, i, f, t0, t1, shift=0.0):
    """Exact integral of u(t - shift / f) * i(t) over [t0, t1] seconds (AC parts only).

    shift=0.25 gives the reactive energy of the quarter-period definition.
    """
    w = 2 * math.pi * f
    e = 0.0
    for a, ua, pa in u.parts:
        pa -= 2 * math.pi * a * shift
        for b, ib, pb in i.parts:
            # 2 sin(x) sin(y) = cos(x - y) - cos(x + y)
            for c, ph, sign in ((a - b, pa - pb, 1.0), (a + b, pa + pb, -1.0)):
                if c == 0:
                    v = math.cos(ph) * (t1 - t0)
                else:
                    v = (math.sin(c * w * t1 + ph) - math.sin(c * w * t0 + ph)) / (c * w)
                e += sign * ua * ib * v
    return e


def frames(waves, peaks, f, fs, bits, n, start=0, noise_lsb=0.0, seed=1):
    """Interleaved codes of frames start..start+n-1 (frame j at t = j / fs).

    waves: one Wave per channel in frame order; peaks: physical value of code 2**(bits-1) per
    channel. Returns an array('i').
    """
    half = 1 << (bits - 1)
    rng = random.Random(seed)
    out = array("i", bytes(4 * n * len(waves)))
    scale = [half / pk for pk in peaks]
    w = 2 * math.pi * f / fs
    o = 0
    for j in range(start, start + n):
        x = w * j
        for c, wave in enumerate(waves):
            v = wave.at(x) * scale[c]
            if noise_lsb:
                v += rng.gauss(0.0, noise_lsb)
            code = int(math.floor(v + 0.5))
            out[o] = -half if code < -half else half - 1 if code >= half else code
            o += 1
    return out


def phase_set(phases, u_rms, i_rms, phi_deg, u_harm=(), i_harm=(), u_dc=0.0, i_dc=0.0,
              in_wave=None):
    """Channel waves of a balanced meter: U1 I1 [U2 I2 U3 I3] IN.

    phi_deg: angle by which each current lags its voltage. The neutral carries the vector sum
    of the phase currents' fundamentals unless in_wave is given.
    """
    waves = []
    for p in range(phases):
        shift = -120.0 * p
        waves.append(Wave(u_rms, shift, [(h, r, ph + h * shift) for h, r, ph in u_harm], u_dc))
        waves.append(Wave(i_rms, shift - phi_deg,
                          [(h, r, ph + h * (shift - phi_deg)) for h, r, ph in i_harm], i_dc))
    if in_wave is None:
        in_wave = Wave(i_rms if phases == 1 else 0.0, 180.0 - phi_deg)
    waves.append(in_wave)
    return waves


def feed(meter, codes, nch, fs, block=400, t0_us=0):
    """Feed interleaved codes to a Metrology in blocks shorter than a window; return a copy of
    every published window record (dicts of ints and lists)."""
    out = []
    n = len(codes) // nch
    for b in range(0, n, block):
        e = min(n, b + block)
        if meter.feed(codes[b * nch:e * nch], t0_us + b * 1000000 // fs):
            out.append({k: list(v) if isinstance(v, list) else v
                        for k, v in vars(meter.last).items()})
    return out


def run(meter, waves, peaks, f, bits, secs, noise_lsb=0.0, seed=7):
    """Sample `waves` for `secs` seconds into `meter` (a Metrology).

    Returns (window records, exact active and reactive energy in uW*s over the time the
    published windows cover, that time in seconds).
    """
    fs = meter.fs
    codes = frames(waves, peaks, f, fs, bits, int(secs * fs), noise_lsb=noise_lsb, seed=seed)
    recs = feed(meter, codes, len(peaks), fs)
    # A sample stands for the interval centred on it.
    t0 = (recs[0]["t_us"] - recs[0]["dt_us"]) / 1e6 - 0.5 / fs
    t1 = recs[-1]["t_us"] / 1e6 - 0.5 / fs
    pairs = [(waves[n], waves[n + 1]) for n in range(0, len(waves) - 1, 2)]
    ep = sum(energy(u, i, f, t0, t1) for u, i in pairs)
    eq = sum(energy(u, i, f, t0, t1, 0.25) for u, i in pairs)
    return recs, ep, eq, t1 - t0


def energy_errors(meter, ep, eq, waves, secs):
    """Registered active and reactive energy errors in % (reactive relative to S when |Q| is
    under 5 % of S, as for PF 1)."""
    from measure import energy as en
    e = meter.energy
    mp = (e.exact(en.A_PLUS) - e.exact(en.A_MINUS)) / 1e6
    mq = (e.exact(en.R_PLUS) - e.exact(en.R_MINUS)) / 1e6
    s = sum(waves[n].rms() * waves[n + 1].rms() for n in range(0, len(waves) - 1, 2)) * secs
    return (mp - ep) / ep * 100, (mq - eq) / (abs(eq) if abs(eq) > 0.05 * s else s) * 100
