"""Viper sampling kernel: per-sample sums over whole mains cycles, safe on 32-bit machine words.

Same functions, state and results as `measure/kernel_ref.py` (the algorithm is documented
there and in docs/measurement.md; the state layout in `measure/layout.py`). Every value held in
a viper `int` stays inside int32 for any input word: codes are folded to 24 bits, products are
split into partial sums of less than 2**24 per frame and carried into the hi words every 64
frames. No allocation: the passes only read and write the arrays they are given.
Accumulators are written `acc = term + acc`, which the viper emitter compiles to fewer
instructions than `acc += term`.

On CPython (tests) this module exports the reference passes instead.
"""
try:
    import micropython
    from micropython import const
except ImportError:
    micropython = None

if micropython is None:
    from measure.kernel_ref import phase_pass, rms_pass  # noqa: F401
else:
    # Indices of measure/layout.py, repeated here because viper needs them as literals.
    _CFG_STRIDE = const(0)
    _CFG_CU = const(1)
    _CFG_CI = const(2)
    _CFG_RMASK = const(3)
    _CFG_K = const(4)
    _CFG_DETECT = const(5)
    _CFG_DCB = const(6)
    _CFG_HYST = const(7)
    _CFG_MINF = const(8)
    _CFG_MAXF = const(9)
    _CFG_MINC = const(10)
    _ST_W = const(11)
    _ST_ARMED = const(12)
    _ST_WPOS = const(13)
    _ST_COUNT = const(14)
    _ST_FPOS = const(15)
    _ST_FA = const(16)
    _ST_FB = const(17)
    _ST_LPOS = const(18)
    _ST_LA = const(19)
    _ST_LB = const(20)
    _ST_CLOSE = const(21)
    # lo words of the accumulators (ACC + n); the hi words follow at + _H.
    _SU = const(22)
    _SI = const(23)
    _UUH = const(24)
    _UUM = const(25)
    _UUL = const(26)
    _IIH = const(27)
    _IIM = const(28)
    _IIL = const(29)
    _P0H = const(30)
    _P0M = const(31)
    _P0L = const(32)
    _QKH = const(33)
    _QKM = const(34)
    _QKL = const(35)
    _Q1H = const(36)
    _Q1M = const(37)
    _Q1L = const(38)
    _H = const(17)

    @micropython.viper
    def phase_pass(buf: ptr32, st: ptr32, ring: ptr32, start: int, stop: int) -> int:
        """Accumulate frames [start, stop) for one phase; see kernel_ref.phase_pass."""
        stride = st[_CFG_STRIDE]
        rm = st[_CFG_RMASK]
        k = st[_CFG_K]
        det = st[_CFG_DETECT]
        dcb = st[_CFG_DCB]
        nhyst = 0 - st[_CFG_HYST]
        minf = st[_CFG_MINF]
        minc = st[_CFG_MINC]
        w = st[_ST_W]
        armed = st[_ST_ARMED]
        wpos = st[_ST_WPOS]
        cnt = st[_ST_COUNT]
        lpos = st[_ST_LPOS]
        close = 0
        if det:
            room = st[_CFG_MAXF] - wpos
            if stop - start > room:
                stop = start + room
        su = st[_SU]
        si = st[_SI]
        uuh = st[_UUH]
        uum = st[_UUM]
        uul = st[_UUL]
        iih = st[_IIH]
        iim = st[_IIM]
        iil = st[_IIL]
        p0h = st[_P0H]
        p0m = st[_P0M]
        p0l = st[_P0L]
        qkh = st[_QKH]
        qkm = st[_QKM]
        qkl = st[_QKL]
        q1h = st[_Q1H]
        q1m = st[_Q1M]
        q1l = st[_Q1L]
        b = ring[(w - k - 1) & rm]
        k1h = (b >> 12) - 2048
        k1l = b & 4095
        j = start
        iu = start * stride + st[_CFG_CU]
        ii = start * stride + st[_CFG_CI]
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
                                    st[_ST_FPOS] = pos
                                    st[_ST_FA] = a
                                    st[_ST_FB] = x
                                lpos = pos
                                st[_ST_LA] = a
                                st[_ST_LB] = x
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
            st[_SU + _H] += su >> 29
            su &= 0x1FFFFFFF
            st[_SI + _H] += si >> 29
            si &= 0x1FFFFFFF
            st[_UUH + _H] += uuh >> 29
            uuh &= 0x1FFFFFFF
            st[_UUM + _H] += uum >> 29
            uum &= 0x1FFFFFFF
            st[_UUL + _H] += uul >> 29
            uul &= 0x1FFFFFFF
            st[_IIH + _H] += iih >> 29
            iih &= 0x1FFFFFFF
            st[_IIM + _H] += iim >> 29
            iim &= 0x1FFFFFFF
            st[_IIL + _H] += iil >> 29
            iil &= 0x1FFFFFFF
            st[_P0H + _H] += p0h >> 29
            p0h &= 0x1FFFFFFF
            st[_P0M + _H] += p0m >> 29
            p0m &= 0x1FFFFFFF
            st[_P0L + _H] += p0l >> 29
            p0l &= 0x1FFFFFFF
            st[_QKH + _H] += qkh >> 29
            qkh &= 0x1FFFFFFF
            st[_QKM + _H] += qkm >> 29
            qkm &= 0x1FFFFFFF
            st[_QKL + _H] += qkl >> 29
            qkl &= 0x1FFFFFFF
            st[_Q1H + _H] += q1h >> 29
            q1h &= 0x1FFFFFFF
            st[_Q1M + _H] += q1m >> 29
            q1m &= 0x1FFFFFFF
            st[_Q1L + _H] += q1l >> 29
            q1l &= 0x1FFFFFFF
        st[_SU] = su
        st[_SI] = si
        st[_UUH] = uuh
        st[_UUM] = uum
        st[_UUL] = uul
        st[_IIH] = iih
        st[_IIM] = iim
        st[_IIL] = iil
        st[_P0H] = p0h
        st[_P0M] = p0m
        st[_P0L] = p0l
        st[_QKH] = qkh
        st[_QKM] = qkm
        st[_QKL] = qkl
        st[_Q1H] = q1h
        st[_Q1M] = q1m
        st[_Q1L] = q1l
        wpos += j - start
        if det and close == 0 and wpos >= st[_CFG_MAXF]:
            close = 2
        st[_ST_W] = w
        st[_ST_ARMED] = armed
        st[_ST_WPOS] = wpos
        st[_ST_COUNT] = cnt
        st[_ST_LPOS] = lpos
        st[_ST_CLOSE] = close
        return j

    @micropython.viper
    def rms_pass(buf: ptr32, st: ptr32, start: int, stop: int) -> int:
        """Accumulate sum and square sum of channel CFG_CI; see kernel_ref.rms_pass."""
        stride = st[_CFG_STRIDE]
        si = st[_SI]
        iih = st[_IIH]
        iim = st[_IIM]
        iil = st[_IIL]
        j = start
        ii = start * stride + st[_CFG_CI]
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
            st[_SI + _H] += si >> 29
            si &= 0x1FFFFFFF
            st[_IIH + _H] += iih >> 29
            iih &= 0x1FFFFFFF
            st[_IIM + _H] += iim >> 29
            iim &= 0x1FFFFFFF
            st[_IIL + _H] += iil >> 29
            iil &= 0x1FFFFFFF
        st[_SI] = si
        st[_IIH] = iih
        st[_IIM] = iim
        st[_IIL] = iil
        st[_ST_WPOS] += stop - start
        return stop
