"""Pure-Python reference of the sampling kernel (same state, same results as measure/kernel.py).

Every statement of `phase_pass` and `rms_pass` mirrors the viper code operation by operation, so
the reference can also run in a checked mode: give it lists of `Checked` ints (`checked()`) and
every intermediate that the viper code holds in a machine word is verified to fit int32.
The literals (fold 0xFFFFFF ^ 0x800000, split 12 / 2048 / 4095, chunk 64) are explained in
measure/layout.py; they are written out as the viper code needs them.
"""
from measure.layout import (
    ACC, A_IIH, A_IIL, A_IIM, A_P0H, A_P0L, A_P0M, A_Q1H, A_Q1L, A_Q1M, A_QKH, A_QKL, A_QKM, A_SI,
    A_SU, A_UUH, A_UUL, A_UUM, CARRY_MASK, CARRY_SHIFT, CFG_CI, CFG_CU, CFG_DCB, CFG_DETECT,
    CFG_HYST, CFG_K, CFG_MAXF, CFG_MINC, CFG_MINF, CFG_RMASK, CFG_STRIDE, NACC, ST_ARMED,
    ST_CLOSE, ST_COUNT, ST_FA, ST_FB, ST_FPOS, ST_LA, ST_LB, ST_LPOS, ST_W, ST_WPOS)

_HI = ACC + NACC
_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1


def _fold(st, n, v):
    # Move the carries of a chunk into the hi word; what stays is in [0, 2**29).
    st[_HI + n] += v >> CARRY_SHIFT
    return v & CARRY_MASK


def phase_pass(buf, st, ring, start, stop):
    """Accumulate frames [start, stop) of `buf` for the phase described by `st`.

    With CFG_DETECT set the pass also tracks positive-going U zero crossings and stops where
    the window closes (ST_CLOSE != 0). Returns the frame index where it stopped.
    """
    stride = st[CFG_STRIDE]
    rm = st[CFG_RMASK]
    k = st[CFG_K]
    det = st[CFG_DETECT]
    dcb = st[CFG_DCB]
    nhyst = 0 - st[CFG_HYST]
    minf = st[CFG_MINF]
    minc = st[CFG_MINC]
    w = st[ST_W]
    armed = st[ST_ARMED]
    wpos = st[ST_WPOS]
    cnt = st[ST_COUNT]
    lpos = st[ST_LPOS]
    close = 0
    if det:
        room = st[CFG_MAXF] - wpos
        if stop - start > room:
            stop = start + room
    su = st[ACC + A_SU]
    si = st[ACC + A_SI]
    uuh = st[ACC + A_UUH]
    uum = st[ACC + A_UUM]
    uul = st[ACC + A_UUL]
    iih = st[ACC + A_IIH]
    iim = st[ACC + A_IIM]
    iil = st[ACC + A_IIL]
    p0h = st[ACC + A_P0H]
    p0m = st[ACC + A_P0M]
    p0l = st[ACC + A_P0L]
    qkh = st[ACC + A_QKH]
    qkm = st[ACC + A_QKM]
    qkl = st[ACC + A_QKL]
    q1h = st[ACC + A_Q1H]
    q1m = st[ACC + A_Q1M]
    q1l = st[ACC + A_Q1L]
    b = ring[(w - k - 1) & rm]
    k1h = (b >> 12) - 2048
    k1l = b & 4095
    j = start
    iu = start * stride + st[CFG_CU]
    ii = start * stride + st[CFG_CI]
    while j < stop:
        cend = j + 64
        if cend > stop:
            cend = stop
        while j < cend:
            ub = (buf[iu] & 0xFFFFFF) ^ 0x800000
            if det:
                x = ub - dcb
                if armed:
                    if x >= 0:
                        armed = 0
                        pos = wpos + j - start
                        if cnt == 0 or pos - lpos >= minc:
                            a = ring[(w - 1) & rm] - dcb
                            cnt += 1
                            if cnt == 1:
                                st[ST_FPOS] = pos
                                st[ST_FA] = a
                                st[ST_FB] = x
                            lpos = pos
                            st[ST_LA] = a
                            st[ST_LB] = x
                            if pos >= minf:
                                close = 1
                                stop = j
                                break
                elif x < nhyst:
                    armed = 1
            ib = (buf[ii] & 0xFFFFFF) ^ 0x800000
            ring[w] = ub
            kb = ring[(w - k) & rm]
            w = (w + 1) & rm
            uh = (ub >> 12) - 2048
            ul = ub & 4095
            ih = (ib >> 12) - 2048
            il = ib & 4095
            kh = (kb >> 12) - 2048
            kl = kb & 4095
            su = ub + su
            si = ib + si
            uuh = uh * uh + uuh
            uum = uh * ul + uum
            uul = ul * ul + uul
            iih = ih * ih + iih
            iim = ih * il + iim
            iil = il * il + iil
            p0h = uh * ih + p0h
            p0m = uh * il + ul * ih + p0m
            p0l = ul * il + p0l
            qkh = kh * ih + qkh
            qkm = kh * il + kl * ih + qkm
            qkl = kl * il + qkl
            q1h = k1h * ih + q1h
            q1m = k1h * il + k1l * ih + q1m
            q1l = k1l * il + q1l
            k1h = kh
            k1l = kl
            j += 1
            iu += stride
            ii += stride
        su = _fold(st, A_SU, su)
        si = _fold(st, A_SI, si)
        uuh = _fold(st, A_UUH, uuh)
        uum = _fold(st, A_UUM, uum)
        uul = _fold(st, A_UUL, uul)
        iih = _fold(st, A_IIH, iih)
        iim = _fold(st, A_IIM, iim)
        iil = _fold(st, A_IIL, iil)
        p0h = _fold(st, A_P0H, p0h)
        p0m = _fold(st, A_P0M, p0m)
        p0l = _fold(st, A_P0L, p0l)
        qkh = _fold(st, A_QKH, qkh)
        qkm = _fold(st, A_QKM, qkm)
        qkl = _fold(st, A_QKL, qkl)
        q1h = _fold(st, A_Q1H, q1h)
        q1m = _fold(st, A_Q1M, q1m)
        q1l = _fold(st, A_Q1L, q1l)
    st[ACC + A_SU] = su
    st[ACC + A_SI] = si
    st[ACC + A_UUH] = uuh
    st[ACC + A_UUM] = uum
    st[ACC + A_UUL] = uul
    st[ACC + A_IIH] = iih
    st[ACC + A_IIM] = iim
    st[ACC + A_IIL] = iil
    st[ACC + A_P0H] = p0h
    st[ACC + A_P0M] = p0m
    st[ACC + A_P0L] = p0l
    st[ACC + A_QKH] = qkh
    st[ACC + A_QKM] = qkm
    st[ACC + A_QKL] = qkl
    st[ACC + A_Q1H] = q1h
    st[ACC + A_Q1M] = q1m
    st[ACC + A_Q1L] = q1l
    wpos += j - start
    if det and close == 0 and wpos >= st[CFG_MAXF]:
        close = 2
    st[ST_W] = w
    st[ST_ARMED] = armed
    st[ST_WPOS] = wpos
    st[ST_COUNT] = cnt
    st[ST_LPOS] = lpos
    st[ST_CLOSE] = close
    return j


