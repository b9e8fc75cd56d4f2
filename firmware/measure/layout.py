"""State layout of the sampling kernel, shared by the viper kernel, its reference and the glue.

One `array('i')` per phase (and one for the neutral channel) holds the pass parameters, the
zero-crossing state and the window accumulators. Every accumulator is split in two words:
`lo` (kept in [0, 2**29) between chunks) and `hi` (the carries), value = hi * 2**29 + lo.
`measure/kernel.py` repeats these indices as private constants (viper needs them inlined);
the differential tests prove both agree.

The kernel treats every code as 24 bits (16-bit codes are a subset). It folds a code to
b = (code & 0xFFFFFF) ^ 0x800000 (code + 2**23 modulo 2**24, without an overflowing add), so
the signed code is x = h * 4096 + l with h = (b >> 12) - 2048 in [-2048, 2047] and
l = b & 4095. Products are summed as three partial sums (h*h, h*l + l*h, l*l), each term below
2**24 in magnitude, so 64 frames fit a 32-bit word (on top of a remainder below 2**29) before
the carry fold. Whatever the input words, every intermediate stays in int32.
"""
from array import array

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# Pass parameters (written by the glue).
CFG_STRIDE = const(0)   # channels per frame
CFG_CU = const(1)       # voltage channel index in a frame
CFG_CI = const(2)       # current channel index in a frame
CFG_RMASK = const(3)    # voltage history ring size - 1 (power of two)
CFG_K = const(4)        # quarter-period delay in frames for this window
CFG_DETECT = const(5)   # 1: this pass detects U zero crossings and closes the window
CFG_DCB = const(6)      # folded DC level of U from the previous window (crossing reference)
CFG_HYST = const(7)     # crossing hysteresis in codes (arm below -HYST, fire at >= 0)
CFG_MINF = const(8)     # a window closes at the first crossing at least MINF frames in
CFG_MAXF = const(9)     # ... or at MAXF frames without a crossing
CFG_MINC = const(10)    # crossings closer than MINC frames to the previous one are ignored

# Pass state (kernel-owned, reset by the glue at each window).
ST_W = const(11)        # ring write index
ST_ARMED = const(12)    # U went below -HYST since the last crossing
ST_WPOS = const(13)     # frames in the window so far
ST_COUNT = const(14)    # accepted positive-going crossings in the window
ST_FPOS = const(15)     # first crossing: frame index in the window, sample before, sample at
ST_FA = const(16)
ST_FB = const(17)
ST_LPOS = const(18)     # last crossing, same fields
ST_LA = const(19)
ST_LB = const(20)
ST_CLOSE = const(21)    # 0 open, 1 closed at a crossing, 2 closed at MAXF

CLOSE_OPEN = const(0)
CLOSE_CROSSING = const(1)
CLOSE_TIMEOUT = const(2)

# Accumulators: lo words at ACC + n, hi words at ACC + NACC + n.
A_SU = const(0)     # sum of folded U
A_SI = const(1)     # sum of folded I
A_UUH = const(2)    # U*U: h*h, h*l (counted once), l*l
A_UUM = const(3)
A_UUL = const(4)
A_IIH = const(5)    # I*I
A_IIM = const(6)
A_IIL = const(7)
A_P0H = const(8)    # U[n]*I[n]: h*h, h*l + l*h, l*l
A_P0M = const(9)
A_P0L = const(10)
A_QKH = const(11)   # U[n-k]*I[n]
A_QKM = const(12)
A_QKL = const(13)
A_Q1H = const(14)   # U[n-k-1]*I[n]
A_Q1M = const(15)
A_Q1L = const(16)
NACC = const(17)
ACC = const(22)
SIZE = const(56)    # ACC + 2 * NACC

CARRY_SHIFT = const(29)
CARRY_MASK = const(0x1FFFFFFF)
BIAS = const(0x800000)  # 2**23: folded code of 0
SPLIT = const(12)       # bits of the low part l


def new_state(stride, cu, ci, ring_size, detect=0):
    """A fresh pass state for the U channel `cu` and I channel `ci` of `stride`-channel frames."""
    if ring_size & (ring_size - 1):
        raise ValueError("ring size must be a power of two")
    st = array("i", bytes(4 * SIZE))
    st[CFG_STRIDE] = stride
    st[CFG_CU] = cu
    st[CFG_CI] = ci
    st[CFG_RMASK] = ring_size - 1
    st[CFG_DETECT] = detect
    st[CFG_DCB] = BIAS
    return st


def new_ring(ring_size):
    """Voltage history ring holding the folded code of 0 V."""
    return array("i", [BIAS] * ring_size)


def reset_window(st):
    """Clear the accumulators and crossing record for a new window (allocates nothing).

    A window closed at a crossing hands that crossing to the next window as its first one
    (at frame 0), so the frequency is measured over every cycle of the window.
    """
    carry = st[CFG_DETECT] and st[ST_CLOSE] == CLOSE_CROSSING
    for n in range(ACC, SIZE):
        st[n] = 0
    st[ST_WPOS] = 0
    st[ST_CLOSE] = CLOSE_OPEN
    if carry:
        st[ST_COUNT] = 1
        st[ST_FPOS] = st[ST_LPOS] = 0
        st[ST_FA] = st[ST_LA]
        st[ST_FB] = st[ST_LB]
    else:
        st[ST_COUNT] = st[ST_FPOS] = st[ST_LPOS] = 0
        st[ST_FA] = st[ST_LA] = st[ST_FB] = st[ST_LB] = 0


def total(st, n):
    """Exact value of accumulator `n` (a Python int, may exceed 30 bits)."""
    return (st[ACC + NACC + n] << CARRY_SHIFT) + st[ACC + n]


def sums(st, frames):
    """Exact window sums of the signed codes, as Python ints:
    (sum u, sum i, sum u*u, sum i*i, sum u*i, sum u[n-k]*i, sum u[n-k-1]*i)."""
    hi = ACC + NACC
    v = [(st[hi + n] << CARRY_SHIFT) + st[ACC + n] for n in range(NACC)]
    h = 2 * SPLIT
    return (v[A_SU] - frames * BIAS, v[A_SI] - frames * BIAS,
            (v[A_UUH] << h) + (v[A_UUM] << SPLIT + 1) + v[A_UUL],
            (v[A_IIH] << h) + (v[A_IIM] << SPLIT + 1) + v[A_IIL],
            (v[A_P0H] << h) + (v[A_P0M] << SPLIT) + v[A_P0L],
            (v[A_QKH] << h) + (v[A_QKM] << SPLIT) + v[A_QKL],
            (v[A_Q1H] << h) + (v[A_Q1M] << SPLIT) + v[A_Q1L])
