"""Waveform synthesis for the simulated front end: one-cycle tables and the block filler.

Every channel owns a table of TABLE_N points holding one fundamental cycle of its waveform (all
harmonics, gain and DC offset already applied) in fixed point. One 30-bit phase accumulator, common to
all channels because the line frequency is common, walks the tables; each sample is a linear
interpolation between two table points, plus optional uniform noise from a per-channel LCG, clipped
to the ADC range. Changing the frequency only changes the phase increment; tables are rebuilt only
when a channel's waveform changes.

`fill` is a viper kernel on 64-bit MicroPython and the pure-Python `fill_py` elsewhere; both give
bit-identical output (the viper kernel relies on 64-bit machine words: host only).
"""
import math
import sys
from array import array

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

TABLE_N = const(4096)            # points per cycle
STRIDE = const(4097)             # per-channel table length: one guard point for interpolation
PHASE_ONE = const(0x40000000)    # one cycle of the phase accumulator (2**30)
_PHASE_MASK = const(0x3FFFFFFF)
_IDX_SHIFT = const(18)           # phase >> 18 -> table index (12 bits)
_FRAC_MASK = const(0xFFFF)       # (phase >> 2) & mask -> 16-bit interpolation fraction
_FRAC_BITS = const(16)
_BIAS = const(0x20000000)        # table entries are stored + _BIAS so that they are never negative
_LIMIT = const(0x1FFFFFFF)       # |entry| bound before biasing (2x full scale in fixed point)
_LCG_A = const(29773421)         # LCG modulo 2**30: a = 5 mod 8 and c odd give the full period
_LCG_C = const(12345)

# Layout of the parameter array `par` shared by fill and fill_py.
P_PHASE = const(0)   # phase accumulator (updated by the fill)
P_INC = const(1)     # phase increment per frame
P_FRAMES = const(2)  # frames per block
P_NCH = const(3)     # channels per frame
P_SHIFT = const(4)   # fixed-point bits to drop: 16 interpolation bits + table fraction bits
P_HI = const(5)      # largest code; the smallest is -1 - P_HI
P_CH = const(8)      # per channel c: par[P_CH + 2c] noise amplitude (LSB), par[P_CH + 2c + 1] LCG state

_SINE = array("d", [math.sin(2.0 * math.pi * k / TABLE_N) for k in range(TABLE_N)])


def table_frac_bits(bits):
    """Fraction bits of the table's fixed point for an ADC of `bits`: 2x full scale uses 29 bits."""
    return 29 - bits


def phase_inc(f, fs):
    """Phase increment per frame for frequency `f` (Hz) at `fs` frames/s."""
    return int(f * PHASE_ONE / fs + 0.5)


def new_par(nch, block_frames, bits, seed):
    """Parameter array for `nch` channels; LCG states are seeded from `seed` (deterministic)."""
    par = array("i", [0] * (P_CH + 2 * nch))
    par[P_FRAMES] = block_frames
    par[P_NCH] = nch
    par[P_SHIFT] = _FRAC_BITS + table_frac_bits(bits)
    par[P_HI] = (1 << (bits - 1)) - 1
    for c in range(nch):
        par[P_CH + 2 * c + 1] = (seed * 7919 + c * 104729) & _PHASE_MASK
    return par


def synth(tab, ch, comps, gain, dc, bits):
    """Write channel `ch`'s table from `comps`, a list of (order, amplitude in codes, angle in rad).

    The waveform is sum(a * sin(order * theta + angle)) * gain + dc over one cycle theta = 0..2pi.
    """
    m = TABLE_N - 1
    q = TABLE_N // 4
    one = 1 << table_frac_bits(bits)
    cs = [(h, a * gain * one * math.cos(ang), a * gain * one * math.sin(ang)) for h, a, ang in comps]
    off = dc * one + 0.5
    s = _SINE
    base = ch * STRIDE
    for k in range(TABLE_N):
        v = off
        for h, c, si in cs:
            j = (h * k) & m
            v += c * s[j] + si * s[(j + q) & m]
        x = int(math.floor(v))
        if x > _LIMIT:
            x = _LIMIT
        elif x < -_LIMIT:
            x = -_LIMIT
        tab[base + k] = x + _BIAS
    tab[base + TABLE_N] = tab[base]


def fill_py(out, tab, par):
    """Fill `out` with one block of interleaved codes and advance the phase (reference version)."""
    phase = par[P_PHASE]
    inc = par[P_INC]
    n = par[P_FRAMES]
    nch = par[P_NCH]
    sh = par[P_SHIFT]
    hi = par[P_HI]
    lo = -1 - hi
    half = 1 << (sh - 1)
    phases = []
    for _ in range(n):
        phases.append(phase)
        phase = (phase + inc) & _PHASE_MASK
    par[P_PHASE] = phase
    for c in range(nch):
        base = c * STRIDE
        amp = par[P_CH + 2 * c]
        span = 2 * amp + 1
        rnd = par[P_CH + 2 * c + 1]
        k = c
        for ph in phases:
            i = base + (ph >> _IDX_SHIFT)
            a = tab[i]
            v = (((a - _BIAS) << _FRAC_BITS) + (tab[i + 1] - a) * ((ph >> 2) & _FRAC_MASK) + half) >> sh
            if amp:
                rnd = (rnd * _LCG_A + _LCG_C) & _PHASE_MASK
                v += (((rnd >> 14) * span) >> 16) - amp
            if v > hi:
                v = hi
            elif v < lo:
                v = lo
            out[k] = v
            k += nch
        par[P_CH + 2 * c + 1] = rnd


if sys.implementation.name == "micropython" and sys.maxsize > PHASE_ONE * PHASE_ONE:
    import micropython

    @micropython.viper
    def fill(out: ptr32, tab: ptr32, par: ptr32):
        phase = int(par[P_PHASE])
        inc = int(par[P_INC])
        n = int(par[P_FRAMES])
        nch = int(par[P_NCH])
        sh = int(par[P_SHIFT])
        hi = int(par[P_HI])
        lo = -1 - hi
        half = 1 << (sh - 1)
        k = 0
        for _ in range(n):
            i = phase >> _IDX_SHIFT
            fr = (phase >> 2) & _FRAC_MASK
            p = P_CH
            for _c in range(nch):
                a = int(tab[i])
                v = (((a - _BIAS) << _FRAC_BITS) + (int(tab[i + 1]) - a) * fr + half) >> sh
                amp = int(par[p])
                if amp:
                    rnd = (int(par[p + 1]) * _LCG_A + _LCG_C) & _PHASE_MASK
                    par[p + 1] = rnd
                    v += (((rnd >> 14) * (2 * amp + 1)) >> 16) - amp
                if v > hi:
                    v = hi
                elif v < lo:
                    v = lo
                out[k] = v
                k += 1
                i += STRIDE
                p += 2
            phase = (phase + inc) & _PHASE_MASK
        par[P_PHASE] = phase
else:
    fill = fill_py