def rms_pass(buf, st, start, stop):
    """Accumulate the sum and the square sum of channel CFG_CI over frames [start, stop)."""
    stride = st[CFG_STRIDE]
    si = st[ACC + A_SI]
    iih = st[ACC + A_IIH]
    iim = st[ACC + A_IIM]
    iil = st[ACC + A_IIL]
    j = start
    ii = start * stride + st[CFG_CI]
    while j < stop:
        cend = j + 64
        if cend > stop:
            cend = stop
        while j < cend:
            ib = (buf[ii] & 0xFFFFFF) ^ 0x800000
            ih = (ib >> 12) - 2048
            il = ib & 4095
            si = ib + si
            iih = ih * ih + iih
            iim = ih * il + iim
            iil = il * il + iil
            j += 1
            ii += stride
        si = _fold(st, A_SI, si)
        iih = _fold(st, A_IIH, iih)
        iim = _fold(st, A_IIM, iim)
        iil = _fold(st, A_IIL, iil)
    st[ACC + A_SI] = si
    st[ACC + A_IIH] = iih
    st[ACC + A_IIM] = iim
    st[ACC + A_IIL] = iil
    st[ST_WPOS] += stop - start
    return stop


class Checked(int):
    """An int whose arithmetic raises OverflowError when a result leaves the int32 range."""

    def __add__(self, other):
        return _fit(int.__add__(self, other))

    __radd__ = __add__

    def __sub__(self, other):
        return _fit(int(self) - int(other))

    def __rsub__(self, other):
        return _fit(int(other) - int(self))

    def __mul__(self, other):
        return _fit(int.__mul__(self, other))

    __rmul__ = __mul__

    def __rshift__(self, other):
        return _fit(int(self) >> int(other))

    def __and__(self, other):
        return _fit(int.__and__(self, other))

    __rand__ = __and__

    def __xor__(self, other):
        return _fit(int.__xor__(self, other))

    __rxor__ = __xor__


def _fit(v):
    if v < _INT32_MIN or v > _INT32_MAX:
        raise OverflowError("int32 overflow: %d" % v)
    return Checked(v)


def checked(values):
    """A list of Checked ints: pass it instead of an array to run the reference in checked mode."""
    return [_fit(int(v)) for v in values]
