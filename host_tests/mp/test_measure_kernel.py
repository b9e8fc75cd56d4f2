# The viper sampling kernel allocates nothing: a full 3-phase scan over several windows runs
# under micropython.heap_lock() (any allocation would raise MemoryError). The pure-Python
# reference, run by micropython too, ends in the same state.
import math
import micropython
from array import array

from measure import kernel, kernel_ref, layout

_FRAMES = 4000
_NCH = 7


def _block():
    buf = array("i", bytes(4 * _FRAMES * _NCH))
    w = 2 * math.pi * 50.3 / 4000
    for j in range(_FRAMES):
        for p in range(3):
            buf[j * _NCH + 2 * p] = int(5000000 * math.sin(w * j - 2.0944 * p))
            buf[j * _NCH + 2 * p + 1] = int(300000 * math.sin(w * j - 2.0944 * p - 0.5))
        buf[j * _NCH + 6] = 1000 - j
    return buf


def _states():
    sts = [layout.new_state(_NCH, 2 * p, 2 * p + 1, 32, 1 if p == 0 else 0) for p in range(3)]
    rings = [layout.new_ring(32) for _ in range(3)]
    stn = layout.new_state(_NCH, 0, _NCH - 1, 32)
    st0 = sts[0]
    st0[layout.CFG_HYST] = 1 << 17
    st0[layout.CFG_MINF] = 780
    st0[layout.CFG_MAXF] = 1000
    st0[layout.CFG_MINC] = 53
    for st in sts:
        st[layout.CFG_K] = 19
    return sts, rings, stn


def _scan(buf, sts, rings, stn, closes, kern=kernel):
    st0 = sts[0]
    start = 0
    while start < _FRAMES:
        end = kern.phase_pass(buf, st0, rings[0], start, _FRAMES)
        for p in range(1, 3):
            kern.phase_pass(buf, sts[p], rings[p], start, end)
        kern.rms_pass(buf, stn, start, end)
        if st0[layout.ST_CLOSE]:
            closes[0] += 1
            for st in sts:
                layout.reset_window(st)
            layout.reset_window(stn)
        start = end


def test_kernel_scan_does_not_allocate():
    buf = _block()
    sts, rings, stn = _states()
    closes = array("i", [0])
    view = memoryview(buf)
    micropython.heap_lock()
    try:
        _scan(buf, sts, rings, stn, closes)
        _scan(view, sts, rings, stn, closes)
    finally:
        micropython.heap_unlock()
    if closes[0] < 8:
        raise AssertionError("only %d windows closed" % closes[0])
    if sts[2][layout.ST_WPOS] == 0 or layout.total(sts[2], layout.A_UUH) == 0:
        raise AssertionError("phase 3 accumulated nothing")


def test_reference_matches_viper():
    buf = _block()
    out = []
    for kern in (kernel, kernel_ref):
        sts, rings, stn = _states()
        closes = array("i", [0])
        _scan(buf, sts, rings, stn, closes, kern)
        out.append([list(st) for st in sts] + [list(stn)] + [list(r) for r in rings])
    if out[0] != out[1]:
        raise AssertionError("reference and viper states differ")


def test_heap_lock_is_enforced():
    micropython.heap_lock()
    try:
        [0] * 10
    except MemoryError:
        return
    finally:
        micropython.heap_unlock()
    raise AssertionError("allocation under heap_lock did not fail")
